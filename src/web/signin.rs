//! The built-in sign-in page at `/signin`: its HTML and CSS, embedded from their sources in
//! clients/typescript/signin, and the TypeScript client bundled by esbuild into signin/app.js
//! (committed, drift-checked by scripts/check-generated), so a server needs no Node. The page
//! talks to Keyward over grpc-web like any customer app; `/signin/config.json` tells it the
//! origins a `return_to` may lead to and whether passkey sign-up needs a mailed code.
//!
//! Every URL the page uses is relative to where it is served (`signin/app.js` from the HTML; the
//! API and config.json from the script's own URL), so an app may serve it under any prefix
//! through a rewrite (`/keyward/signin` → `/signin`) with nothing configured here.

use axum::{
    Json, Router,
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

/// What the page needs to know of the server's settings: where it may send the user back to, and
/// whether passkey-only sign-up asks for a mailed code.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SigninPage {
    /// Origins a `return_to` may point at besides Keyward's own: the apps allowed to call with
    /// credentials (`cors_allowed_origins`) and the web origins passkeys run on (`rp_origins`).
    /// Anything else is refused by the page, so /signin cannot be an open redirect.
    return_to_origins: Vec<String>,
    /// `require_email_verification`: StartPasskeySignUp mails a code that FinishPasskeySignUp
    /// needs, so the page asks for it. One setting for every address, so saying it discloses
    /// nothing about any account (no existence oracle, OWASP ASVS 5 V6.3.8).
    require_email_verification: bool,
}

impl SigninPage {
    /// From `cors_allowed_origins`, the passkey origins and `require_email_verification`.
    pub fn new(cors_allowed_origins: &[String], passkey_origins: &[String], require_email_verification: bool) -> Self {
        let mut origins: Vec<String> = cors_allowed_origins
            .iter()
            .chain(passkey_origins.iter())
            .filter(|origin| origin.starts_with("https://") || origin.starts_with("http://"))
            .map(|origin| origin.trim_end_matches('/').to_owned())
            .collect();
        origins.sort();
        origins.dedup();
        Self { return_to_origins: origins, require_email_verification }
    }
}

/// `/signin`, its assets and `/signin/config.json`.
pub fn router<S: Clone + Send + Sync + 'static>(page: SigninPage) -> Router<S> {
    let settings = Json(page);
    Router::new()
        .route("/signin", get(|| async { asset("text/html; charset=utf-8", INDEX_HTML) }))
        .route("/signin/app.js", get(|| async { asset("text/javascript; charset=utf-8", APP_JS) }))
        .route("/signin/app.css", get(|| async { asset("text/css; charset=utf-8", APP_CSS) }))
        .route("/signin/config.json", get(move || async move { with_page_headers(settings.into_response()) }))
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut response = body.into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    with_page_headers(response)
}

fn with_page_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    // Assets change with the binary; revalidating costs one request and never serves a stale
    // script against a newer API.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}
