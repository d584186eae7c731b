//! sea-orm entities, one file per table. Column names follow the migrations (Auth.js names).

pub mod accounts;
pub mod api_keys;
pub mod audit_events;
pub mod authenticators;
pub mod ceremonies;
pub mod code_failures;
pub mod outbox;
pub mod secrets;
pub mod session_event_horizon;
pub mod session_events;
pub mod sessions;
pub mod sign_in_failures;
pub mod signing_keys;
pub mod users;
pub mod verification_tokens;
