//! Magic links as login CSRF, over grpc-web as a browser sends them: an attacker's link for their
//! own account, opened where the victim is signed in, is refused (FAILED_PRECONDITION /
//! SIGNED_IN_AS_ANOTHER_USER, naming the link's address) with nothing used up and nothing
//! changed — the victim stays signed in, no session or cookie is made, the link and its code
//! still work. The victim's own link, or any link where nobody (or only a stale cookie) is
//! signed in, works as before; after signing out on purpose, the same link signs in.

use keyward::pb::{self, verification_service_client::VerificationServiceClient};
use tonic::{Code, Status};
use tonic_types::StatusExt;

use crate::{
    common::{
        Backend, GrpcWeb, TestServer, both_backends, from_page, get_session, grpc_web, grpc_web_auth, reason, register,
        session_cookie_value,
    },
    smtp_server::SmtpServer,
    verification::{REDIRECT, client, link_of, mail_number},
};

both_backends!(a_link_for_another_account_asks_before_it_signs_in);

fn web_client(server: &TestServer) -> VerificationServiceClient<GrpcWeb> {
    let (transport, uri) = grpc_web(server);
    VerificationServiceClient::with_origin(transport, uri)
}

/// The six-digit code in a link mail.
fn code_of(text: &str) -> String {
    let at = text.find("code in the app: ").unwrap_or_else(|| panic!("no code in {text}")) + "code in the app: ".len();
    text[at..at + 6].to_owned()
}

fn assert_asks_first(refused: &Status, link_email: &str) {
    assert_eq!((refused.code(), reason(refused).as_str()), (Code::FailedPrecondition, "SIGNED_IN_AS_ANOTHER_USER"));
    let info = refused.get_details_error_info().unwrap();
    assert_eq!(info.metadata["email"], link_email, "the answer names the link's account");
    assert!(refused.metadata().get("set-cookie").is_none(), "no cookie set or cleared");
}

async fn a_link_for_another_account_asks_before_it_signs_in(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let server = TestServer::start_with(backend, |config| {
        config.email.smtp_url = Some(keyward::config::Secret::new(smtp.url()));
        config.email.redirect_uris = vec![REDIRECT.into()];
        config.public_url = Some("https://id.example.com".into());
    })
    .await;
    let (mut auth, mut verification) = (server.auth().await, client(&server).await);
    let page = server.base_url();
    let victim = register(&mut auth, "victim@example.com").await;
    register(&mut auth, "mallory@example.com").await;
    let store = server.app.services().store().clone();

    // The attacker's own link (and its code), opened in the victim's signed-in browser.
    let send = |email: &str| pb::SendMagicLinkRequest { email: email.into(), redirect_uri: String::new() };
    verification.send_magic_link(send("mallory@example.com")).await.unwrap();
    let mail = mail_number(&smtp, 1).await;
    let (_, token) = link_of(&mail);
    let code = code_of(&mail.text());
    let mut web = web_client(&server);
    let before = store.row_counts().await.unwrap();
    let by_token = pb::SignInWithMagicLinkRequest { token: token.clone(), ..Default::default() };
    let refused = web.sign_in_with_magic_link(from_page(by_token.clone(), &page, Some(&victim.session_token))).await;
    assert_asks_first(&refused.unwrap_err(), "mallory@example.com");
    let by_code = pb::SignInWithMagicLinkRequest {
        email: "mallory@example.com".into(),
        code: code.clone(),
        ..Default::default()
    };
    let refused = web.sign_in_with_magic_link(from_page(by_code, &page, Some(&victim.session_token))).await;
    assert_asks_first(&refused.unwrap_err(), "mallory@example.com");
    assert_eq!(store.row_counts().await.unwrap(), before, "nothing used up, nothing written");
    let me = get_session(&mut auth, &victim.session_token).await.unwrap();
    assert_eq!(me.user.unwrap().email, "victim@example.com", "the victim is still signed in as themselves");

    // The victim's own link in their own browser: no question.
    verification.send_magic_link(send("victim@example.com")).await.unwrap();
    let (_, own) = link_of(&mail_number(&smtp, 2).await);
    let own = pb::SignInWithMagicLinkRequest { token: own, ..Default::default() };
    let again = web.sign_in_with_magic_link(from_page(own, &page, Some(&victim.session_token))).await.unwrap();
    assert_eq!(again.into_inner().signed_in.unwrap().user.unwrap().email, "victim@example.com");

    // The victim chose to switch: signed out (the cookie is cleared), the same link signs in.
    let fresh = crate::common::login(&mut auth, "victim@example.com", crate::common::PASSWORD).await.unwrap();
    let mut web_auth = grpc_web_auth(&server);
    web_auth.logout(from_page(pb::LogoutRequest {}, &page, Some(&fresh.session_token))).await.unwrap();
    // A stale cookie (that signed-out session) no longer counts as anyone being signed in.
    let switched = web.sign_in_with_magic_link(from_page(by_token, &page, Some(&fresh.session_token))).await.unwrap();
    assert!(!session_cookie_value(&switched).is_empty(), "signed in, with a cookie");
    assert_eq!(switched.into_inner().signed_in.unwrap().user.unwrap().email, "mallory@example.com");
    server.stop().await;
}
