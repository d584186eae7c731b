//! Self-service account deletion (AuthService.DeleteAccount): the signed-in user deletes their
//! own account, with a recent authentication (OWASP ASVS 5 V7.5.1 counts it among the sensitive
//! changes), ending every session. What goes with the user is `Store::delete_user`'s cascade; the
//! audit history keeps the user id.

use serde_json::json;

use super::{Services, SessionCaller, audit::kind};
use crate::{error::Result, store::AuditEvent};

impl Services {
    /// Deletes the caller's account and with it every session, passkey and linked account.
    pub async fn delete_account(&self, caller: &SessionCaller) -> Result<()> {
        self.require_recent_authentication(caller)?;
        let event = AuditEvent {
            user_id: Some(caller.user.id.clone()),
            kind: kind::ACCOUNT_DELETED,
            detail: json!({ "session_id": caller.session.id }),
            at: self.inner.clock.now(),
        };
        // Gone already (a concurrent deletion): the result the caller asked for holds.
        self.inner.store.delete_user(&caller.user.id, event).await?;
        self.inner.session_cache.forget_user(&caller.user.id);
        Ok(())
    }
}
