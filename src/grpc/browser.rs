//! What the gRPC routes accept from browsers, checked before any handler runs (on HTTP/1.1 and
//! HTTP/2 alike; tonic itself does not look at the content type).
//!
//! - A request whose content type is not `application/grpc*` never gets here: `web::grpc_or_not_found`,
//!   in front of this guard, answers it 404. An HTML form or a `text/plain` fetch —
//!   CORS-safelisted, sent cross-site without a preflight — can therefore never reach an RPC
//!   (OWASP ASVS 5 V3.5.2); `tests/it/csrf.rs` holds both layers to that.
//! - A request that carries the session cookie is accepted only as grpc-web
//!   (`application/grpc-web`, `+proto`, `-text`) and only with an `Origin` that is the server's
//!   own or one of `cors_allowed_origins` (ASVS 5 V3.5.1; the cookie's SameSite=Lax is the
//!   second line). Bearer callers send no cookie and are unaffected.
//!
//! What passed is put into the request's extensions as [`BrowserRequest`]: the session cookies
//! the request may authenticate with (nothing else reads cookies), and whether it is a browser's
//! grpc-web call, whose sign-in answers keep the session token out of the body.

use std::sync::Arc;

use axum::{
    body::Body,
    extract::{Request, State},
    middleware::Next,
    response::Response,
};
use cookie::Cookie;
use http::{HeaderMap, HeaderValue, header};

use super::status::to_status;
use crate::error::{BrowserRefusal, Error};

/// Session cookies looked at per request, at most: the first valid one wins, and a request
/// stuffed with cookies must not turn into many session lookups.
const MAX_SESSION_COOKIES: usize = 4;

/// The rules, from config.
#[derive(Debug, Clone)]
pub struct BrowserPolicy {
    cookie_name: &'static str,
    /// `cors_allowed_origins`, exactly as configured (`scheme://host[:port]`).
    allowed_origins: Arc<Vec<String>>,
}

impl BrowserPolicy {
    pub fn new(cookie_name: &'static str, allowed_origins: Vec<String>) -> Self {
        Self { cookie_name, allowed_origins: Arc::new(allowed_origins) }
    }

    /// Whether `origin` may send the session cookie: one of the configured origins, or the
    /// server's own (the host the request was addressed to, any scheme: behind a TLS proxy the
    /// server cannot tell; list the public origin in `cors_allowed_origins` when a proxy
    /// rewrites the host).
    fn origin_allowed(&self, origin: &str, request_host: Option<&str>) -> bool {
        if self.allowed_origins.iter().any(|allowed| allowed == origin) {
            return true;
        }
        let authority = origin.strip_prefix("https://").or_else(|| origin.strip_prefix("http://"));
        matches!((authority, request_host), (Some(authority), Some(host)) if authority.eq_ignore_ascii_case(host))
    }
}

/// Left in the request's extensions for the handlers.
#[derive(Debug, Clone, Default)]
pub struct BrowserRequest {
    /// Values of the session cookies the request carried, in order (at most a few).
    pub session_cookies: Vec<String>,
    /// A browser's grpc-web call: grpc-web with an `Origin` header, which browsers always send
    /// with a POST and scripts cannot remove. (A server-side grpc-web client sends none.)
    pub from_browser: bool,
}

/// The middleware: refuses what the module doc says, or passes the request on with its
/// [`BrowserRequest`].
pub async fn guard(State(policy): State<BrowserPolicy>, mut request: Request, next: Next) -> Response {
    let headers = request.headers();
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let content_type = content_type.to_ascii_lowercase();
    let grpc_web = content_type.starts_with("application/grpc-web");
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let session_cookies = session_cookies(headers, policy.cookie_name);
    if !session_cookies.is_empty() {
        let host = headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .or_else(|| request.uri().authority().map(|a| a.as_str().to_owned()));
        let refusal = if !grpc_web {
            Some(BrowserRefusal::CookieOutsideGrpcWeb)
        } else if !origin.as_deref().is_some_and(|origin| policy.origin_allowed(origin, host.as_deref())) {
            Some(BrowserRefusal::OriginNotAllowed)
        } else {
            None
        };
        if let Some(refusal) = refusal {
            tracing::info!(?origin, ?host, content_type, ?refusal, "refused a request carrying the session cookie");
            return refused(refusal, &content_type);
        }
    }
    let from_browser = grpc_web && origin.is_some();
    request.extensions_mut().insert(BrowserRequest { session_cookies, from_browser });
    next.run(request).await
}

/// The session cookie values in the `Cookie` headers, in order.
fn session_cookies(headers: &HeaderMap, name: &str) -> Vec<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        // better-auth's cookie too: after `keyward import better-auth` it still identifies its
        // session (checked against the app's secret in `service::sessions`).
        .filter(|cookie| {
            (cookie.name() == name || crate::crypto::BETTER_AUTH_SESSION_COOKIES.contains(&cookie.name()))
                && !cookie.value().is_empty()
        })
        .map(|cookie| cookie.value().to_owned())
        .take(MAX_SESSION_COOKIES)
        .collect()
}

/// A gRPC (or grpc-web: a trailers-only answer looks the same) error response.
fn refused(refusal: BrowserRefusal, content_type: &str) -> Response {
    let mut response = to_status(Error::BrowserRequestRefused(refusal)).into_http::<Body>();
    if let Ok(value) = HeaderValue::from_str(content_type) {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_origin_and_configured_origins_only() {
        let policy = BrowserPolicy::new("__Host-keyward_session", vec!["https://app.example.com".into()]);
        assert!(policy.origin_allowed("https://app.example.com", Some("id.example.com")));
        assert!(policy.origin_allowed("https://id.example.com", Some("id.example.com")));
        assert!(policy.origin_allowed("http://localhost:8080", Some("localhost:8080")));
        for foreign in ["https://evil.example", "null", "https://id.example.com.evil.example", "id.example.com"] {
            assert!(!policy.origin_allowed(foreign, Some("id.example.com")), "{foreign}");
        }
        assert!(!policy.origin_allowed("https://id.example.com", None));
    }

    #[test]
    fn only_the_configured_cookie_counts() {
        let mut headers = HeaderMap::new();
        headers.append(header::COOKIE, HeaderValue::from_static("keyward_session=tossed; theme=dark"));
        headers.append(header::COOKIE, HeaderValue::from_static("__Host-keyward_session=a; __Host-keyward_session=b"));
        assert_eq!(session_cookies(&headers, "__Host-keyward_session"), ["a", "b"]);
        assert_eq!(session_cookies(&headers, "keyward_session"), ["tossed"]);
    }

    #[test]
    fn better_auths_session_cookie_counts_as_it_is() {
        let mut headers = HeaderMap::new();
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("better-auth.session_token=tok.c2ln%3D; __Secure-better-auth.session_token=b"),
        );
        // Still URI-encoded: the signature check decodes it.
        assert_eq!(session_cookies(&headers, "__Host-keyward_session"), ["tok.c2ln%3D", "b"]);
    }
}
