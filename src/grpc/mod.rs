//! The gRPC surface: the only code that sees prost types or `tonic::Status`. Handlers are thin:
//! destructure the request, identify the caller, call `service`, convert the answer.

mod auth;
mod caller;
mod client_address;
mod codec;
mod convert;
mod envelope;
mod oauth;
mod passkey;
mod status;

pub use auth::AuthApi;
pub use caller::{CookieSettings, SESSION_COOKIE, authenticate, request_meta};
pub use client_address::ClientAddressLayer;
pub use codec::KeywardCodec;
pub use envelope::UnaryEnvelopeLayer;
pub use oauth::OAuthApi;
pub use passkey::PasskeyApi;
pub use status::{ERROR_DOMAIN, to_status};
