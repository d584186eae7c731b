use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{RequestMeta, Services, audit::kind};
use crate::{
    config::Config,
    crypto::{AccessTokenSigner, IssuedAccessToken},
    domain::{PageRequest, SessionToken},
    error::{Error, FieldReason, Resource, Result},
    store::{NewSession, SessionRecord, SessionWithUser, UserRecord, new_id},
};

/// How long sessions live and how often their use is written down.
#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    pub idle_timeout: Duration,
    pub max_age: Duration,
    pub touch_interval: Duration,
}

impl SessionPolicy {
    pub fn from_config(config: &Config) -> Self {
        Self {
            idle_timeout: config.session_idle_timeout(),
            max_age: config.session_max_age(),
            touch_interval: config.session_touch_interval(),
        }
    }
}

fn chrono_duration(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// Which kind of credential identified the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialKind {
    /// The opaque session token (bearer metadata or cookie).
    SessionToken,
    /// A JWT access token: enough to read, not to extend or end the session.
    AccessToken,
}

/// An authenticated caller: a live session and its user.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: UserRecord,
    pub session: SessionRecord,
    pub via: CredentialKind,
}

/// What any successful sign-in returns.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub user: UserRecord,
    pub session: SessionRecord,
    pub token: SessionToken,
    pub access_token: IssuedAccessToken,
}

impl Services {
    /// A new session row for `user_id`, plus the token that only this response will ever see.
    pub(super) fn new_session(
        &self,
        user_id: &str,
        meta: &RequestMeta,
        now: DateTime<Utc>,
    ) -> Result<(NewSession, SessionToken)> {
        let policy = &self.inner.sessions;
        let token = SessionToken::generate()?;
        let expires = now + chrono_duration(policy.max_age);
        let session = NewSession {
            id: new_id(),
            token_hash: token.hash().as_str().to_owned(),
            user_id: user_id.to_owned(),
            created_at: now,
            idle_expires: (now + chrono_duration(policy.idle_timeout)).min(expires),
            expires,
            user_agent: meta.user_agent.clone(),
        };
        Ok((session, token))
    }

    /// Completes a sign-in once the session row exists: issues the access token.
    pub(super) fn signed_in(
        &self,
        user: UserRecord,
        session: SessionRecord,
        token: SessionToken,
        now: DateTime<Utc>,
    ) -> Result<SignedIn> {
        let access_token = self.issue_access_token(&user.id, &session.id, now)?;
        Ok(SignedIn { user, session, token, access_token })
    }

    /// Signs an existing user in: creates a session and an access token.
    pub async fn sign_in(&self, user: UserRecord, meta: &RequestMeta) -> Result<SignedIn> {
        let now = self.inner.clock.now();
        let (new_session, token) = self.new_session(&user.id, meta, now)?;
        let session = self.inner.store.insert_session(new_session).await?;
        self.signed_in(user, session, token, now)
    }

    fn issue_access_token(&self, user_id: &str, session_id: &str, now: DateTime<Utc>) -> Result<IssuedAccessToken> {
        self.inner.signer.issue(&self.inner.keys.current(), user_id, session_id, now)
    }

    /// Identifies the caller from a session token or an access token. Every kind of failure
    /// (unknown, malformed, expired, revoked, bad signature) is the same `SessionInvalid`.
    pub async fn authenticate(&self, token: &str) -> Result<Caller> {
        if AccessTokenSigner::looks_like_jwt(token) {
            return self.authenticate_access_token(token).await;
        }
        let token = SessionToken::parse_session(token).ok_or(Error::SessionInvalid)?;
        let hash = token.hash();
        let found = match self.inner.session_cache.by_token_hash(hash.as_str()) {
            Some(found) => Some(found),
            None => self
                .inner
                .store
                .find_session_by_token_hash(hash.as_str())
                .await?
                .inspect(|found| self.inner.session_cache.put(found)),
        };
        self.live_caller(found, CredentialKind::SessionToken).await
    }

    async fn authenticate_access_token(&self, token: &str) -> Result<Caller> {
        let mut claims = self.inner.signer.verify(&self.inner.keys.current(), token);
        if claims.is_err() {
            // Perhaps signed by a key another process just rotated in: reload (rate-limited) and
            // retry once.
            let keys = &self.inner.keys;
            if keys.reload_on_demand(self.inner.signer.settings(), self.inner.clock.now()).await? {
                claims = self.inner.signer.verify(&keys.current(), token);
            }
        }
        let claims = claims?;
        // The token's own expiry is checked against our clock too (the JWT library uses the
        // system clock), so both agree in tests that move time.
        if claims.exp + self.inner.signer.settings().leeway.as_secs().cast_signed()
            <= self.inner.clock.now().timestamp()
        {
            return Err(Error::SessionInvalid);
        }
        let found = match self.inner.session_cache.by_session_id(&claims.sid) {
            Some(found) => Some(found),
            None => {
                self.inner.store.find_session(&claims.sid).await?.inspect(|found| self.inner.session_cache.put(found))
            }
        };
        // The access token is only as good as its session: revocation shows here.
        let caller = self.live_caller(found, CredentialKind::AccessToken).await?;
        if caller.user.id != claims.sub {
            return Err(Error::SessionInvalid);
        }
        Ok(caller)
    }

    async fn live_caller(&self, found: Option<SessionWithUser>, via: CredentialKind) -> Result<Caller> {
        let SessionWithUser { mut session, user } = found.ok_or(Error::SessionInvalid)?;
        let now = self.inner.clock.now();
        if now >= session.expires || now >= session.idle_expires {
            return Err(Error::SessionInvalid);
        }
        // Write last-seen at most once per touch interval: GetSession stays a pure read on the
        // hot path, and idle expiry is precise to within that interval.
        if now - session.last_seen_at >= chrono_duration(self.inner.sessions.touch_interval) {
            self.touch(&mut session, now).await?;
            self.inner.session_cache.refresh(&SessionWithUser { session: session.clone(), user: user.clone() });
        }
        Ok(Caller { user, session, via })
    }

    async fn touch(&self, session: &mut SessionRecord, now: DateTime<Utc>) -> Result<()> {
        let idle_expires = (now + chrono_duration(self.inner.sessions.idle_timeout)).min(session.expires);
        self.inner.store.touch_session(&session.id, now, idle_expires).await?;
        session.last_seen_at = now;
        session.idle_expires = idle_expires;
        Ok(())
    }

    /// Deletes session `session_id` of `user_id` and drops it from this replica's cache, so it
    /// stops working here at once. The one way sessions end early; false when there was none.
    pub(super) async fn end_session(&self, user_id: &str, session_id: &str) -> Result<bool> {
        let deleted = self.inner.store.delete_user_session(user_id, session_id).await?;
        self.inner.session_cache.forget_session(session_id);
        Ok(deleted)
    }

    /// Ends the caller's session.
    pub async fn logout(&self, caller: &Caller) -> Result<()> {
        require_session_token(caller)?;
        self.end_session(&caller.user.id, &caller.session.id).await?;
        self.audit(Some(&caller.user.id), kind::LOGOUT, serde_json::json!({ "session_id": caller.session.id })).await;
        Ok(())
    }

    /// Extends the caller's idle expiry and issues a fresh access token. Needs the session
    /// token: an access token, which other services also see, must not be able to renew itself.
    pub async fn refresh(&self, caller: &Caller) -> Result<(SessionRecord, IssuedAccessToken)> {
        require_session_token(caller)?;
        let now = self.inner.clock.now();
        let mut session = caller.session.clone();
        self.touch(&mut session, now).await?;
        self.inner.session_cache.refresh(&SessionWithUser { session: session.clone(), user: caller.user.clone() });
        let access_token = self.issue_access_token(&caller.user.id, &session.id, now)?;
        Ok((session, access_token))
    }

    /// One page of the caller's live sessions, newest first, and the next page token.
    pub async fn list_sessions(
        &self,
        caller: &Caller,
        page_size: i32,
        page_token: &str,
    ) -> Result<(Vec<SessionRecord>, Option<String>)> {
        let page = PageRequest::parse(page_size, page_token)?;
        let now = self.inner.clock.now();
        let sessions = self
            .inner
            .store
            .list_user_sessions(&caller.user.id, now, page.after.as_deref(), page.fetch_limit())
            .await?;
        Ok(page.finish(sessions, |item| &item.id))
    }

    /// Revokes one of the caller's own sessions. Someone else's session id answers exactly like
    /// an unknown one.
    pub async fn revoke_session(&self, caller: &Caller, session_id: &str) -> Result<()> {
        require_session_token(caller)?;
        let session_id = session_id.trim();
        if session_id.is_empty() {
            return Err(Error::field("session_id", FieldReason::Required, "session_id is required"));
        }
        if session_id.len() > 64 {
            return Err(Error::field("session_id", FieldReason::TooLong, "session_id must be at most 64 characters"));
        }
        if !self.end_session(&caller.user.id, session_id).await? {
            return Err(Error::NotFound(Resource::Session));
        }
        self.audit(Some(&caller.user.id), kind::SESSION_REVOKED, serde_json::json!({ "session_id": session_id })).await;
        Ok(())
    }
}

fn require_session_token(caller: &Caller) -> Result<()> {
    match caller.via {
        CredentialKind::SessionToken => Ok(()),
        CredentialKind::AccessToken => Err(Error::SessionTokenRequired),
    }
}
