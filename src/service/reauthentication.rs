//! Recent authentication. A session records when the user last proved a factor in it
//! (`authenticated_at`: the sign-in, or a re-authentication). Changing a sign-in method — adding
//! or deleting a passkey, changing the password, linking or unlinking a provider — needs that to
//! be within `reauthentication_window_secs`, so a stolen or forgotten session cannot plant or
//! remove a way in (OWASP ASVS 5 V7.5.1; NIST SP 800-63B-4, authenticator binding: an added
//! authenticator is bound only after authenticating the subscriber). Ending sessions other than
//! the current one asks for the same (ASVS 5 V7.5.2).
//!
//! Re-authentication stamps the caller's own session and creates none: with the password here,
//! with a passkey assertion in `passkeys/reauthentication.rs`.

use serde_json::json;

use super::{Budget, RequestMeta, Services, SessionCaller, audit::kind, sign_in_guard::Factor};
use crate::domain::Session;
use crate::{
    domain::{Password, later},
    error::{Error, FieldReason, Result},
    store::{SessionRecord, SessionWithUser},
};

impl Services {
    /// Ok when the caller proved a factor in this session within the re-authentication window,
    /// else `ReauthenticationRequired`. Every factor change calls this before it changes anything.
    pub(super) fn require_recent_authentication(&self, caller: &SessionCaller) -> Result<()> {
        let fresh_until = later(caller.session.authenticated_at, self.inner.sessions.reauthentication_window)?;
        if self.inner.clock.now() < fresh_until { Ok(()) } else { Err(Error::ReauthenticationRequired) }
    }

    /// Re-authenticates the caller with their password: one argon2 verification, then their
    /// session counts as freshly authenticated. A wrong password is `PASSWORD_INCORRECT` (on the
    /// `password` field) and changes nothing but an audit row.
    pub async fn reauthenticate_with_password(
        &self,
        caller: &SessionCaller,
        password: &str,
        meta: &RequestMeta,
    ) -> Result<Session> {
        let password = Password::parse_existing("password", password, self.inner.password_policy)?;
        self.verify_current_password(caller, "password", password, meta).await?;
        self.mark_reauthenticated(caller, "password").await
    }

    /// Checks `password` against the caller's stored hash (re-read: the caller's copy of the user
    /// may predate a password change). A stolen session must not become a password-guessing
    /// oracle, nor a throw-away account a way onto the hashing pool: the check is throttled like
    /// Login — the client address's `login` budget, then an attempt counted against the account
    /// (`sign_in_guard`) — before the hash runs. A mismatch is audited and named after `field`.
    pub(super) async fn verify_current_password(
        &self,
        caller: &SessionCaller,
        field: &'static str,
        password: Password,
        meta: &RequestMeta,
    ) -> Result<()> {
        self.throttle_client(Budget::Login, meta)?;
        let user = self.inner.store.find_user(&caller.user.id).await?.ok_or(Error::SessionInvalid)?;
        let stored_hash = user.password_hash.ok_or(Error::NoPassword)?;
        self.reserve_sign_in_attempt(Factor::Password, &user.email).await?;
        let verification = match self.inner.hasher.verify(password, Some(stored_hash)).await {
            Ok(verification) => verification,
            Err(err) => {
                self.release_sign_in_attempt(Factor::Password, &user.email).await;
                return Err(err);
            }
        };
        if verification.matches {
            return self.sign_in_succeeded(&user.email).await;
        }
        self.audit(Some(&caller.user.id), kind::REAUTHENTICATION_FAILED, json!({ "method": "password" })).await;
        Err(Error::field(field, FieldReason::PasswordIncorrect, "the password is not correct"))
    }

    /// Records that the user just proved a factor (`method`) in the caller's session.
    pub(super) async fn mark_reauthenticated(&self, caller: &SessionCaller, method: &str) -> Result<Session> {
        let now = self.inner.clock.now();
        self.inner.store.stamp_session_authentication(&caller.session.id, now).await?;
        let session = SessionRecord { authenticated_at: now, ..caller.session.clone() };
        // This replica's cached copy must not keep the old time, or the retry right after a
        // re-authentication would be refused again.
        self.inner.session_cache.refresh(&SessionWithUser { session: session.clone(), user: caller.user.clone() });
        self.audit(
            Some(&caller.user.id),
            kind::SESSION_REAUTHENTICATED,
            json!({ "method": method, "session_id": session.id }),
        )
        .await;
        Ok(Session::from(&session))
    }
}
