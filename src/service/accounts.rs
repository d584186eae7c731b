//! Account use cases: register, login with a password, change the password, update the name.

use serde_json::json;

use super::{
    Budget, RequestMeta, Services, SessionCaller, SignedIn, audit::kind, email::notices::FactorChange,
    sign_in_guard::Factor,
};
use crate::domain::User;
use crate::{
    domain::{DisplayName, Email, NewPassword, Password},
    error::{Error, FieldReason, Result},
    store::{NewUser, SessionWithUser, new_id},
};

impl Services {
    /// Creates a user with email and password and signs them in. The user and the first session
    /// are written in one transaction.
    ///
    /// Under `require_email_verification` it signs nobody in and answers None for every address:
    /// the account is created in the background with a verification link, or a taken address's
    /// owner is told someone tried (`verification/sign_up.rs`) — no `EMAIL_TAKEN` oracle.
    pub async fn register(
        &self,
        email: &str,
        password: &str,
        name: &str,
        meta: &RequestMeta,
    ) -> Result<Option<SignedIn>> {
        let email = Email::parse("email", email)?;
        let name = DisplayName::parse("name", name)?;
        let mut user_inputs = vec![email.to_string()];
        user_inputs.extend(email.as_str().split('@').next().map(str::to_owned));
        user_inputs.extend(name.as_deref().map(str::to_owned));
        let password = Password::parse_new("password", password, self.inner.password_policy)?;
        self.throttle_client(Budget::Register, meta)?;
        let proves_address = self.inner.links.require_email_verification;
        if proves_address {
            self.spend_sign_up_mail_budget(&email)?;
        }
        let password = self.check_new_password(password, user_inputs).await?;

        let password_hash = self.inner.hasher.hash(password).await?;
        let now = self.inner.clock.now();
        let user = NewUser {
            id: new_id(),
            email: email.to_string(),
            name: name.into_inner(),
            password_hash: Some(password_hash),
            created_at: now,
            email_verified: None,
        };
        if proves_address {
            self.register_in_background(user, meta);
            return Ok(None);
        }
        let (session, token) = self.new_session(&user.id, meta, now)?;
        let SessionWithUser { session, user } = self.inner.store.create_user_with_session(user, session).await?;
        self.audit(
            Some(&user.id),
            kind::USER_REGISTERED,
            json!({ "method": "password", "client": meta.client_for_audit(), "user_agent": meta.user_agent }),
        )
        .await;
        self.signed_in(user, session, token, now).map(Some)
    }

    /// Signs in with email and password.
    ///
    /// Unknown email, user without a password and wrong password all do the same work (one
    /// argon2 verification, one audit write) and give the same `InvalidCredentials`, so neither
    /// the answer nor its timing tells whether the email has an account (OWASP ASVS V2.2 / V3.2).
    /// Before any of it: the client address's Login budget, then the account's consecutive
    /// failures (`sign_in_guard`), both keyed without looking the user up.
    pub async fn login(&self, email: &str, password: &str, meta: &RequestMeta) -> Result<SignedIn> {
        let email = Email::parse("email", email)?;
        let password = Password::parse_existing("password", password, self.inner.password_policy)?;
        self.throttle_client(Budget::Login, meta)?;
        self.reserve_sign_in_attempt(Factor::Password, email.as_str()).await?;
        let checked = async {
            let user = self.inner.store.find_user_by_email(email.as_str()).await?;
            let stored_hash = user.as_ref().and_then(|user| user.password_hash.clone());
            let dummy = self.inner.login_timing.dummy_for(email.as_str());
            let verification = self.inner.hasher.verify_or_dummy(password.clone(), stored_hash, dummy).await?;
            Ok::<_, Error>((user, verification))
        }
        .await;
        let (user, verification) = match checked {
            Ok(checked) => checked,
            Err(err) => {
                self.release_sign_in_attempt(Factor::Password, email.as_str()).await;
                return Err(err);
            }
        };
        let user = match user {
            Some(user) if verification.matches => user,
            user => {
                let user_id = user.as_ref().map(|user| user.id.as_str());
                let detail =
                    json!({ "method": "password", "client": meta.client_for_audit(), "user_agent": meta.user_agent });
                self.audit(user_id, kind::LOGIN_FAILED, detail).await;
                return Err(Error::InvalidCredentials);
            }
        };
        self.sign_in_succeeded(email.as_str()).await?;
        if self.inner.links.require_email_verification && user.email_verified.is_none() {
            self.refuse_unverified(&user, meta).await;
            return Err(Error::EmailNotVerified);
        }
        if verification.needs_rehash {
            self.upgrade_password_hash(&user.id, password).await;
        }
        let signed_in = self.sign_in(user, meta).await?;
        self.audit(
            Some(&signed_in.user.id),
            kind::LOGIN_SUCCEEDED,
            json!({ "method": "password", "session_id": signed_in.session.id, "client": meta.client_for_audit(), "user_agent": meta.user_agent }),
        )
        .await;
        Ok(signed_in)
    }

    /// zxcvbn's estimate on the CPU pool, like argon2: it costs up to tens of milliseconds of CPU
    /// per call, which on the async runtime would stall every other call (GetSession included).
    /// Then, when configured, the breached-password range check (`breach_check.rs`; it fails
    /// open). Callers have spent their budgets before calling this.
    pub(super) async fn check_new_password(&self, password: NewPassword, user_inputs: Vec<String>) -> Result<Password> {
        let field = password.field();
        let password = self.inner.cpu.run(move |_| password.check_guessability(&user_inputs)).await??;
        if let Some(check) = &self.inner.breach_check
            && check.is_breached(&password).await
        {
            // The same reason as zxcvbn's refusal: NIST SP 800-63B-4 §3.1.1.2 makes breached
            // values part of the one blocklist of passwords attackers try first.
            return Err(Error::field(
                field,
                FieldReason::PasswordTooCommon,
                "This password has appeared in a data breach: choose another.",
            ));
        }
        Ok(password)
    }

    /// Re-hashes with today's parameters after a successful login. Best effort: the login stands
    /// even if this fails, and the next login tries again.
    async fn upgrade_password_hash(&self, user_id: &str, password: Password) {
        let result = async {
            let hash = self.inner.hasher.hash(password).await?;
            self.inner.store.set_password_hash(user_id, hash, self.inner.clock.now()).await?;
            self.inner.session_cache.forget_user(user_id);
            Ok::<(), Error>(())
        }
        .await;
        match result {
            Ok(()) => tracing::info!(user_id, "password hash upgraded to current parameters"),
            Err(err) => tracing::warn!(user_id, error = %err, "password hash upgrade failed"),
        }
    }

    /// Changes the caller's password after checking the current one, and revokes every other
    /// session of theirs (someone who knew the old password may hold one). Returns how many.
    ///
    /// A factor change needs a recent authentication; here the current password in the request
    /// *is* it (NIST SP 800-63B-4: a memorized secret is changed after authenticating with the
    /// existing one), so a stale session that knows the password may change it and one that
    /// does not changes nothing. The current password is checked first, throttled like Login
    /// (`verify_current_password`); only then is the new one's strength estimated, so a wrong
    /// current password never reaches zxcvbn (OWASP ASVS 5 V2.4.1: budget before work).
    pub async fn change_password(
        &self,
        caller: &SessionCaller,
        current: &str,
        new: &str,
        meta: &RequestMeta,
    ) -> Result<u64> {
        let policy = self.inner.password_policy;
        let current = Password::parse_existing("current_password", current, policy)?;
        let mut user_inputs = vec![caller.user.email.clone()];
        user_inputs.extend(caller.user.name.clone());
        let new = Password::parse_new("new_password", new, policy)?;
        self.verify_current_password(caller, "current_password", current, meta).await?;
        let new = self.check_new_password(new, user_inputs).await?;
        let new_hash = self.inner.hasher.hash(new).await?;
        let now = self.inner.clock.now();
        let revoked = self
            .inner
            .store
            .change_password_and_revoke_others(
                &caller.user.id,
                &caller.session.id,
                new_hash,
                self.factor_notice(&caller.user.email, &FactorChange::PasswordChanged, meta)?,
                now,
            )
            .await?;
        self.inner.outbox.wake();
        // The revoked sessions stop working on this replica now, not when their cache entry ages.
        self.inner.session_cache.forget_user(&caller.user.id);
        self.audit(Some(&caller.user.id), kind::PASSWORD_CHANGED, json!({ "revoked_sessions": revoked })).await;
        Ok(revoked)
    }
}

impl Services {
    /// Changes the caller's display name.
    pub async fn update_user_name(&self, caller: &SessionCaller, name: &str) -> Result<User> {
        let name = DisplayName::parse("name", name)?;
        let user = self.inner.store.set_user_name(&caller.user.id, name.into_inner(), self.inner.clock.now()).await?;
        self.inner.session_cache.forget_user(&caller.user.id);
        self.audit(Some(&caller.user.id), kind::USER_UPDATED, json!({ "fields": ["name"] })).await;
        Ok(User::from(&user))
    }
}
