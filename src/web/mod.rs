//! Plain HTTP beside gRPC on the same port: health, the JWKS other services verify with, the
//! WebAuthn related origins, and the built-in sign-in page.

mod signin;

use axum::{
    Json, Router,
    extract::State,
    http::{StatusCode, header},
    response::IntoResponse,
    routing::get,
};

use crate::{config::Config, service::Services};

/// The web origins that may use our rp id (WebAuthn L3 Related Origin Requests).
#[derive(Debug, Clone, serde::Serialize)]
pub struct RelatedOrigins {
    origins: Vec<String>,
}

impl RelatedOrigins {
    pub fn from_config(config: &Config) -> Self {
        let origins = config
            .passkey_origins()
            .into_iter()
            .filter(|o| o.starts_with("https://") || o.starts_with("http://"))
            .collect();
        Self { origins }
    }
}

/// `/healthz`, `/.well-known/jwks.json`, `/.well-known/webauthn` and, when `signin_page` is on,
/// `/signin`.
pub fn router(services: Services, related_origins: RelatedOrigins, signin_page: bool) -> Router {
    let webauthn = Json(related_origins);
    let router = Router::new()
        .route("/healthz", get(healthz))
        .route("/.well-known/jwks.json", get(jwks))
        .route("/.well-known/webauthn", get(move || async move { webauthn }));
    let router = if signin_page { router.merge(signin::router()) } else { router };
    router.with_state(services)
}

/// 200 when the database answers within `database_timeout_ms`, else 503 saying why.
async fn healthz(State(services): State<Services>) -> impl IntoResponse {
    match services.store().unavailable_reason().await {
        None => (StatusCode::OK, "ok\n".to_owned()),
        Some(reason) => {
            tracing::warn!(reason, "health check: database unavailable");
            (StatusCode::SERVICE_UNAVAILABLE, format!("unavailable: {reason}\n"))
        }
    }
}

/// The public keys that verify access tokens: the active key and recently retired ones.
/// Verifiers should cache it briefly and refetch when they meet an unknown `kid`.
async fn jwks(State(services): State<Services>) -> impl IntoResponse {
    ([(header::CACHE_CONTROL, "public, max-age=60")], Json(services.keys().current().jwks()))
}
