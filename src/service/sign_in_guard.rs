//! Consecutive failed sign-ins per account, shared by every replica through the database
//! (NIST SP 800-63B-4 §3.2.2). Every password check (Login, ChangePassword) and passkey
//! assertion first reserves an attempt for its account and factor; the reservation counts as a
//! failure until the attempt succeeds, which clears the account's counts. The first
//! `failed_sign_in_free_attempts` failures are answered at once; after that the next attempt
//! must wait, a delay that doubles per failure up to `failed_sign_in_max_delay_secs`; after
//! `failed_sign_in_limit` (≤ 100) the factor is suspended until a successful sign-in by another
//! method, or until the count is forgotten `failed_sign_in_forget_secs` after the last failure.
//! Nothing is ever locked for good: that would hand anyone who knows an email address a way to
//! keep its owner out. A refused attempt writes nothing.
//!
//! The password key is derived from the normalized email, not the user id, so an unknown email
//! is throttled exactly like a known one: the answer and its timing do not say which it is.

use std::time::Duration;

use aws_lc_rs::digest;

use super::Services;
use crate::{
    error::{Error, Result},
    store::Attempt,
};

/// The factor an attempt uses: each has its own count per account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Factor {
    Password,
    Passkey,
}

impl Factor {
    const ALL: [Factor; 2] = [Factor::Password, Factor::Passkey];

    fn name(self) -> &'static str {
        match self {
            Self::Password => "password",
            Self::Passkey => "passkey",
        }
    }
}

/// The count's key: the factor and a SHA-256 of the normalized email (the table holds no
/// addresses, and unknown emails get keys like any other).
pub fn failure_key(factor_name: &str, email: &str) -> String {
    let hash = digest::digest(&digest::SHA256, email.as_bytes());
    let hex: String = hash.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("{factor_name}:{hex}")
}

impl Services {
    /// Reserves an attempt with `factor` on the account of `email`, or refuses with
    /// `RateLimited` (the same answer as a client budget's).
    pub(super) async fn reserve_sign_in_attempt(&self, factor: Factor, email: &str) -> Result<()> {
        let now = self.inner.clock.now();
        let key = factor_failure_key(factor, email);
        match self.inner.store.reserve_sign_in_attempt(&key, now, self.inner.failure_policy).await? {
            Attempt::Allowed => Ok(()),
            Attempt::Refused { retry_at } => {
                tracing::info!(factor = factor.name(), "sign-in attempt refused: too many consecutive failures");
                Err(Error::RateLimited { retry_after: (retry_at - now).to_std().unwrap_or(Duration::from_secs(1)) })
            }
        }
    }

    /// Gives back a reserved attempt that was never checked because of a server-side failure
    /// (`HasherOverloaded`, storage): only real credential checks count. Best effort.
    pub(super) async fn release_sign_in_attempt(&self, factor: Factor, email: &str) {
        let key = factor_failure_key(factor, email);
        if let Err(err) = self.inner.store.release_sign_in_attempt(&key, self.inner.failure_policy).await {
            tracing::warn!(error = %err, "could not give back an unchecked sign-in attempt");
        }
    }

    /// A sign-in succeeded: the account's failures with every factor are forgotten (its owner
    /// proved control; a suspended password comes back after a passkey sign-in), and so are its
    /// address's wrong mailed codes (codes refused after too many come back once another method
    /// succeeded).
    pub(super) async fn sign_in_succeeded(&self, email: &str) -> Result<()> {
        self.inner.store.clear_sign_in_failures(&all_failure_keys(email), self.inner.clock.now()).await?;
        self.inner.store.clear_code_failures(&code_failure_keys(email)).await
    }
}

/// The key under which `factor`'s failures for the account `email` are counted.
pub(super) fn factor_failure_key(factor: Factor, email: &str) -> String {
    failure_key(factor.name(), email)
}

/// The key under which wrong mailed codes of `purpose` (a purpose name) for `email` are counted.
pub(super) fn code_failure_key(purpose: &str, email: &str) -> String {
    failure_key(&format!("code:{purpose}"), email)
}

/// Every purpose's mailed-code failure keys for `email`: what a success by another method clears.
pub(super) fn code_failure_keys(email: &str) -> Vec<String> {
    super::verification::PURPOSE_NAMES.iter().map(|purpose| code_failure_key(purpose, email)).collect()
}

/// Every factor's failure keys for the account `email`: what a successful sign-in clears.
pub(super) fn all_failure_keys(email: &str) -> Vec<String> {
    Factor::ALL.iter().map(|&factor| factor_failure_key(factor, email)).collect()
}
