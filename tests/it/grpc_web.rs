//! grpc-web over HTTP/1.1 (what browsers speak): Login sets the session cookie, and GetSession
//! honours the cookie alone.

use keyward::pb;

use crate::common::{Backend, PASSWORD, TestServer, from_page, grpc_web_auth, reason, register, session_cookie_value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_web_login_sets_a_cookie_that_get_session_honours() {
    let server = TestServer::start(Backend::Sqlite).await;
    register(&mut server.auth().await, "web@example.com").await;
    // The page is served by Keyward itself (its own origin).
    let origin = server.base_url();
    let mut web = grpc_web_auth(&server);

    let login = pb::LoginRequest { email: "web@example.com".into(), password: PASSWORD.into() };
    let response = web.login(from_page(login, &origin, None)).await.unwrap();
    let set_cookie = response.metadata().get("set-cookie").expect("login sets the session cookie").to_str().unwrap();
    for attribute in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/", "Max-Age="] {
        assert!(set_cookie.contains(attribute), "{attribute} missing from {set_cookie}");
    }
    assert!(!set_cookie.contains("Domain"), "a __Host- cookie has no Domain: {set_cookie}");
    let token = session_cookie_value(&response);
    assert_eq!(token.len(), 43);
    // A browser's answer keeps the token out of the body, where page scripts could read it.
    let signed_in = response.into_inner().signed_in.unwrap();
    assert!(signed_in.session_token.is_empty() && signed_in.access_token.is_some());

    // The cookie alone identifies the caller.
    let session = web.get_session(from_page(pb::GetSessionRequest::default(), &origin, Some(&token))).await.unwrap();
    assert_eq!(session.into_inner().user.unwrap().email, "web@example.com");

    // Errors come back over grpc-web with their ErrorInfo.
    let wrong = pb::LoginRequest { email: "web@example.com".into(), password: "wrong-password-1".into() };
    let err = web.login(from_page(wrong, &origin, None)).await.unwrap_err();
    assert_eq!(reason(&err), "INVALID_CREDENTIALS");

    // Logout over grpc-web clears the cookie and ends the session.
    let cleared = web.logout(from_page(pb::LogoutRequest {}, &origin, Some(&token))).await.unwrap();
    assert!(cleared.metadata().get("set-cookie").unwrap().to_str().unwrap().contains("Max-Age=0"));
    assert_eq!(session_cookie_value(&cleared), "");
    let again = web.get_session(from_page(pb::GetSessionRequest::default(), &origin, Some(&token))).await.unwrap_err();
    assert_eq!(reason(&again), "SESSION_INVALID");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_allows_only_configured_origins() {
    let server = TestServer::start_with(Backend::Sqlite, |config| {
        config.cors_allowed_origins = vec!["http://app.localhost:3000".into()];
    })
    .await;
    let http = reqwest::Client::new();
    let preflight = |origin: &'static str| {
        http.request(reqwest::Method::OPTIONS, format!("{}/keyward.v1.AuthService/Login", server.base_url()))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type,x-grpc-web")
            .send()
    };
    let allowed = preflight("http://app.localhost:3000").await.unwrap();
    assert_eq!(allowed.headers()["access-control-allow-origin"], "http://app.localhost:3000");
    assert_eq!(allowed.headers()["access-control-allow-credentials"], "true");
    let refused = preflight("http://evil.localhost:3000").await.unwrap();
    assert!(refused.headers().get("access-control-allow-origin").is_none());
    server.stop().await;
}
