//! Plain HTTP beside gRPC on the same port: health, the JWKS other services verify with, the
//! WebAuthn related origins, the built-in sign-in page (where `/` leads), and 404 for any other
//! non-gRPC request.

mod signin;

pub use signin::{SigninBranding, SigninPage};

use axum::{
    Json, Router,
    extract::{Request, State},
    http::{StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Redirect, Response},
    routing::get,
};

use crate::service::Services;

/// The web origins that may use our rp id (WebAuthn L3 Related Origin Requests).
#[derive(Debug, Clone, serde::Serialize)]
pub struct RelatedOrigins {
    origins: Vec<String>,
}

impl RelatedOrigins {
    /// The web origins among the passkey origins (native-app origins have no place there).
    pub fn new(passkey_origins: Vec<String>) -> Self {
        let origins =
            passkey_origins.into_iter().filter(|o| o.starts_with("https://") || o.starts_with("http://")).collect();
        Self { origins }
    }
}

/// `/healthz`, `/.well-known/jwks.json`, `/.well-known/webauthn`, `/` and, when `signin_page` is
/// on, `/signin`.
pub fn router(services: Services, related_origins: RelatedOrigins, signin_page: Option<SigninPage>) -> Router {
    let webauthn = Json(related_origins);
    let router = Router::new()
        .route("/healthz", get(healthz))
        .route("/.well-known/jwks.json", get(jwks))
        .route("/.well-known/webauthn", get(move || async move { webauthn }));
    let router = if let Some(page) = signin_page {
        // Relative, so that behind an app's rewrite (`/keyward/` → `/`) it stays under the prefix.
        router.route("/", get(|| async { Redirect::to("signin") })).merge(signin::router(page))
    } else {
        router.route("/", get(|| async { ROOT_TEXT }))
    };
    router.with_state(services)
}

/// What `/` says when there is no sign-in page to send a visitor to.
const ROOT_TEXT: &str = "Keyward is running: gRPC and grpc-web on this port, health at /healthz, \
     access-token keys at /.well-known/jwks.json.\n";

/// Lets gRPC and grpc-web calls through (tonic answers an unknown method UNIMPLEMENTED) and
/// answers everything else 404: an HTTP request for a path nothing serves.
pub async fn grpc_or_not_found(request: Request, next: Next) -> Response {
    let is_grpc = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|content_type| content_type.starts_with("application/grpc"));
    if is_grpc { next.run(request).await } else { (StatusCode::NOT_FOUND, "not found\n").into_response() }
}

/// 200 when the database answers within `database_timeout_ms`, else 503 saying why.
async fn healthz(State(services): State<Services>) -> impl IntoResponse {
    match services.database_unavailable_reason().await {
        None => (StatusCode::OK, "ok\n".to_owned()),
        Some(reason) => {
            tracing::warn!(reason, "health check: database unavailable");
            (StatusCode::SERVICE_UNAVAILABLE, format!("unavailable: {reason}\n"))
        }
    }
}

/// The public keys that verify access tokens: the signing key, a new one before it signs, and
/// recently retired ones. `JWKS_MAX_AGE` is part of the rotation delay.
/// Verifiers should cache it briefly and refetch when they meet an unknown `kid`.
async fn jwks(State(services): State<Services>) -> impl IntoResponse {
    let cache = format!("public, max-age={}", crate::service::JWKS_MAX_AGE.as_secs());
    ([(header::CACHE_CONTROL, cache)], Json(services.keys().current().jwks()))
}
