//! Sessions: creating them at sign-in, identifying the caller from a token (`caller.rs` has the
//! caller types), and what a signed-in user does with their sessions (`manage.rs`).

mod caller;
mod manage;

pub(super) use manage::other_sessions;

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};

pub use caller::{Caller, CredentialKind, SessionCaller};

use super::{
    RequestMeta, Services,
    access_token_cache::{AccessTokenCache, Verified},
};
use crate::domain::{Session, User};
use crate::{
    crypto::{AccessTokenSigner, IssuedAccessToken},
    domain::{SessionToken, later},
    error::{Error, Result},
    store::{NewSession, SessionRecord, SessionWithUser, UserRecord, new_id},
};

/// How long sessions live, how often their use is written down, and how recent a proof of a
/// factor must be for a factor change.
#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    pub idle_timeout: Duration,
    pub max_age: Duration,
    pub touch_interval: Duration,
    pub reauthentication_window: Duration,
}

fn chrono_duration(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// What any successful sign-in returns.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub user: User,
    pub session: Session,
    pub token: SessionToken,
    pub access_token: IssuedAccessToken,
}

/// `UserDisabled` for a user an operator disabled. Every sign-in path calls it once the
/// credential checked out (so it reveals nothing to someone who does not hold one).
pub(super) fn refuse_disabled(user: &UserRecord) -> Result<()> {
    if user.disabled_at.is_some() { Err(Error::UserDisabled) } else { Ok(()) }
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
        let expires = later(now, policy.max_age)?;
        let session = NewSession {
            id: new_id(),
            token_hash: token.hash().as_str().to_owned(),
            user_id: user_id.to_owned(),
            created_at: now,
            authenticated_at: now,
            idle_expires: later(now, policy.idle_timeout)?.min(expires),
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
        let access_token = self.issue_access_token(&user, &session.id, now)?;
        Ok(SignedIn { user: User::from(&user), session: Session::from(&session), token, access_token })
    }

    /// Signs an existing user in: creates a session and an access token.
    /// A disabled user (`UserDisabled`) gets no session, whichever factor they proved.
    pub async fn sign_in(&self, user: UserRecord, meta: &RequestMeta) -> Result<SignedIn> {
        refuse_disabled(&user)?;
        let now = self.inner.clock.now();
        let (new_session, token) = self.new_session(&user.id, meta, now)?;
        let session = self.inner.store.insert_session(new_session).await?;
        self.signed_in(user, session, token, now)
    }

    /// An access token for `user`'s session `session_id`, carrying the user's roles.
    fn issue_access_token(&self, user: &UserRecord, session_id: &str, now: DateTime<Utc>) -> Result<IssuedAccessToken> {
        self.inner.signer.issue(&self.inner.keys.current(), &user.id, session_id, user.role_names(), now)
    }

    /// Identifies the caller from a session token or an access token. Every kind of failure
    /// (unknown, malformed, expired, revoked, bad signature) is the same `SessionInvalid`.
    pub async fn authenticate(&self, token: &str) -> Result<Caller> {
        if AccessTokenSigner::looks_like_jwt(token) {
            return self.authenticate_access_token(token).await;
        }
        let token = SessionToken::parse_session(token)
            .or_else(|| self.better_auth_session_token(token))
            .ok_or(Error::SessionInvalid)?;
        let hash = token.hash();
        let cache = &self.inner.session_cache;
        let found = match cache.by_token_hash(hash.as_str()) {
            Some(found) => Some(found),
            None => {
                let read_at = cache.generation();
                let found = self.inner.store.find_session_by_token_hash(hash.as_str()).await?;
                found.inspect(|found| cache.put(found, read_at))
            }
        };
        self.live_caller(found, CredentialKind::SessionToken).await
    }

    /// The session token inside a better-auth signed cookie value, when this database holds an
    /// imported better-auth app's secret and the signature is its.
    fn better_auth_session_token(&self, presented: &str) -> Option<SessionToken> {
        let secret = self.inner.better_auth.as_ref()?;
        SessionToken::from_better_auth(&secret.verify_cookie(presented)?)
    }

    async fn authenticate_access_token(&self, token: &str) -> Result<Caller> {
        let verified = self.verified_access_token(token).await?;
        let claims = &verified.claims;
        // The token's own expiry is checked against our clock too (the JWT library uses the
        // system clock), so both agree in tests that move time.
        if claims.exp + self.inner.signer.settings().leeway.as_secs().cast_signed()
            <= self.inner.clock.now().timestamp()
        {
            return Err(Error::SessionInvalid);
        }
        let cache = &self.inner.session_cache;
        let found = match cache.by_session_id(&claims.sid) {
            Some(found) => Some(found),
            None => {
                let read_at = cache.generation();
                self.inner.store.find_session(&claims.sid).await?.inspect(|found| cache.put(found, read_at))
            }
        };
        // The access token is only as good as its session: revocation shows here.
        let caller = self.live_caller(found, CredentialKind::AccessToken).await?;
        if caller.user.id != claims.sub {
            return Err(Error::SessionInvalid);
        }
        Ok(caller)
    }

    /// The token's claims once its signature verified, from the cache of verified tokens when
    /// there (only while its signing key is still in the key set). The expiry and session checks
    /// are the caller's, on every call.
    async fn verified_access_token(&self, token: &str) -> Result<Arc<Verified>> {
        let digest = AccessTokenCache::digest(token);
        if let Some(verified) = self.inner.access_tokens.get(&digest)
            && self.inner.keys.current().verifies(&verified.kid)
        {
            return Ok(verified);
        }
        let mut claims = self.inner.signer.verify(&self.inner.keys.current(), token);
        if claims.is_err() {
            // Perhaps signed by a key another process just rotated in: reload (rate-limited) and
            // retry once.
            let keys = &self.inner.keys;
            if keys.reload_on_demand(self.inner.signer.settings(), self.inner.clock.now()).await? {
                claims = self.inner.signer.verify(&keys.current(), token);
            }
        }
        let kid = AccessTokenSigner::key_id(token).ok_or(Error::SessionInvalid)?;
        let verified = Arc::new(Verified { claims: claims?, kid });
        self.inner.access_tokens.put(digest, Arc::clone(&verified));
        Ok(verified)
    }

    async fn live_caller(&self, found: Option<SessionWithUser>, via: CredentialKind) -> Result<Caller> {
        let SessionWithUser { mut session, user } = found.ok_or(Error::SessionInvalid)?;
        let now = self.inner.clock.now();
        // Disabling ends every session at once; this also refuses a session that a sign-in racing
        // the disable created (another replica's cached copy ends within the cache TTL, as for
        // any revocation).
        if now >= session.expires || now >= session.idle_expires || user.disabled_at.is_some() {
            return Err(Error::SessionInvalid);
        }
        // Write last-seen at most once per touch interval: GetSession stays a pure read on the
        // hot path, and idle expiry is precise to within that interval.
        if now - session.last_seen_at >= chrono_duration(self.inner.sessions.touch_interval) {
            self.touch(&mut session, now).await?;
            self.inner.session_cache.refresh(&SessionWithUser { session: session.clone(), user: user.clone() });
        }
        Ok(Caller::new(user, session, via))
    }

    async fn touch(&self, session: &mut SessionRecord, now: DateTime<Utc>) -> Result<()> {
        let idle_expires = later(now, self.inner.sessions.idle_timeout)?.min(session.expires);
        self.inner.store.touch_session(&session.id, now, idle_expires).await?;
        session.last_seen_at = now;
        session.idle_expires = idle_expires;
        Ok(())
    }

    /// Deletes session `session_id` of `user_id` and drops it from this replica's cache, so it
    /// stops working here at once. The one way sessions end early; false when there was none.
    pub(super) async fn end_session(&self, user_id: &str, session_id: &str) -> Result<bool> {
        let deleted = self.inner.store.delete_user_session(user_id, session_id, self.inner.clock.now()).await?;
        self.inner.session_cache.forget_session(session_id);
        Ok(deleted)
    }

    /// After a successful sign-in: the sessions the caller presented with the request (cookie or
    /// bearer token) end, whoever they belonged to — the client now holds the new session, and a
    /// session planted in the browser beforehand must not survive the sign-in (session fixation;
    /// ASVS 5 V7.2.4). Access tokens are left alone: they end with their session, and presenting
    /// one must not end anything. Best effort: the sign-in stands if this fails.
    pub async fn end_presented_sessions(&self, presented: &[String], signed_in: &SignedIn) {
        for token in presented {
            let Some(token) = SessionToken::parse(token) else { continue };
            let result = async {
                let Some(found) = self.inner.store.find_session_by_token_hash(token.hash().as_str()).await? else {
                    return Ok::<(), Error>(());
                };
                if found.session.id == signed_in.session.id {
                    return Ok(());
                }
                if self.end_session(&found.user.id, &found.session.id).await? {
                    let detail = serde_json::json!({ "session_id": found.session.id, "replaced_by_user": signed_in.user.id != found.user.id });
                    self.audit(Some(&found.user.id), super::audit::kind::SESSION_REPLACED, detail).await;
                }
                Ok(())
            }
            .await;
            if let Err(err) = result {
                tracing::warn!(error = %err, "could not end the session replaced by a sign-in");
            }
        }
    }
}
