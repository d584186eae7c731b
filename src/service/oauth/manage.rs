//! The providers on offer, and the caller's linked accounts.

use serde_json::json;

use super::ProviderInfo;
use crate::domain::LinkedAccount;
use crate::{
    domain::PageRequest,
    error::{Error, FieldReason, Resource, Result},
    service::{
        Caller, RequestMeta, Services, SessionCaller, audit::kind, email::notices::FactorChange,
        sessions::other_sessions,
    },
    store::UnlinkOutcome,
};

/// Account ids are UUIDs; anything much longer is garbage.
const MAX_ACCOUNT_ID_BYTES: usize = 64;

impl Services {
    /// The enabled providers, for a sign-in page's buttons.
    pub fn list_oauth_providers(&self) -> Vec<ProviderInfo> {
        self.inner.oauth.list()
    }

    /// One page of the caller's linked accounts, newest first, and the token of the next page.
    pub async fn list_linked_accounts(
        &self,
        caller: &Caller,
        page_size: i32,
        page_token: &str,
    ) -> Result<(Vec<LinkedAccount>, Option<String>)> {
        let page = PageRequest::parse(page_size, page_token)?;
        let accounts =
            self.inner.store.list_accounts(&caller.user.id, page.after.as_deref(), page.fetch_limit()).await?;
        let (accounts, next) = page.finish(accounts, |item| &item.id);
        Ok((accounts.iter().map(LinkedAccount::from).collect(), next))
    }

    /// Removes one of the caller's linked accounts, unless it is their last way to sign in. A
    /// factor change: needs a recent authentication, and ends the caller's other sessions unless
    /// `keep_other_sessions` (ASVS 5 V7.4.3). Returns how many sessions ended.
    pub async fn unlink_account(
        &self,
        caller: &SessionCaller,
        account_id: &str,
        keep_other_sessions: bool,
        meta: &RequestMeta,
    ) -> Result<u64> {
        let account_id = account_id.trim();
        if account_id.is_empty() {
            return Err(Error::field("account_id", FieldReason::Required, "account_id is required"));
        }
        if account_id.len() > MAX_ACCOUNT_ID_BYTES {
            return Err(Error::field("account_id", FieldReason::TooLong, "account_id is too long"));
        }
        self.require_recent_authentication(caller)?;
        let other = other_sessions(caller, !keep_other_sessions);
        let notice = |provider: &str| {
            let provider = self.inner.oauth.display_name(provider);
            self.factor_notice(&caller.user.email, &FactorChange::ProviderUnlinked { provider: &provider }, meta)
        };
        let now = self.inner.clock.now();
        match self.inner.store.unlink_account(&caller.user.id, account_id, now, other, notice).await? {
            UnlinkOutcome::Unlinked(ended) => {
                self.inner.outbox.wake();
                self.forget_ended_sessions(caller, ended);
                let detail = json!({ "account_id": account_id, "revoked_sessions": ended });
                self.audit(Some(&caller.user.id), kind::ACCOUNT_UNLINKED, detail).await;
                Ok(ended)
            }
            UnlinkOutcome::NotFound => Err(Error::NotFound(Resource::LinkedAccount)),
            UnlinkOutcome::LastSignInMethod => Err(Error::LastSignInMethod),
        }
    }
}
