//! Audit event kinds and the best-effort writer (a failed audit write never fails the request),
//! which also queues the opt-in `signin.failed` webhook with every failed sign-in.

use super::Services;
use crate::store::{AuditEvent, WebhookEvent};

/// Audit event kinds. Stable strings: dashboards and alerts match on them.
pub(crate) mod kind {
    pub const USER_REGISTERED: &str = "user.registered";
    pub const USER_UPDATED: &str = "user.updated";
    /// The user deleted their own account (AuthService.DeleteAccount).
    pub const ACCOUNT_DELETED: &str = "account.deleted";
    pub const LOGIN_SUCCEEDED: &str = "login.succeeded";
    pub const LOGIN_FAILED: &str = "login.failed";
    pub const LOGOUT: &str = "session.logout";
    pub const SESSION_REVOKED: &str = "session.revoked";
    /// Every other session of the user ended at their request ("sign out everywhere else").
    pub const OTHER_SESSIONS_REVOKED: &str = "session.revoked_others";
    /// A sign-in from a caller that presented another session ended that session.
    pub const SESSION_REPLACED: &str = "session.replaced";
    pub const SESSION_REAUTHENTICATED: &str = "session.reauthenticated";
    pub const REAUTHENTICATION_FAILED: &str = "session.reauthentication_failed";
    pub const PASSWORD_CHANGED: &str = "password.changed";
    /// A password set with a mailed reset link (every session ended).
    pub const PASSWORD_RESET: &str = "password.reset";
    pub const EMAIL_VERIFIED: &str = "email.verified";
    /// A wrong mailed one-time code (of an address with a mail pending).
    pub const VERIFICATION_CODE_FAILED: &str = "verification.code_failed";
    pub const EMAIL_CHANGED: &str = "email.changed";
    pub const ACCOUNT_LINKED: &str = "account.linked";
    pub const ACCOUNT_UNLINKED: &str = "account.unlinked";
    pub const PASSKEY_ADDED: &str = "passkey.added";
    pub const PASSKEY_RENAMED: &str = "passkey.renamed";
    pub const PASSKEY_DELETED: &str = "passkey.deleted";
    pub const PASSKEY_COUNTER_REGRESSED: &str = "passkey.counter_regressed";
}

impl Services {
    /// Records an audit event. A failure to record is logged, not returned: the user's action
    /// already happened and must not be reported as failed.
    pub(super) async fn audit(&self, user_id: Option<&str>, kind: &'static str, detail: serde_json::Value) {
        let now = self.inner.clock.now();
        if kind == kind::LOGIN_FAILED {
            // The opt-in `signin.failed` webhook goes with the failure's audit event: the same
            // work whether or not the account exists (only `user_id` differs), and no change
            // it must commit with.
            let method = detail["method"].as_str().unwrap_or("unknown");
            let event = WebhookEvent::sign_in_failed(user_id, method, detail["client"].as_str());
            if let Err(err) = self.inner.store.emit_webhook(event, now).await {
                tracing::error!(error = %err, "could not queue the signin.failed webhook");
            }
        }
        let event = AuditEvent { user_id: user_id.map(str::to_owned), kind, detail, at: now };
        if let Err(err) = self.inner.store.record_audit_event(event).await {
            tracing::error!(error = %err, kind, "could not record audit event");
        }
    }
}
