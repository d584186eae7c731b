//! What a signed-in user does with their sessions: list them, refresh the current one, end one,
//! end all the others, log out.

use serde_json::json;

use super::{Caller, SessionCaller};
use crate::domain::Session;
use crate::{
    crypto::IssuedAccessToken,
    domain::PageRequest,
    error::{Error, FieldReason, Resource, Result},
    service::{Services, audit::kind},
    store::{OtherSessions, SessionWithUser},
};

impl Services {
    /// Ends the caller's session.
    pub async fn logout(&self, caller: &SessionCaller) -> Result<()> {
        self.end_session(&caller.user.id, &caller.session.id).await?;
        self.audit(Some(&caller.user.id), kind::LOGOUT, json!({ "session_id": caller.session.id })).await;
        Ok(())
    }

    /// Extends the caller's idle expiry and issues a fresh access token. Needs the session
    /// token: an access token, which other services also see, must not be able to renew itself.
    pub async fn refresh(&self, caller: &SessionCaller) -> Result<(Session, IssuedAccessToken)> {
        let now = self.inner.clock.now();
        let mut session = caller.session.clone();
        self.touch(&mut session, now).await?;
        self.inner.session_cache.refresh(&SessionWithUser { session: session.clone(), user: caller.user.clone() });
        let access_token = self.issue_access_token(&caller.user, &session.id, now)?;
        Ok((Session::from(&session), access_token))
    }

    /// One page of the caller's live sessions, newest first, and the next page token.
    pub async fn list_sessions(
        &self,
        caller: &Caller,
        page_size: i32,
        page_token: &str,
    ) -> Result<(Vec<Session>, Option<String>)> {
        let page = PageRequest::parse(page_size, page_token)?;
        let now = self.inner.clock.now();
        let sessions = self
            .inner
            .store
            .list_user_sessions(&caller.user.id, now, page.after.as_deref(), page.fetch_limit())
            .await?;
        let (sessions, next) = page.finish(sessions, |item| &item.id);
        Ok((sessions.iter().map(Session::from).collect(), next))
    }

    /// Revokes one of the caller's own sessions. Someone else's session id answers exactly like
    /// an unknown one. Ending a session other than the current one needs a recent
    /// authentication (ASVS 5 V7.5.2: a stolen session must not sign its owner out everywhere);
    /// ending the current one is a logout.
    pub async fn revoke_session(&self, caller: &SessionCaller, session_id: &str) -> Result<()> {
        let session_id = session_id.trim();
        if session_id.is_empty() {
            return Err(Error::field("session_id", FieldReason::Required, "session_id is required"));
        }
        if session_id.len() > 64 {
            return Err(Error::field("session_id", FieldReason::TooLong, "session_id must be at most 64 characters"));
        }
        if session_id != caller.session.id {
            self.require_recent_authentication(caller)?;
        }
        if !self.end_session(&caller.user.id, session_id).await? {
            return Err(Error::NotFound(Resource::Session));
        }
        self.audit(Some(&caller.user.id), kind::SESSION_REVOKED, json!({ "session_id": session_id })).await;
        Ok(())
    }

    /// "Sign out everywhere else": ends every session of the caller's but the current one.
    /// Needs a recent authentication, like revoking any other session. Returns how many ended.
    pub async fn revoke_other_sessions(&self, caller: &SessionCaller) -> Result<u64> {
        self.require_recent_authentication(caller)?;
        let ended =
            self.inner.store.delete_other_sessions(&caller.user.id, &caller.session.id, self.inner.clock.now()).await?;
        self.forget_ended_sessions(caller, ended);
        self.audit(Some(&caller.user.id), kind::OTHER_SESSIONS_REVOKED, json!({ "revoked_sessions": ended })).await;
        Ok(ended)
    }

    /// After a change that ended `ended` of the caller's other sessions in the store: they stop
    /// working on this replica now, not when their cache entries age out.
    pub(in crate::service) fn forget_ended_sessions(&self, caller: &SessionCaller, ended: u64) {
        if ended > 0 {
            self.inner.session_cache.forget_user(&caller.user.id);
        }
    }
}

/// What a factor change does with the caller's other sessions: end them all (`end_them`) or
/// keep them.
pub(in crate::service) fn other_sessions(caller: &SessionCaller, end_them: bool) -> OtherSessions<'_> {
    if end_them { OtherSessions::EndAllBut(&caller.session.id) } else { OtherSessions::Keep }
}
