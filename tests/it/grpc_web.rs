//! grpc-web over HTTP/1.1 (what browsers speak): Login sets the session cookie, and GetSession
//! honours the cookie alone.

use std::str::FromStr;

use hyper_util::{client::legacy::Client, rt::TokioExecutor};
use keyward::pb::{self, auth_service_client::AuthServiceClient};
use tonic_web::GrpcWebClientLayer;

use crate::common::{Backend, PASSWORD, TestServer, reason, register};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_web_login_sets_a_cookie_that_get_session_honours() {
    let server = TestServer::start(Backend::Sqlite).await;
    register(&mut server.auth().await, "web@example.com").await;

    // An HTTP/1.1-only client with grpc-web framing, as a browser would use.
    let http1 = Client::builder(TokioExecutor::new()).http2_only(false).build_http();
    let transport = tower::ServiceBuilder::new().layer(GrpcWebClientLayer::new()).service(http1);
    let mut web = AuthServiceClient::with_origin(transport, http::Uri::from_str(&server.base_url()).unwrap());

    let response =
        web.login(pb::LoginRequest { email: "web@example.com".into(), password: PASSWORD.into() }).await.unwrap();
    let set_cookie =
        response.metadata().get("set-cookie").expect("login sets the session cookie").to_str().unwrap().to_owned();
    let token = response.into_inner().signed_in.unwrap().session_token;
    assert!(set_cookie.starts_with(&format!("keyward_session={token};")), "{set_cookie}");
    for attribute in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/", "Max-Age="] {
        assert!(set_cookie.contains(attribute), "{attribute} missing from {set_cookie}");
    }

    // The cookie alone identifies the caller.
    let mut with_cookie = tonic::Request::new(pb::GetSessionRequest::default());
    with_cookie.metadata_mut().insert("cookie", format!("theme=dark; keyward_session={token}").parse().unwrap());
    let session = web.get_session(with_cookie).await.unwrap().into_inner();
    assert_eq!(session.user.unwrap().email, "web@example.com");

    // Errors come back over grpc-web with their ErrorInfo.
    let err = web
        .login(pb::LoginRequest { email: "web@example.com".into(), password: "wrong-password-1".into() })
        .await
        .unwrap_err();
    assert_eq!(reason(&err), "INVALID_CREDENTIALS");

    // Logout over grpc-web clears the cookie and ends the session.
    let mut logout = tonic::Request::new(pb::LogoutRequest {});
    logout.metadata_mut().insert("cookie", format!("keyward_session={token}").parse().unwrap());
    let cleared = web.logout(logout).await.unwrap();
    assert!(cleared.metadata().get("set-cookie").unwrap().to_str().unwrap().contains("Max-Age=0"));
    let mut again = tonic::Request::new(pb::GetSessionRequest::default());
    again.metadata_mut().insert("cookie", format!("keyward_session={token}").parse().unwrap());
    assert_eq!(reason(&web.get_session(again).await.unwrap_err()), "SESSION_INVALID");
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
