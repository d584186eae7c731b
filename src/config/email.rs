//! `[email]` settings: how mail leaves Keyward and how the outbox retries it.
//!
//! ```toml
//! [email]
//! smtp_url = "smtp://user:pass@smtp.example.com:587?tls=starttls"  # also smtps://…:465, ?tls=none
//! from = "Example <no-reply@example.com>"
//! ```
//!
//! No `smtp_url`: each message is written as an `.eml` file under `file_dir` (default
//! `<data_dir>/outbox`) and its link logged, so a fresh `keyward serve` works with no setup.
//! The URL is turned into the mailer's settings (and checked) where the server starts.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{ConfigError, Secret, validate::invalid};

/// Delivery of mail (`[email]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmailConfig {
    /// `smtp://user:pass@host:587?tls=starttls` (STARTTLS, the default for `smtp://`),
    /// `smtps://user:pass@host:465` (TLS from the first byte), `smtp://host:25?tls=none` (plain,
    /// for a relay on the same machine or tests). User and password percent-encoded.
    pub smtp_url: Option<Secret>,
    /// The sender, `Name <address>` or a bare address.
    pub from: String,
    /// Where the file transport writes `.eml` files; default `<data_dir>/outbox`.
    pub file_dir: Option<PathBuf>,
    /// Bound on one SMTP delivery (connect, TLS, the whole conversation).
    pub smtp_timeout_ms: u64,
    /// Attempts before a message is given up (kept in the outbox marked dead, and logged).
    pub max_attempts: u32,
    /// Wait before the first retry; doubled after every failure (with jitter) up to
    /// `retry_max_secs`.
    pub retry_initial_secs: u64,
    pub retry_max_secs: u64,
    /// How often a replica looks for due messages besides being woken by its own writes.
    pub poll_interval_ms: u64,
    /// How long a message that was given up (dead) is kept for the operator before it is
    /// deleted. Its payload is sealed, but it holds an address and may hold a link.
    pub dead_retention_days: u64,
    /// Pages of your app that mailed links may point at instead of `public_url`/signin (the
    /// `redirect_uri` of a request), compared exactly.
    #[serde(deserialize_with = "super::list_or_comma_separated")]
    pub redirect_uris: Vec<String>,
    /// How long a password-reset link works.
    pub password_reset_ttl_secs: u64,
    /// How long a magic sign-in link works.
    pub magic_link_ttl_secs: u64,
    /// How long an email-verification link works.
    pub verification_ttl_secs: u64,
    /// How long the set-password link of an AdminService invitation works.
    pub invitation_ttl_secs: u64,
    /// RequestPasswordReset / SendMagicLink for an address without an account mails it a note
    /// ("someone tried to … with this address") instead of nothing. The caller's answer is the
    /// same either way.
    pub notify_unknown_addresses: bool,
    /// A directory of link-mail templates (`<purpose>.txt` / `<purpose>.html`) replacing the
    /// built-ins; a missing file keeps the built-in, a bad one stops the start.
    pub templates_dir: Option<PathBuf>,
}

impl Default for EmailConfig {
    fn default() -> Self {
        Self {
            smtp_url: None,
            from: "Keyward <no-reply@localhost>".into(),
            file_dir: None,
            smtp_timeout_ms: 30_000,
            max_attempts: 10,
            retry_initial_secs: 10,
            retry_max_secs: 3600,
            poll_interval_ms: 5_000,
            dead_retention_days: 30,
            redirect_uris: Vec::new(),
            password_reset_ttl_secs: 15 * 60,
            magic_link_ttl_secs: 10 * 60,
            verification_ttl_secs: 24 * 3600,
            invitation_ttl_secs: 72 * 3600,
            notify_unknown_addresses: false,
            templates_dir: None,
        }
    }
}

impl EmailConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.from.trim().is_empty() {
            return Err(invalid("email.from", "must not be empty"));
        }
        if !(1_000..=600_000).contains(&self.smtp_timeout_ms) {
            return Err(invalid("email.smtp_timeout_ms", "must be between 1000 and 600000"));
        }
        if !(1..=100).contains(&self.max_attempts) {
            return Err(invalid("email.max_attempts", "must be between 1 and 100"));
        }
        if !(1..=86_400).contains(&self.retry_initial_secs) {
            return Err(invalid("email.retry_initial_secs", "must be between 1 and 86400"));
        }
        if !(self.retry_initial_secs..=7 * 86_400).contains(&self.retry_max_secs) {
            return Err(invalid("email.retry_max_secs", "must be between retry_initial_secs and 604800"));
        }
        if !(10..=3_600_000).contains(&self.poll_interval_ms) {
            return Err(invalid("email.poll_interval_ms", "must be between 10 and 3600000"));
        }
        if !(1..=3650).contains(&self.dead_retention_days) {
            return Err(invalid("email.dead_retention_days", "must be between 1 and 3650"));
        }
        for (name, secs) in [
            ("email.password_reset_ttl_secs", self.password_reset_ttl_secs),
            ("email.magic_link_ttl_secs", self.magic_link_ttl_secs),
            ("email.verification_ttl_secs", self.verification_ttl_secs),
            ("email.invitation_ttl_secs", self.invitation_ttl_secs),
        ] {
            if !(60..=30 * 86_400).contains(&secs) {
                return Err(invalid(name, "must be between 60 and 2592000"));
            }
        }
        for uri in &self.redirect_uris {
            let parsed = url::Url::parse(uri).map_err(|_| invalid("email.redirect_uris", "must be absolute URLs"))?;
            if !matches!(parsed.scheme(), "https" | "http") || parsed.fragment().is_some() {
                return Err(invalid("email.redirect_uris", "must be http(s) URLs without a fragment"));
            }
        }
        Ok(())
    }
}
