//! Passkey management: list, rename and delete the caller's passkeys.

use serde_json::json;

use super::registration::passkey_name;
use crate::domain::Passkey;
use crate::{
    domain::PageRequest,
    error::{Error, FieldReason, Resource, Result},
    service::{
        Caller, RequestMeta, Services, SessionCaller, audit::kind as audit, email::notices::FactorChange,
        sessions::other_sessions,
    },
};

fn check_passkey_id(passkey_id: &str) -> Result<&str> {
    let passkey_id = passkey_id.trim();
    if passkey_id.is_empty() {
        return Err(Error::field("passkey_id", FieldReason::Required, "passkey_id is required"));
    }
    if passkey_id.len() > 64 {
        return Err(Error::field("passkey_id", FieldReason::TooLong, "passkey_id must be at most 64 characters"));
    }
    Ok(passkey_id)
}

impl Services {
    /// One page of the caller's passkeys, newest first, and the next page token.
    pub async fn list_passkeys(
        &self,
        caller: &Caller,
        page_size: i32,
        page_token: &str,
    ) -> Result<(Vec<Passkey>, Option<String>)> {
        let page = PageRequest::parse(page_size, page_token)?;
        let passkeys = self
            .inner
            .store
            .list_user_authenticators(&caller.user.id, page.after.as_deref(), page.fetch_limit())
            .await?;
        let (passkeys, next) = page.finish(passkeys, |item| &item.id);
        Ok((passkeys.iter().map(Passkey::from).collect(), next))
    }

    /// Renames one of the caller's passkeys. Someone else's passkey id answers like an unknown one.
    pub async fn rename_passkey(&self, caller: &SessionCaller, passkey_id: &str, name: &str) -> Result<Passkey> {
        let passkey_id = check_passkey_id(passkey_id)?;
        let Some(name) = passkey_name("name", name)? else {
            return Err(Error::field("name", FieldReason::Required, "name is required"));
        };
        let renamed = self
            .inner
            .store
            .rename_authenticator(&caller.user.id, passkey_id, name)
            .await?
            .ok_or(Error::NotFound(Resource::Passkey))?;
        self.audit(Some(&caller.user.id), audit::PASSKEY_RENAMED, json!({ "passkey_id": passkey_id })).await;
        Ok(Passkey::from(&renamed))
    }

    /// Deletes one of the caller's passkeys, unless it is their last way to sign in. A factor
    /// change: needs a recent authentication, and ends the caller's other sessions unless
    /// `keep_other_sessions` (ASVS 5 V7.4.3). Returns how many sessions ended.
    pub async fn delete_passkey(
        &self,
        caller: &SessionCaller,
        passkey_id: &str,
        keep_other_sessions: bool,
        meta: &RequestMeta,
    ) -> Result<u64> {
        let passkey_id = check_passkey_id(passkey_id)?;
        self.require_recent_authentication(caller)?;
        let other = other_sessions(caller, !keep_other_sessions);
        let now = self.inner.clock.now();
        let ended = self
            .inner
            .store
            .delete_authenticator_unless_last_method(&caller.user.id, passkey_id, now, other, |name| {
                self.factor_notice(&caller.user.email, &FactorChange::PasskeyRemoved { name }, meta)
            })
            .await?
            .ok_or(Error::NotFound(Resource::Passkey))?;
        self.inner.outbox.wake();
        self.forget_ended_sessions(caller, ended);
        let detail = json!({ "passkey_id": passkey_id, "revoked_sessions": ended });
        self.audit(Some(&caller.user.id), audit::PASSKEY_DELETED, detail).await;
        Ok(ended)
    }
}
