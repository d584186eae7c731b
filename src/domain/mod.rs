//! Domain types. Validated value types — constructing one is the validation: a `Email` is
//! always normalized and well-formed, a `Password` always within policy — and the read models
//! (`User`, `Session`, `Passkey`, `LinkedAccount`) the store hands up and services return.
//! Pure: no I/O, no clock.

mod account;
mod api_key;
mod client;
mod email;
mod name;
mod oauth_state;
mod one_time_code;
mod page;
mod passkey_provider;
mod password;
mod roles;
mod session_event;
mod time;
mod token;
mod webhook;

pub use account::{AuditEntry, DeviceType, LinkedAccount, Passkey, Session, User};
pub use api_key::{API_KEY_PREFIX, ApiKeySecret, ApiScope, parse_lifetime};
pub use client::ClientAddress;
pub use email::Email;
pub use name::{DisplayName, MAX_NAME_CHARS};
pub use oauth_state::OAuthState;
pub use one_time_code::{CODE_DIGITS, OneTimeCode};
pub use page::PageRequest;
pub use passkey_provider::passkey_provider_name;
pub use password::{ESTIMATE_MAX_CHARS, NewPassword, Password, PasswordPolicy};
pub use roles::{MAX_ROLES, Roles};
pub use session_event::{EventCursor, SessionEvent, SessionEventKind};
pub use time::{earlier, later};
pub use token::{AuthjsToken, SessionToken, TokenHash};
pub use webhook::{WebhookDelivery, WebhookEventType, canonical_ip, is_refused_webhook_address};
