//! The gRPC surface: the only code that sees prost types or `tonic::Status`. Handlers are thin:
//! destructure the request, identify the caller, call `service`, convert the answer.

mod admin;
mod answer;
mod auth;
mod browser;
mod caller;
mod client_address;
mod codec;
mod convert;
mod envelope;
mod oauth;
mod passkey;
mod status;
mod verification;

pub use admin::AdminApi;
pub use answer::error_reason;
pub use auth::AuthApi;
pub use browser::{BrowserPolicy, BrowserRequest, guard as browser_guard};
pub use caller::{
    CookieSettings, INSECURE_SESSION_COOKIE, SESSION_COOKIE, SHARED_SESSION_COOKIE, authenticate, authenticate_session,
    request_meta,
};
pub use client_address::ClientAddressLayer;
pub use codec::KeywardCodec;
pub use envelope::UnaryEnvelopeLayer;
pub use oauth::OAuthApi;
pub use passkey::PasskeyApi;
pub use status::{ERROR_DOMAIN, to_status};
pub use verification::VerificationApi;
