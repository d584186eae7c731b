//! The built-in sign-in page at `/signin`: its HTML and CSS, embedded from their sources in
//! clients/typescript/signin, and the TypeScript client bundled by esbuild into signin/app.js
//! (committed, drift-checked by scripts/check-generated), so a server needs no Node. The page
//! talks to Keyward over grpc-web like any customer app.

use axum::{
    Router,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
    routing::get,
};

const INDEX_HTML: &str = include_str!("../../clients/typescript/signin/index.html");
const APP_JS: &str = include_str!("signin/app.js");
const APP_CSS: &str = include_str!("../../clients/typescript/signin/app.css");

/// Only this origin's scripts, styles and grpc-web calls; never framed (clickjacking).
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// `/signin` and its assets.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/signin", get(|| async { asset("text/html; charset=utf-8", INDEX_HTML) }))
        .route("/signin/app.js", get(|| async { asset("text/javascript; charset=utf-8", APP_JS) }))
        .route("/signin/app.css", get(|| async { asset("text/css; charset=utf-8", APP_CSS) }))
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    // Assets change with the binary; revalidating costs one request and never serves a stale
    // script against a newer API.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}
