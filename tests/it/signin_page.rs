//! The built-in sign-in page: served with its embedded assets and a strict CSP by default, absent
//! when `signin_page` is off. (What the page does is proven in a browser by
//! clients/typescript/test/signin.test.mjs.)

use crate::common::{Backend, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signin_page_and_assets_are_served_with_a_strict_policy() {
    let server = TestServer::start(Backend::Sqlite).await;
    let http = reqwest::Client::new();

    let page = http.get(format!("{}/signin", server.base_url())).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"].to_str().unwrap().to_owned();
    for directive in ["default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"] {
        assert!(csp.contains(directive), "{directive} missing from {csp}");
    }
    assert_eq!(page.headers()["x-content-type-options"], "nosniff");
    assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"autocomplete="username webauthn""#), "passkey autofill field missing");
    assert!(html.contains(r#"src="/signin/app.js""#));

    for (path, content_type, marker) in
        [("/signin/app.js", "text/javascript", "signin-form"), ("/signin/app.css", "text/css", "main")]
    {
        let asset = http.get(format!("{}{path}", server.base_url())).send().await.unwrap();
        assert_eq!(asset.status(), 200, "{path}");
        assert!(asset.headers()["content-type"].to_str().unwrap().starts_with(content_type), "{path}");
        assert!(asset.text().await.unwrap().contains(marker), "{path} lacks {marker}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signin_page_can_be_turned_off() {
    let server = TestServer::start_with(Backend::Sqlite, |config| config.signin_page = false).await;
    let http = reqwest::Client::new();
    let get = |path: &str| http.get(format!("{}{path}", server.base_url())).send();
    // Answered like any path nothing serves.
    let unknown = get("/no-such-page").await.unwrap().status();
    assert!(unknown.is_client_error());
    for path in ["/signin", "/signin/app.js"] {
        assert_eq!(get(path).await.unwrap().status(), unknown, "{path} is served although signin_page is off");
    }
    // The rest of the HTTP side is unaffected.
    assert_eq!(get("/healthz").await.unwrap().status(), 200);
    server.stop().await;
}
