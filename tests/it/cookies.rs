//! The session cookie: `__Host-` by default, so a cookie tossed from a sibling subdomain is not
//! even looked at; with several session cookies the first valid one wins (an invalid one never
//! shadows it); a browser's sign-in answer keeps the token out of the body unless configured.

use keyward::pb;

use crate::common::{
    Backend, COOKIE, PASSWORD, TestServer, both_backends, from_page, grpc_web_auth, reason, register,
    session_cookie_value,
};

both_backends!(
    tossed_and_invalid_cookies_neither_lock_out_nor_swap_accounts,
    browser_sign_ins_keep_the_token_in_the_cookie,
    a_shared_cookie_domain_uses_the_secure_prefix
);

fn with_cookies<T>(message: T, origin: &str, cookies: &str) -> tonic::Request<T> {
    let mut request = from_page(message, origin, None);
    request.metadata_mut().insert("cookie", cookies.parse().unwrap());
    request
}

async fn tossed_and_invalid_cookies_neither_lock_out_nor_swap_accounts(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut auth = server.auth().await;
    let victim = register(&mut auth, "victim@example.com").await.session_token;
    let attacker = register(&mut auth, "attacker@example.com").await.session_token;
    let origin = server.base_url();
    let mut web = grpc_web_auth(&server);
    let who = |cookies: String| with_cookies(pb::GetSessionRequest::default(), &origin, &cookies);

    // A sibling subdomain can set `keyward_session` (or any cookie without the __Host- prefix)
    // for the parent domain; it is not the session cookie and is ignored.
    let err = web.get_session(who(format!("keyward_session={attacker}"))).await.unwrap_err();
    assert_eq!(reason(&err), "NOT_SIGNED_IN");
    let seen = web.get_session(who(format!("keyward_session={attacker}; {COOKIE}={victim}"))).await.unwrap();
    assert_eq!(seen.into_inner().user.unwrap().email, "victim@example.com");

    // Several session cookies: an invalid one first does not lock the user out.
    let seen = web.get_session(who(format!("{COOKIE}={}; {COOKIE}={victim}", "A".repeat(43)))).await.unwrap();
    assert_eq!(seen.into_inner().user.unwrap().email, "victim@example.com");
    let err = web.get_session(who(format!("{COOKIE}=garbage; {COOKIE}={}", "B".repeat(43)))).await.unwrap_err();
    assert_eq!(reason(&err), "SESSION_INVALID");
    server.stop().await;
}

async fn browser_sign_ins_keep_the_token_in_the_cookie(backend: Backend) {
    let server = TestServer::start(backend).await;
    register(&mut server.auth().await, "browser@example.com").await;
    let mut web = grpc_web_auth(&server);
    let login = || pb::LoginRequest { email: "browser@example.com".into(), password: PASSWORD.into() };

    // From a page (grpc-web with an Origin): the cookie carries the token, the body does not.
    let response = web.login(from_page(login(), &server.base_url(), None)).await.unwrap();
    let cookie = session_cookie_value(&response);
    let body = response.into_inner().signed_in.unwrap();
    assert!(body.session_token.is_empty(), "scripts on the page must not read the session token");
    assert_eq!(cookie.len(), 43);
    // A server-side grpc-web client (no Origin) and native gRPC get it in the body, as before.
    let server_side = web.login(login()).await.unwrap().into_inner().signed_in.unwrap();
    assert_eq!(server_side.session_token.len(), 43);
    let native = server.auth().await.login(login()).await.unwrap().into_inner().signed_in.unwrap();
    assert_eq!(native.session_token.len(), 43);
    server.stop().await;

    // Opting in puts it back in browsers' answers.
    let server = TestServer::start_with(backend, |config| config.session_token_in_browser_responses = true).await;
    register(&mut server.auth().await, "browser@example.com").await;
    let mut web = grpc_web_auth(&server);
    let response = web.login(from_page(login(), &server.base_url(), None)).await.unwrap();
    let cookie = session_cookie_value(&response);
    assert_eq!(response.into_inner().signed_in.unwrap().session_token, cookie);
    server.stop().await;
}

async fn a_shared_cookie_domain_uses_the_secure_prefix(backend: Backend) {
    let server = TestServer::start_with(backend, |config| config.cookie_domain = Some("localhost".into())).await;
    let response = server
        .auth()
        .await
        .register(pb::RegisterRequest {
            email: "shared@example.com".into(),
            password: PASSWORD.into(),
            name: String::new(),
        })
        .await
        .unwrap();
    let set_cookie = response.metadata().get("set-cookie").unwrap().to_str().unwrap().to_owned();
    assert!(set_cookie.starts_with("__Secure-keyward_session="), "{set_cookie}");
    assert!(set_cookie.contains("Domain=localhost") && set_cookie.contains("Secure"), "{set_cookie}");
    let token = response.into_inner().signed_in.unwrap().session_token;
    // That is the name read back; the __Host- name is not used with a Domain.
    let mut web = grpc_web_auth(&server);
    let request = with_cookies(
        pb::GetSessionRequest::default(),
        &server.base_url(),
        &format!("__Secure-keyward_session={token}"),
    );
    assert!(web.get_session(request).await.is_ok());
    let request = with_cookies(pb::GetSessionRequest::default(), &server.base_url(), &format!("{COOKIE}={token}"));
    assert_eq!(reason(&web.get_session(request).await.unwrap_err()), "NOT_SIGNED_IN");
    server.stop().await;
}
