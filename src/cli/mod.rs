//! Command-line glue that is more than parsing: what `main.rs` calls for commands that talk to
//! the operator (progress on a terminal, a printed summary).

pub mod admin_keys;
pub mod healthcheck;
mod import;

pub use import::{BetterAuthArgs, import_authjs, import_better_auth};
