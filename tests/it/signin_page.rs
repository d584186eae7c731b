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
    // Relative, so the page also works behind an app's rewrite (`/keyward/signin`).
    assert!(html.contains(r#"src="signin/app.js""#));
    assert!(html.contains(r#"href="signin/app.css""#));
    // A magic link opened where another account is signed in asks "Continue as …?" first.
    assert!(html.contains(r#"id="switch-account""#) && html.contains(r#"id="switch-stay""#));

    for (path, content_type, marker) in [
        ("/signin/app.js", "text/javascript", "signin-form"),
        ("/signin/app.js", "text/javascript", "SIGNED_IN_AS_ANOTHER_USER"),
        ("/signin/app.css", "text/css", "main"),
    ] {
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
    for path in ["/signin", "/signin/app.js", "/no-such-page"] {
        assert_eq!(get(path).await.unwrap().status(), 404, "{path} is served although signin_page is off");
    }
    // `/` says what this is instead of redirecting to a page that is not there.
    let root = get("/").await.unwrap();
    assert_eq!(root.status(), 200);
    assert!(root.text().await.unwrap().contains("Keyward is running"));
    // The rest of the HTTP side is unaffected.
    assert_eq!(get("/healthz").await.unwrap().status(), 200);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn root_redirects_to_signin_and_unknown_paths_are_404() {
    let server = TestServer::start(Backend::Sqlite).await;
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let root = http.get(format!("{}/", server.base_url())).send().await.unwrap();
    assert!(root.status().is_redirection(), "{}", root.status());
    assert_eq!(root.headers()["location"], "signin", "relative: it stays under a rewrite's prefix");

    // Plain HTTP to a path nothing serves, or a browser's GET of an RPC path: 404, not tonic-web's 400.
    for path in ["/no-such-page", "/keyward.v1.AuthService/Login", "/.well-known/nothing"] {
        let response = http.get(format!("{}{path}", server.base_url())).send().await.unwrap();
        assert_eq!(response.status(), 404, "{path}");
    }
    // A grpc-web call of a method nobody serves is still a gRPC answer: UNIMPLEMENTED.
    let call = http
        .post(format!("{}/keyward.v1.NoSuchService/Nothing", server.base_url()))
        .header("content-type", "application/grpc-web+proto")
        .header("x-grpc-web", "1")
        .body(vec![0u8, 0, 0, 0, 0])
        .send()
        .await
        .unwrap();
    assert_eq!(call.status(), 200);
    assert_eq!(call.headers()["grpc-status"], "12");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signin_config_lists_return_to_origins_and_whether_sign_up_needs_a_code() {
    let server = TestServer::start_with(Backend::Sqlite, |config| {
        config.cors_allowed_origins = vec!["https://app.example.com".into()];
        config.require_email_verification = true;
    })
    .await;
    let response = reqwest::get(format!("{}/signin/config.json", server.base_url())).await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    let body: serde_json::Value = response.json().await.unwrap();
    let mut expected = vec![
        "https://app.example.com".to_owned(),
        crate::common::PASSKEY_ORIGIN.to_owned(),
        crate::common::RELATED_ORIGIN.to_owned(),
    ];
    expected.sort();
    assert_eq!(body, serde_json::json!({ "returnToOrigins": expected, "requireEmailVerification": true }));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signin_page_carries_the_configured_branding_escaped() {
    let server = TestServer::start_with(Backend::Sqlite, |config| {
        config.signin.product_name = Some("Acme <Notes> & Co".into());
        config.signin.logo_url = Some("https://cdn.example.com/logo.svg?v=\"2\"".into());
        config.signin.accent_color = Some("#0f766e".into());
        config.signin.support_url = Some("mailto:help@example.com".into());
    })
    .await;
    let http = reqwest::Client::new();
    let page = http.get(format!("{}/signin", server.base_url())).send().await.unwrap();
    let csp = page.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("img-src 'self' data: https://cdn.example.com;"), "{csp}");
    let html = page.text().await.unwrap();
    assert!(html.contains("<title>Sign in · Acme &lt;Notes&gt; &amp; Co</title>"), "{html}");
    assert!(html.contains(r#"<span id="product-name">Acme &lt;Notes&gt; &amp; Co</span>"#));
    // A quote in the URL cannot end the attribute.
    assert!(html.contains(r#"<img src="https://cdn.example.com/logo.svg?v=&quot;2&quot;" alt="">"#), "{html}");
    assert!(html.contains(r#"<a href="mailto:help@example.com">Need help?</a>"#));
    assert!(!html.contains("Keyward</"), "the product name replaces Keyward's");
    let css = http.get(format!("{}/signin/app.css", server.base_url())).send().await.unwrap().text().await.unwrap();
    assert!(css.ends_with(":root { --accent: #0f766e; }\n"), "{css}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signin_page_speaks_the_language_accept_language_asks_for() {
    let server = TestServer::start(Backend::Sqlite).await;
    let http = reqwest::Client::new();
    for (accept_language, lang, texts) in [
        (Some("de-DE,de;q=0.9,en;q=0.8"), "de", ["Passwort vergessen?", "Konto erstellen", "Anmelden ·"]),
        (Some("fr"), "fr", ["Mot de passe oublié ?", "Créer un compte", "Se connecter ·"]),
        (Some("es-MX;q=0.9, ja"), "es", ["¿Olvidaste la contraseña?", "Crear una cuenta", "Iniciar sesión ·"]),
        (Some("ja, zh-CN;q=0.8"), "en", ["Forgot password?", "Create an account", "Sign in ·"]),
        (None, "en", ["Forgot password?", "Create an account", "Sign in ·"]),
    ] {
        let mut request = http.get(format!("{}/signin", server.base_url()));
        if let Some(header) = accept_language {
            request = request.header("accept-language", header);
        }
        let page = request.send().await.unwrap();
        assert_eq!(page.status(), 200);
        assert_eq!(page.headers()["content-language"], lang, "{accept_language:?}");
        assert_eq!(page.headers()["vary"], "accept-language");
        let html = page.text().await.unwrap();
        assert!(html.contains(&format!(r#"<html lang="{lang}">"#)), "{accept_language:?}: lang is not {lang}");
        for text in texts {
            assert!(html.contains(text), "{accept_language:?}: {text:?} missing");
        }
        if lang != "en" {
            assert!(!html.contains("Forgot password?"), "{accept_language:?}: English left on the page");
        }
    }
    server.stop().await;
}
