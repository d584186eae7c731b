//! VerificationService end to end against a real SMTP receiver: the test reads the link out of
//! the mail that arrived over TCP and completes each flow (reset, verification, magic link);
//! every kind of bad token gets a clear status and changes nothing; unknown addresses get the
//! same answer and no mail; a relay that is down delays the mail, not the answer; a token
//! requested on one replica works on another.

use std::time::Duration;

use keyward::{
    pb::{self, verification_service_client::VerificationServiceClient},
    service::outbox::OutboxEvent,
};
use sea_orm::{ConnectionTrait, Database};
use tonic::{Code, transport::Channel};

use crate::{
    common::{
        Backend, COOKIE, PASSWORD, TestServer, bearer, both_backends, from_page, get_session, grpc_web, login, reason,
        register, register_unverified, session_cookie_value, violations,
    },
    smtp_server::{ReceivedMail, SmtpServer},
};

pub(crate) const NEW_PASSWORD: &str = "quiet-harbor-tram-58";
pub(crate) const REDIRECT: &str = "https://app.example.com/auth/email";

both_backends!(
    password_reset_end_to_end,
    magic_link_signs_in_and_proves_the_address,
    verification_link_verifies_the_address,
    unknown_addresses_get_the_same_answer_and_no_mail,
    unknown_addresses_get_a_note_when_configured,
    bad_tokens_are_refused_and_change_nothing,
    a_relay_that_is_down_delays_the_mail_not_the_answer,
    a_token_from_one_replica_works_on_another,
    required_verification_refuses_password_sign_in_until_verified,
    email_change_moves_the_account_and_tells_the_old_address,
);

pub(crate) async fn server_with(backend: Backend, smtp: &SmtpServer) -> TestServer {
    TestServer::start_with(backend, |config| {
        config.email.smtp_url = Some(keyward::config::Secret::new(smtp.url()));
        config.email.retry_initial_secs = 1;
        config.email.retry_max_secs = 1;
        config.email.redirect_uris = vec![REDIRECT.into()];
        config.public_url = Some("https://id.example.com".into());
        config.rp_name = "Acme".into();
    })
    .await
}

pub(crate) async fn client(server: &TestServer) -> VerificationServiceClient<Channel> {
    VerificationServiceClient::connect(server.base_url()).await.unwrap()
}

/// The link in `mail` and its token.
pub(crate) fn link_of(mail: &ReceivedMail) -> (String, String) {
    let text = mail.text();
    let start = text.find("http").unwrap_or_else(|| panic!("no link in {text}"));
    let link: String = text[start..].chars().take_while(|c| !c.is_whitespace() && *c != '"' && *c != '<').collect();
    let token = url::Url::parse(&link)
        .unwrap()
        .query_pairs()
        .find(|(name, _)| name == "token")
        .map(|(_, value)| value.into_owned())
        .unwrap();
    (link, token)
}

/// Waits for mail number `n` (1-based) and returns it.
pub(crate) async fn mail_number(smtp: &SmtpServer, n: usize) -> ReceivedMail {
    smtp.wait_for(n).await[n - 1].clone()
}

pub(crate) async fn request_reset(client: &mut VerificationServiceClient<Channel>, email: &str) {
    client
        .request_password_reset(pb::RequestPasswordResetRequest { email: email.into(), redirect_uri: String::new() })
        .await
        .unwrap();
}

async fn reset(
    client: &mut VerificationServiceClient<Channel>,
    token: &str,
    password: &str,
) -> Result<i32, tonic::Status> {
    let request = pb::ResetPasswordRequest { token: token.into(), new_password: password.into(), ..Default::default() };
    Ok(client.reset_password(request).await?.into_inner().revoked_sessions)
}

async fn password_reset_end_to_end(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let server = server_with(backend, &smtp).await;
    let (mut auth, mut verification) = (server.auth().await, client(&server).await);
    let first = register(&mut auth, "ada@example.com").await;
    let second = login(&mut auth, "ada@example.com", PASSWORD).await.unwrap();

    request_reset(&mut verification, "Ada@Example.com").await;
    let mail = mail_number(&smtp, 1).await;
    assert_eq!(mail.to, ["ada@example.com"]);
    assert_eq!(mail.header("Subject").as_deref(), Some("Reset your Acme password"));
    let (link, token) = link_of(&mail);
    assert!(link.starts_with("https://id.example.com/signin?flow=reset-password&token="), "{link}");
    assert!(mail.text().contains("15 minutes"));

    // A password the policy refuses leaves the link usable.
    let weak = reset(&mut verification, &token, "short").await.unwrap_err();
    assert_eq!((weak.code(), reason(&weak).as_str()), (Code::InvalidArgument, "PASSWORD_TOO_SHORT"));
    assert_eq!(reset(&mut verification, &token, NEW_PASSWORD).await.unwrap(), 2, "every session ends");
    for ended in [&first.session_token, &second.session_token] {
        assert_eq!(get_session(&mut auth, ended).await.unwrap_err().code(), Code::Unauthenticated);
    }
    // Each ended session is in the session event feed (WatchSessionEvents), from the same
    // transaction as the reset.
    let start = keyward::domain::EventCursor::after_id(0);
    let feed = server.app.services().store().session_events_after(start, i64::MAX, 10).await.unwrap();
    let mut ended: Vec<_> = feed.iter().filter_map(|event| event.session_id.clone()).collect();
    let mut expected: Vec<_> = [&first, &second].iter().map(|s| s.session.as_ref().unwrap().id.clone()).collect();
    ended.sort();
    expected.sort();
    assert_eq!(ended, expected);
    assert!(login(&mut auth, "ada@example.com", PASSWORD).await.is_err(), "the old password is gone");
    login(&mut auth, "ada@example.com", NEW_PASSWORD).await.unwrap();

    let notice = mail_number(&smtp, 2).await;
    assert_eq!(notice.header("Subject").as_deref(), Some("Your Acme password was changed"));
    assert_eq!(notice.to, ["ada@example.com"]);

    let reused = reset(&mut verification, &token, "another-fine-password-77").await.unwrap_err();
    assert_eq!(reason(&reused), "VERIFICATION_TOKEN_INVALID", "single use");
    login(&mut auth, "ada@example.com", NEW_PASSWORD).await.unwrap();

    // A newer request replaces the older link.
    request_reset(&mut verification, "ada@example.com").await;
    let (_, older) = link_of(&mail_number(&smtp, 3).await);
    request_reset(&mut verification, "ada@example.com").await;
    let (_, newer) = link_of(&mail_number(&smtp, 4).await);
    assert_eq!(reason(&reset(&mut verification, &older, PASSWORD).await.unwrap_err()), "VERIFICATION_TOKEN_INVALID");
    reset(&mut verification, &newer, PASSWORD).await.unwrap();
    server.stop().await;
}

async fn magic_link_signs_in_and_proves_the_address(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let server = server_with(backend, &smtp).await;
    let (mut auth, mut verification) = (server.auth().await, client(&server).await);
    register(&mut auth, "grace@example.com").await;
    let send =
        |redirect: &str| pb::SendMagicLinkRequest { email: "grace@example.com".into(), redirect_uri: redirect.into() };

    verification.send_magic_link(send(REDIRECT)).await.unwrap();
    let mail = mail_number(&smtp, 1).await;
    assert_eq!(mail.header("Subject").as_deref(), Some("Sign in to Acme"));
    let (link, token) = link_of(&mail);
    assert!(link.starts_with(&format!("{REDIRECT}?flow=magic-link&token=")), "{link}");
    let signed_in = verification
        .sign_in_with_magic_link(pb::SignInWithMagicLinkRequest { token: token.clone(), ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .signed_in
        .unwrap();
    let me = get_session(&mut auth, &signed_in.session_token).await.unwrap();
    assert!(me.user.unwrap().email_verify_time.is_some(), "the link proved the address");
    assert!(signed_in.access_token.is_some());
    let reused = verification
        .sign_in_with_magic_link(pb::SignInWithMagicLinkRequest { token, ..Default::default() })
        .await
        .unwrap_err();
    assert_eq!(reason(&reused), "VERIFICATION_TOKEN_INVALID");

    // From a browser over grpc-web: the cookie carries the session, as with Login.
    verification.send_magic_link(send("")).await.unwrap();
    let (link, token) = link_of(&mail_number(&smtp, 2).await);
    assert!(link.starts_with("https://id.example.com/signin?flow=magic-link&token="), "{link}");
    let (transport, uri) = grpc_web(&server);
    let mut web = VerificationServiceClient::with_origin(transport, uri);
    let response = web
        .sign_in_with_magic_link(from_page(
            pb::SignInWithMagicLinkRequest { token, ..Default::default() },
            &server.base_url(),
            None,
        ))
        .await
        .unwrap();
    let cookie = session_cookie_value(&response);
    assert!(!cookie.is_empty(), "{COOKIE} set");
    assert!(response.into_inner().signed_in.unwrap().session_token.is_empty(), "the body holds no token");
    get_session(&mut auth, &cookie).await.unwrap();

    let refused = verification.send_magic_link(send("https://evil.example.com/")).await.unwrap_err();
    assert_eq!(reason(&refused), "REDIRECT_URI_NOT_ALLOWED");
    assert!(violations(&refused).contains_key("redirect_uri"));
    server.stop().await;
}

async fn verification_link_verifies_the_address(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let server = server_with(backend, &smtp).await;
    let (mut auth, mut verification) = (server.auth().await, client(&server).await);
    let me = register(&mut auth, "alan@example.com").await;
    assert!(me.user.as_ref().unwrap().email_verify_time.is_none());
    verification
        .send_verification_email(bearer(pb::SendVerificationEmailRequest::default(), &me.session_token))
        .await
        .unwrap();
    let mail = mail_number(&smtp, 1).await;
    assert_eq!(mail.header("Subject").as_deref(), Some("Confirm your email address for Acme"));
    assert!(mail.text().contains("24 hours"));
    let (_, token) = link_of(&mail);
    let user = verification
        .verify_email(pb::VerifyEmailRequest { token, ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    assert!(user.email_verify_time.is_some());
    let session = get_session(&mut auth, &me.session_token).await.unwrap();
    assert!(session.user.unwrap().email_verify_time.is_some(), "GetSession sees it at once");
    server.stop().await;
}

async fn unknown_addresses_get_the_same_answer_and_no_mail(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let server = server_with(backend, &smtp).await;
    let mut verification = client(&server).await;
    let mut events = server.app.services().outbox().subscribe();
    let store = server.app.services().store().clone();
    let before = store.row_counts().await.unwrap();
    request_reset(&mut verification, "nobody@example.com").await;
    verification
        .send_magic_link(pb::SendMagicLinkRequest { email: "nobody@example.com".into(), redirect_uri: String::new() })
        .await
        .unwrap();
    for _ in 0..2 {
        let event = tokio::time::timeout(Duration::from_secs(30), events.recv()).await.unwrap().unwrap();
        assert_eq!(event, OutboxEvent::LinkRequestHandled { queued: false });
    }
    assert_eq!(store.row_counts().await.unwrap(), before, "no token, no mail");
    assert!(smtp.mails().is_empty());
    server.stop().await;
}

async fn unknown_addresses_get_a_note_when_configured(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let server = TestServer::start_with(backend, |config| {
        config.email.smtp_url = Some(keyward::config::Secret::new(smtp.url()));
        config.email.notify_unknown_addresses = true;
        config.rp_name = "Acme".into();
    })
    .await;
    let (mut auth, mut verification) = (server.auth().await, client(&server).await);
    register(&mut auth, "ada@example.com").await;
    let store = server.app.services().store().clone();
    let tokens_before = store.row_counts().await.unwrap().verification_tokens;
    // The same (empty) answer for both addresses.
    request_reset(&mut verification, "nobody@example.com").await;
    let magic = pb::SendMagicLinkRequest { email: "nobody@example.com".into(), redirect_uri: String::new() };
    let answer = verification.send_magic_link(magic).await.unwrap().into_inner();
    assert_eq!(answer, pb::SendMagicLinkResponse {});
    let mails = smtp.wait_for(2).await;
    assert!(mails.iter().all(|m| m.to == ["nobody@example.com"]));
    let reset_note = mails.iter().find(|m| m.text().contains("reset the password")).unwrap();
    assert_eq!(reset_note.header("Subject").as_deref(), Some("Someone tried to use this address with Acme"));
    assert!(reset_note.text().contains("there is no Acme account"), "{}", reset_note.text());
    assert!(mails.iter().all(|m| !m.text().contains("http")), "a note carries no link");
    assert!(mails.iter().any(|m| m.text().contains("sign-in link")));
    assert_eq!(store.row_counts().await.unwrap().verification_tokens, tokens_before, "no token for a note");
    // A known address still gets its link.
    request_reset(&mut verification, "ada@example.com").await;
    let (link, _) = link_of(&mail_number(&smtp, 3).await);
    assert!(link.contains("flow=reset-password"), "{link}");
    server.stop().await;
}

async fn bad_tokens_are_refused_and_change_nothing(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let server = server_with(backend, &smtp).await;
    let (mut auth, mut verification) = (server.auth().await, client(&server).await);
    let mut events = server.app.services().outbox().subscribe();
    register(&mut auth, "ada@example.com").await;
    verification
        .send_magic_link(pb::SendMagicLinkRequest { email: "ada@example.com".into(), redirect_uri: String::new() })
        .await
        .unwrap();
    let (_, magic) = link_of(&mail_number(&smtp, 1).await);
    request_reset(&mut verification, "ada@example.com").await;
    let (_, reset_token) = link_of(&mail_number(&smtp, 2).await);
    // Both mails are out of the outbox before the rows are counted.
    let mut delivered = 0;
    while delivered < 2 {
        let event = tokio::time::timeout(Duration::from_secs(30), events.recv()).await.unwrap().unwrap();
        delivered += usize::from(matches!(event, OutboxEvent::Delivered { .. }));
    }
    let store = server.app.services().store().clone();
    let before = store.row_counts().await.unwrap();

    let mut tampered = magic.clone().into_bytes();
    tampered[10] = if tampered[10] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let cases: &[(&str, &str, &str)] = &[
        ("empty", "", "FIELD_REQUIRED"),
        ("garbage", "not a token at all", "VERIFICATION_TOKEN_INVALID"),
        ("oversized", &"A".repeat(10_000), "FIELD_TOO_LONG"),
        ("unknown", &"A".repeat(43), "VERIFICATION_TOKEN_INVALID"),
        ("tampered", &tampered, "VERIFICATION_TOKEN_INVALID"),
    ];
    for (kind, token, expected) in cases {
        let statuses = [
            reset(&mut verification, token, NEW_PASSWORD).await.unwrap_err(),
            verification
                .verify_email(pb::VerifyEmailRequest { token: token.to_string(), ..Default::default() })
                .await
                .unwrap_err(),
            verification
                .sign_in_with_magic_link(pb::SignInWithMagicLinkRequest {
                    token: token.to_string(),
                    ..Default::default()
                })
                .await
                .unwrap_err(),
        ];
        for status in statuses {
            assert_eq!((status.code(), reason(&status).as_str()), (Code::InvalidArgument, *expected), "{kind}");
            assert!(violations(&status).contains_key("token"), "{kind}: {status:?}");
        }
    }
    // Wrong purpose: a magic-link token does not reset or verify, a reset token does not sign in.
    assert_eq!(
        reason(&reset(&mut verification, &magic, NEW_PASSWORD).await.unwrap_err()),
        "VERIFICATION_TOKEN_INVALID"
    );
    let verify = verification
        .verify_email(pb::VerifyEmailRequest { token: magic.clone(), ..Default::default() })
        .await
        .unwrap_err();
    assert_eq!(reason(&verify), "VERIFICATION_TOKEN_INVALID");
    let sign_in = verification
        .sign_in_with_magic_link(pb::SignInWithMagicLinkRequest { token: reset_token.clone(), ..Default::default() })
        .await
        .unwrap_err();
    assert_eq!(reason(&sign_in), "VERIFICATION_TOKEN_INVALID");
    assert_eq!(store.row_counts().await.unwrap(), before, "no bad token changed anything");
    assert!(login(&mut auth, "ada@example.com", PASSWORD).await.is_ok());
    let invalid_email = verification
        .send_magic_link(pb::SendMagicLinkRequest { email: "not-an-address".into(), redirect_uri: String::new() })
        .await
        .unwrap_err();
    assert_eq!(reason(&invalid_email), "INVALID_EMAIL");

    // Expired: the clock moves past the magic link's 10 minutes (the reset's 15 are not over).
    server.clock.advance(Duration::from_secs(11 * 60));
    let expired = verification
        .sign_in_with_magic_link(pb::SignInWithMagicLinkRequest { token: magic, ..Default::default() })
        .await
        .unwrap_err();
    assert_eq!(reason(&expired), "VERIFICATION_TOKEN_EXPIRED");

    // The address changed since the link was sent: refused.
    let db = Database::connect(&server.db.url).await.unwrap();
    db.execute_unprepared("UPDATE users SET email = 'ada.new@example.com' WHERE email = 'ada@example.com'")
        .await
        .unwrap();
    db.close().await.unwrap();
    assert_eq!(
        reason(&reset(&mut verification, &reset_token, NEW_PASSWORD).await.unwrap_err()),
        "VERIFICATION_TOKEN_INVALID"
    );
    assert!(login(&mut auth, "ada.new@example.com", PASSWORD).await.is_ok(), "the password did not change");
    server.stop().await;
}

async fn a_relay_that_is_down_delays_the_mail_not_the_answer(backend: Backend) {
    let smtp = SmtpServer::start().await;
    smtp.set_refusing(true);
    let server = server_with(backend, &smtp).await;
    let services = server.app.services().clone();
    let mut events = services.outbox().subscribe();
    let (mut auth, mut verification) = (server.auth().await, client(&server).await);
    register(&mut auth, "ada@example.com").await;
    request_reset(&mut verification, "ada@example.com").await;
    loop {
        match tokio::time::timeout(Duration::from_secs(30), events.recv()).await.unwrap().unwrap() {
            OutboxEvent::WillRetry { .. } => break,
            OutboxEvent::LinkRequestHandled { queued } => assert!(queued),
            other => panic!("unexpected {other:?}"),
        }
    }
    smtp.set_refusing(false);
    server.clock.advance(Duration::from_secs(2));
    services.outbox().wake();
    let (_, token) = link_of(&mail_number(&smtp, 1).await);
    reset(&mut verification, &token, NEW_PASSWORD).await.unwrap();
    server.stop().await;
}

async fn a_token_from_one_replica_works_on_another(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let server = server_with(backend, &smtp).await;
    let replica = server.start_replica().await;
    let mut auth = server.auth().await;
    register(&mut auth, "ada@example.com").await;
    request_reset(&mut client(&server).await, "ada@example.com").await;
    let (_, token) = link_of(&mail_number(&smtp, 1).await);
    let mut other = VerificationServiceClient::connect(format!("http://{}", replica.local_addr())).await.unwrap();
    reset(&mut other, &token, NEW_PASSWORD).await.unwrap();
    let again = reset(&mut client(&server).await, &token, PASSWORD).await.unwrap_err();
    assert_eq!(reason(&again), "VERIFICATION_TOKEN_INVALID", "used once, across replicas");
    login(&mut auth, "ada@example.com", NEW_PASSWORD).await.unwrap();
    // The notice went out once, from whichever replica claimed it.
    assert_eq!(smtp.wait_for(2).await.len(), 2);
    replica.shutdown().await.unwrap();
    server.stop().await;
}

async fn required_verification_refuses_password_sign_in_until_verified(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let server = TestServer::start_with(backend, |config| {
        config.email.smtp_url = Some(keyward::config::Secret::new(smtp.url()));
        config.require_email_verification = true;
    })
    .await;
    let (mut auth, mut verification) = (server.auth().await, client(&server).await);
    register_unverified(&mut auth, "ada@example.com").await;
    let first = link_of(&mail_number(&smtp, 1).await).0;
    assert!(first.contains("flow=verify-email"), "Register mailed the verification link: {first}");
    let wrong = login(&mut auth, "ada@example.com", NEW_PASSWORD).await.unwrap_err();
    assert_eq!(reason(&wrong), "INVALID_CREDENTIALS", "a wrong password says nothing about verification");
    assert_eq!(smtp.mails().len(), 1, "and mails nothing");

    let sessions_before = server.app.services().store().row_counts().await.unwrap().sessions;
    let refused = login(&mut auth, "ada@example.com", PASSWORD).await.unwrap_err();
    assert_eq!((refused.code(), reason(&refused).as_str()), (Code::FailedPrecondition, "EMAIL_NOT_VERIFIED"));
    assert_eq!(server.app.services().store().row_counts().await.unwrap().sessions, sessions_before, "no session");
    let mail = mail_number(&smtp, 2).await;
    let (link, token) = link_of(&mail);
    assert!(link.contains("flow=verify-email"), "{link}");
    verification.verify_email(pb::VerifyEmailRequest { token, ..Default::default() }).await.unwrap();
    login(&mut auth, "ada@example.com", PASSWORD).await.unwrap();
    server.stop().await;
}

async fn email_change_moves_the_account_and_tells_the_old_address(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let server = server_with(backend, &smtp).await;
    let (mut auth, mut verification) = (server.auth().await, client(&server).await);
    let me = register(&mut auth, "ada@example.com").await;
    register(&mut auth, "taken@example.com").await;
    // A reset link for the old address, outstanding while the address changes.
    request_reset(&mut verification, "ada@example.com").await;
    let (_, reset_token) = link_of(&mail_number(&smtp, 1).await);
    let change = |new_email: &str| {
        bearer(
            pb::RequestEmailChangeRequest { new_email: new_email.into(), redirect_uri: String::new() },
            &me.session_token,
        )
    };

    // An address another account has: the same answer, no mail.
    verification.request_email_change(change("taken@example.com")).await.unwrap();
    let bad = verification.request_email_change(change("not-an-address")).await.unwrap_err();
    assert_eq!(reason(&bad), "INVALID_EMAIL");
    assert!(violations(&bad).contains_key("new_email"));

    verification.request_email_change(change("ada.new@example.com")).await.unwrap();
    let mails = smtp.wait_for(3).await;
    assert_eq!(mails.len(), 3, "the taken address got nothing");
    let link_mail = mails.iter().find(|m| m.to == ["ada.new@example.com"]).unwrap();
    let notice =
        mails.iter().find(|m| m.to == ["ada@example.com"] && m.header("Subject").unwrap().contains("change")).unwrap();
    assert!(notice.text().contains("ada.new@example.com"), "the old address is told where to");
    let (link, token) = link_of(link_mail);
    assert!(link.contains("flow=change-email"), "{link}");
    assert!(login(&mut auth, "ada.new@example.com", PASSWORD).await.is_err(), "nothing changes before the link");

    let user = verification
        .confirm_email_change(pb::ConfirmEmailChangeRequest { token: token.clone(), ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    assert_eq!(user.email, "ada.new@example.com");
    assert!(user.email_verify_time.is_some(), "the new address is proved");
    login(&mut auth, "ada.new@example.com", PASSWORD).await.unwrap();
    assert!(login(&mut auth, "ada@example.com", PASSWORD).await.is_err());
    let again = verification
        .confirm_email_change(pb::ConfirmEmailChangeRequest { token, ..Default::default() })
        .await
        .unwrap_err();
    assert_eq!(reason(&again), "VERIFICATION_TOKEN_INVALID");
    // The reset link mailed to the old address no longer works.
    let stale = reset(&mut verification, &reset_token, NEW_PASSWORD).await.unwrap_err();
    assert_eq!(reason(&stale), "VERIFICATION_TOKEN_INVALID", "the address changed since");

    // A stale session may not ask (a factor change).
    server.clock.advance(Duration::from_secs(3600));
    let fresh = login(&mut auth, "ada.new@example.com", PASSWORD).await.unwrap();
    server.clock.advance(Duration::from_secs(3600));
    let stale_request = bearer(
        pb::RequestEmailChangeRequest { new_email: "ada.third@example.com".into(), redirect_uri: String::new() },
        &fresh.session_token,
    );
    let refused = verification.request_email_change(stale_request).await.unwrap_err();
    assert_eq!(reason(&refused), "REAUTHENTICATION_REQUIRED");
    server.stop().await;
}
