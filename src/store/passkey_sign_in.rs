//! A passkey sign-in's writes in one transaction: taking the ceremony, checking the factor is
//! not locked, advancing the counter, clearing failures, the session (with its webhook) and the
//! audit event — one commit, so one fsync per ceremony instead of seven.

use chrono::{DateTime, Utc};

use super::{
    AuditEvent, AuthenticatorUse, FailurePolicy, NewSession, SessionRecord, Store, authenticators, ceremonies,
    sessions::insert_session_in, sign_in_failures,
};
use crate::error::Result;

/// Everything a regular passkey sign-in writes, decided before the transaction opens (the
/// assertion already verified).
#[derive(Debug, Clone)]
pub struct PasskeySignIn {
    /// The ceremony to take (of `ceremony_kind`, started without a signed-in user).
    pub ceremony_id: String,
    pub ceremony_kind: &'static str,
    /// The passkey used, what its use records, and the counter it moves to (strictly up).
    pub authenticator_id: String,
    pub usage: AuthenticatorUse,
    pub advance_counter_to: Option<i64>,
    /// The account's failure key for passkeys (refused while locked) and the keys a success
    /// clears (every factor's).
    pub passkey_failure_key: String,
    pub failure_keys: Vec<String>,
    /// The account address's mailed-code failure counts, which a success also clears.
    pub code_failure_keys: Vec<String>,
    pub failure_policy: FailurePolicy,
    pub session: NewSession,
    pub audit: AuditEvent,
    pub now: DateTime<Utc>,
}

/// How a one-transaction sign-in ended.
#[derive(Debug)]
pub enum PasskeySignInOutcome {
    /// Committed: the session.
    SignedIn(SessionRecord),
    /// Rolled back, nothing written: the ceremony was gone (another finish took it, or it was
    /// never there), the factor is locked, or the counter no longer moves up (a concurrent
    /// sign-in with the same passkey). The caller decides it step by step instead.
    Irregular,
}

impl Store {
    /// Writes a regular passkey sign-in in one transaction, or nothing (see
    /// `PasskeySignInOutcome::Irregular`). Single use holds as before: the ceremony is taken with
    /// `DELETE … RETURNING` inside the transaction, so of two finishes of one ceremony (on any
    /// replicas) one commits and the other finds nothing.
    pub async fn sign_in_with_passkey(&self, sign_in: PasskeySignIn) -> Result<PasskeySignInOutcome> {
        let txn = self.begin_write().await?;
        let taken = ceremonies::take_anonymous_ceremony_in(&txn, &sign_in.ceremony_id, sign_in.ceremony_kind).await?;
        // Its expiry was checked by the caller when it read the ceremony, at `now`.
        let regular = taken.is_some()
            && !sign_in_failures::sign_in_refused_in(
                &txn,
                &sign_in.passkey_failure_key,
                sign_in.now,
                sign_in.failure_policy,
            )
            .await?
            && authenticators::record_authenticator_use_in(
                &txn,
                &sign_in.authenticator_id,
                sign_in.usage,
                sign_in.advance_counter_to,
            )
            .await?;
        if !regular {
            txn.rollback().await?;
            return Ok(PasskeySignInOutcome::Irregular);
        }
        sign_in_failures::clear_sign_in_failures_in(&txn, &sign_in.failure_keys, sign_in.now).await?;
        super::code_failures::clear_code_failures_in(&txn, &sign_in.code_failure_keys).await?;
        let session = insert_session_in(self, &txn, sign_in.session).await?;
        Self::insert_audit_event_in(&txn, sign_in.audit).await?;
        txn.commit().await?;
        self.webhooks_committed();
        Ok(PasskeySignInOutcome::SignedIn(session))
    }
}
