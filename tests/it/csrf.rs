//! CSRF over HTTP/1.1 and HTTP/2: a request carrying the session cookie is accepted only as
//! grpc-web from the server's own or an allowed origin, and nothing that is not
//! `application/grpc*` reaches a handler (an h2 POST with `text/plain` and the cookie used to
//! run UpdateUser). Bearer callers are unaffected.

use http_body_util::{BodyExt, Full};
use hyper_util::{client::legacy::Client, rt::TokioExecutor};
use keyward::pb;
use prost::Message;
use tonic::Code;

use crate::common::{
    Backend, COOKIE, TestServer, bearer, both_backends, from_page, get_session, grpc_web_auth, reason, register,
};

both_backends!(simple_requests_never_reach_a_handler_on_h1_or_h2, the_cookie_needs_grpc_web_from_an_allowed_origin);

/// A gRPC length-prefixed frame of `message` (what a form post would have to forge).
fn grpc_frame(message: &impl Message) -> Vec<u8> {
    let body = message.encode_to_vec();
    let mut frame = vec![0u8];
    frame.extend_from_slice(&u32::try_from(body.len()).unwrap().to_be_bytes());
    frame.extend_from_slice(&body);
    frame
}

/// POSTs `body` to `path` with `content_type` and the session cookie, over h2 or h1; returns the
/// HTTP status and the grpc-status header, if any.
async fn post(
    server: &TestServer,
    h2: bool,
    path: &str,
    content_type: &str,
    token: &str,
    body: Vec<u8>,
) -> (u16, Option<String>) {
    let client = Client::builder(TokioExecutor::new()).http2_only(h2).build_http::<Full<tonic::codegen::Bytes>>();
    let request = http::Request::post(format!("{}{path}", server.base_url()))
        .header("content-type", content_type)
        .header("cookie", format!("{COOKIE}={token}"))
        .header("origin", server.base_url())
        .body(Full::new(tonic::codegen::Bytes::from(body)))
        .unwrap();
    let response = client.request(request).await.unwrap();
    let status = response.status().as_u16();
    assert_eq!(response.version(), if h2 { http::Version::HTTP_2 } else { http::Version::HTTP_11 });
    let grpc_status = response.headers().get("grpc-status").map(|v| v.to_str().unwrap().to_owned());
    let _ = response.into_body().collect().await;
    (status, grpc_status)
}

async fn simple_requests_never_reach_a_handler_on_h1_or_h2(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut auth = server.auth().await;
    let victim = register(&mut auth, "victim@example.com").await.session_token;
    let rename = grpc_frame(&pb::UpdateUserRequest { name: "Mallory was here".into() });
    let before = server.app.services().store().row_counts().await.unwrap();

    for h2 in [true, false] {
        for content_type in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""] {
            let (status, grpc_status) =
                post(&server, h2, "/keyward.v1.AuthService/UpdateUser", content_type, &victim, rename.clone()).await;
            assert_eq!((status, grpc_status), (404, None), "h2={h2} {content_type:?}");
        }
    }
    let user = get_session(&mut auth, &victim).await.unwrap().user.unwrap();
    assert_eq!(user.name, "Test User", "the forged rename did not run");
    assert_eq!(server.app.services().store().row_counts().await.unwrap(), before);

    // The same refusal for anonymous simple requests (login CSRF: signing a victim in as you).
    let login = grpc_frame(&pb::LoginRequest { email: "victim@example.com".into(), password: "x".into() });
    let (status, _) = post(&server, true, "/keyward.v1.AuthService/Login", "text/plain", "", login).await;
    assert_eq!(status, 404);

    // Bearer callers over native gRPC (h2) are unaffected.
    let renamed = auth.update_user(bearer(pb::UpdateUserRequest { name: "Ada".into() }, &victim)).await.unwrap();
    assert_eq!(renamed.into_inner().user.unwrap().name, "Ada");
    server.stop().await;
}

async fn the_cookie_needs_grpc_web_from_an_allowed_origin(backend: Backend) {
    let server = TestServer::start_with(backend, |config| {
        config.cors_allowed_origins = vec!["http://app.localhost:3000".into()];
    })
    .await;
    let mut auth = server.auth().await;
    let victim = register(&mut auth, "cookie@example.com").await;
    let token = victim.session_token.clone();
    let mut web = grpc_web_auth(&server);
    let rename = |name: &str| pb::UpdateUserRequest { name: name.into() };
    let before = server.app.services().store().row_counts().await.unwrap();

    // A foreign origin, no origin at all, and "null" (sandboxed frames, file: pages): refused.
    for origin in ["https://evil.example", "null", "http://app.localhost:3001"] {
        let err = web.update_user(from_page(rename("Mallory"), origin, Some(&token))).await.unwrap_err();
        assert_eq!((err.code(), reason(&err).as_str()), (Code::PermissionDenied, "ORIGIN_NOT_ALLOWED"), "{origin}");
    }
    let mut no_origin = tonic::Request::new(rename("Mallory"));
    no_origin.metadata_mut().insert("cookie", format!("{COOKIE}={token}").parse().unwrap());
    let err = web.update_user(no_origin).await.unwrap_err();
    assert_eq!(reason(&err), "ORIGIN_NOT_ALLOWED");
    // The cookie over native gRPC (h2, application/grpc): browsers cannot send that; refused.
    let mut native = tonic::Request::new(rename("Mallory"));
    native.metadata_mut().insert("cookie", format!("{COOKIE}={token}").parse().unwrap());
    let err = auth.update_user(native).await.unwrap_err();
    assert_eq!((err.code(), reason(&err).as_str()), (Code::PermissionDenied, "SESSION_COOKIE_REQUIRES_GRPC_WEB"));
    assert_eq!(get_session(&mut auth, &token).await.unwrap().user.unwrap().name, "Test User");
    assert_eq!(server.app.services().store().row_counts().await.unwrap(), before, "refused calls wrote nothing");

    // The server's own origin and a configured one may.
    let own = web.update_user(from_page(rename("Own page"), &server.base_url(), Some(&token))).await.unwrap();
    assert_eq!(own.into_inner().user.unwrap().name, "Own page");
    let app = web.update_user(from_page(rename("App page"), "http://app.localhost:3000", Some(&token))).await.unwrap();
    assert_eq!(app.into_inner().user.unwrap().name, "App page");

    // Bearer over grpc-web (a server-side client, no Origin) is unaffected.
    let by_bearer = web.update_user(bearer(rename("Server side"), &token)).await.unwrap();
    assert_eq!(by_bearer.into_inner().user.unwrap().name, "Server side");
    server.stop().await;
}
