//! The use cases of `VerificationService`: request and finish a password reset, send and
//! confirm a verification link, send and use a magic link, ask for and confirm an email change.
//! Every finish takes the link's token or the mail's address and code (`codes::Proof`).

use serde_json::json;

use super::{Purpose, codes::Proof, parse_redirect_uri, templates};
use crate::{
    domain::{Email, Password, User},
    error::{Error, Result},
    service::{
        Budget, Caller, RequestMeta, Services, SessionCaller, SignedIn,
        audit::kind,
        email::notices::FactorChange,
        outbox::OutboxEvent,
        sign_in_guard::{all_failure_keys, failure_key},
    },
    store::UserRecord,
};

/// The proof fields of a finish request as they came: `token`, or `email` and `code`.
#[derive(Clone, Copy, Default)]
pub struct MailedProof<'a> {
    pub token: &'a str,
    pub email: &'a str,
    pub code: &'a str,
}

impl std::fmt::Debug for MailedProof<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MailedProof(<redacted>)")
    }
}

impl Services {
    /// Mails a reset link to `email` if it has an account. Answers before looking it up.
    pub async fn request_password_reset(&self, email: &str, redirect_uri: &str, meta: &RequestMeta) -> Result<()> {
        self.mail_link_in_background(Purpose::PasswordReset, email, redirect_uri, meta)
    }

    /// Mails a sign-in link to `email` if it has an account. Answers before looking it up.
    pub async fn send_magic_link(&self, email: &str, redirect_uri: &str, meta: &RequestMeta) -> Result<()> {
        self.mail_link_in_background(Purpose::MagicLink, email, redirect_uri, meta)
    }

    /// Validates and throttles (per client address, and per recipient address whoever asks),
    /// then answers; the lookup and the mail happen in a task of their own, so an unknown
    /// address costs the caller exactly what a known one does. An unknown address gets nothing,
    /// or (`notify_unknown_addresses`) a note that someone asked, with no link.
    fn mail_link_in_background(
        &self,
        purpose: Purpose,
        email: &str,
        redirect_uri: &str,
        meta: &RequestMeta,
    ) -> Result<()> {
        let email = Email::parse("email", email)?;
        let redirect = parse_redirect_uri(&self.inner.links, redirect_uri)?;
        self.throttle_client(Budget::EmailSend, meta)?;
        self.inner.throttles.check(Budget::EmailAddress, &failure_key("email", email.as_str()), 1)?;
        let services = self.clone();
        let language = meta.language();
        tokio::spawn(async move {
            let queued = async {
                let Some(user) = services.inner.store.find_user_by_email(email.as_str()).await? else {
                    let links = &services.inner.links;
                    if !links.notify_unknown_addresses {
                        return Ok::<_, Error>(false);
                    }
                    services.queue_email(&templates::no_account(purpose, &links.product_name, email.as_str())).await?;
                    return Ok(true);
                };
                services.mail_link(purpose, &user, redirect.as_deref(), language).await?;
                Ok(true)
            }
            .await;
            let queued = queued.unwrap_or_else(|err| {
                tracing::warn!(error = %err, purpose = purpose.name(), "queueing a mailed link failed");
                false
            });
            services.inner.outbox.requested(OutboxEvent::LinkRequestHandled { queued });
        });
        Ok(())
    }

    /// Sets a new password with a reset token or code: the password passes Register's policy,
    /// every session of the account ends, and a notice is mailed, in one transaction. A password
    /// that is refused leaves the link usable (and costs no code attempt). With
    /// `remove_other_factors`, every passkey and linked provider of the account goes too, in the
    /// same transaction (recovery after a takeover: what an intruder planted must not outlive it).
    ///
    /// Budget before work (OWASP ASVS 5 V2.4.1): the client's `password_reset` budget first, then
    /// the row the proof names is looked up (a code is throttled, counted and compared), and only
    /// for a live row does zxcvbn run and the hash follow — so neither a wrong proof nor a flood
    /// of weak passwords reaches the hashing pool beyond the budget.
    pub async fn reset_password(
        &self,
        proof: MailedProof<'_>,
        new_password: &str,
        remove_other_factors: bool,
        meta: &RequestMeta,
    ) -> Result<u64> {
        let proof = Proof::parse(proof.token, proof.email, proof.code)?;
        let policy = self.inner.password_policy;
        let new = Password::parse_new("new_password", new_password, policy)?;
        self.throttle_client(Budget::PasswordReset, meta)?;
        let purpose = Purpose::PasswordReset;
        // The row, left in place so that a refused password does not burn the link.
        let pending = match &proof {
            Proof::Token(token) => {
                let row = self.inner.store.find_verification_token(token.hash().as_str(), purpose.name()).await?;
                self.checked_link_token(row.ok_or_else(super::invalid_token)?).await?.0
            }
            Proof::Code { email, code } => {
                let row = self.checked_code(purpose, email, code, meta).await?;
                self.checked_link_token(row).await.map_err(|_| super::invalid_code())?.0
            }
        };
        // The policy's user inputs are the address the mail went to.
        let address = pending.identifier.clone();
        let mut inputs = vec![address.clone()];
        inputs.extend(address.split('@').next().map(str::to_owned));
        let new = self.check_new_password(new, inputs).await?;
        let (_, user) = match &proof {
            Proof::Token(token) => self.take_link_token(purpose, token).await?,
            Proof::Code { .. } => self.take_checked_code(purpose, &pending).await?,
        };
        let hash = self.inner.hasher.hash(new).await?;
        let change = FactorChange::PasswordReset { factors_removed: remove_other_factors };
        let notice = self.factor_notice(&user.email, &change, meta)?;
        let now = self.inner.clock.now();
        let failure_keys = all_failure_keys(&user.email);
        let store = &self.inner.store;
        let ended = store.reset_password(&user.id, hash, &failure_keys, remove_other_factors, notice, now).await?;
        self.inner.outbox.wake();
        self.inner.session_cache.forget_user(&user.id);
        let detail = json!({ "revoked_sessions": ended, "removed_other_factors": remove_other_factors });
        self.audit(Some(&user.id), kind::PASSWORD_RESET, detail).await;
        Ok(ended)
    }

    /// Mails the caller a link that verifies their address (nothing when it already is).
    pub async fn send_verification_email(
        &self,
        caller: &SessionCaller,
        redirect_uri: &str,
        meta: &RequestMeta,
    ) -> Result<()> {
        let redirect = parse_redirect_uri(&self.inner.links, redirect_uri)?;
        if caller.user.email_verified.is_some() {
            return Ok(());
        }
        self.inner.throttles.check(Budget::EmailAddress, &failure_key("email", &caller.user.email), 1)?;
        self.mail_link(Purpose::EmailVerification, &caller.user, redirect.as_deref(), meta.language()).await
    }

    /// A correct password for an unverified address under `require_email_verification`: mail a
    /// verification link (within the per-address budget; past it, the last link still works)
    /// and record the refusal.
    pub(in crate::service) async fn refuse_unverified(&self, user: &UserRecord, meta: &RequestMeta) {
        let budget = self.inner.throttles.check(Budget::EmailAddress, &failure_key("email", &user.email), 1);
        if budget.is_ok()
            && let Err(err) = self.mail_link(Purpose::EmailVerification, user, None, meta.language()).await
        {
            tracing::warn!(error = %err, "mailing a verification link failed");
        }
        let detail = json!({ "method": "password", "reason": "email_not_verified", "client": meta.client_for_audit() });
        self.audit(Some(&user.id), kind::LOGIN_FAILED, detail).await;
    }

    /// Mails a link to `new_email` that moves the caller's account there, and a notice to the
    /// current address. A factor-change: needs a recent authentication. An address that another
    /// account has gets the same answer and no mail (no enumeration through this call either);
    /// confirming would fail with EMAIL_TAKEN anyway.
    pub async fn request_email_change(
        &self,
        caller: &SessionCaller,
        new_email: &str,
        redirect_uri: &str,
        meta: &RequestMeta,
    ) -> Result<()> {
        let new_email = Email::parse("new_email", new_email)?;
        let redirect = parse_redirect_uri(&self.inner.links, redirect_uri)?;
        self.require_recent_authentication(caller)?;
        self.inner.throttles.check(Budget::EmailAddress, &failure_key("email", new_email.as_str()), 1)?;
        if new_email.as_str() == caller.user.email
            || self.inner.store.find_user_by_email(new_email.as_str()).await?.is_some()
        {
            return Ok(());
        }
        let to = new_email.as_str();
        self.mail_link_to(Purpose::EmailChange, &caller.user, to, redirect.as_deref(), meta.language()).await
    }

    /// Moves the token's account to the address the link was mailed to (now verified).
    pub async fn confirm_email_change(&self, proof: MailedProof<'_>, meta: &RequestMeta) -> Result<User> {
        let proof = Proof::parse(proof.token, proof.email, proof.code)?;
        let (taken, user) = self.take_proof(Purpose::EmailChange, &proof, meta).await?;
        let now = self.inner.clock.now();
        // The old address hears of it: whoever held a session could have asked for the change.
        let change = FactorChange::EmailChanged { new_address: &taken.identifier, by_operator: false };
        let notice = self.factor_notice(&user.email, &change, meta)?;
        let changed = self.inner.store.change_user_email(&user.id, &user.email, &taken.identifier, notice, now).await?;
        self.inner.outbox.wake();
        self.inner.session_cache.forget_user(&user.id);
        let changed = changed.ok_or_else(super::invalid_token)?;
        self.audit(Some(&user.id), kind::EMAIL_CHANGED, json!({})).await;
        Ok(User::from(&changed))
    }

    /// Marks the token's address verified.
    pub async fn verify_email(&self, proof: MailedProof<'_>, meta: &RequestMeta) -> Result<User> {
        let proof = Proof::parse(proof.token, proof.email, proof.code)?;
        let (taken, _) = self.take_proof(Purpose::EmailVerification, &proof, meta).await?;
        let user = self.verified(&taken.identifier, taken.user_id.as_deref()).await?;
        self.audit(Some(&user.id), kind::EMAIL_VERIFIED, json!({ "via": "verification_link" })).await;
        Ok(User::from(&user))
    }

    /// Signs in with a magic-link token or code, like Login; the mail also proves the address.
    ///
    /// `signed_in_as`: the session the caller presented (a browser's cookie). A link for another
    /// account's address is refused before anything is used up: finishing it at page load
    /// would sign the browser out of its account and into the link's — login CSRF, when the link
    /// is an attacker's own (OWASP ASVS 5 V3.5; RFC 9700 §4.4.1.8 describes the same attack on
    /// OAuth). The page asks "continue as …?" and, on yes, signs out and sends the link again.
    pub async fn sign_in_with_magic_link(
        &self,
        proof: MailedProof<'_>,
        signed_in_as: Option<&Caller>,
        meta: &RequestMeta,
    ) -> Result<SignedIn> {
        let proof = Proof::parse(proof.token, proof.email, proof.code)?;
        if let Some(current) = signed_in_as {
            self.refuse_link_for_another_account(&proof, &current.user.email).await?;
        }
        let (taken, _) = self.take_proof(Purpose::MagicLink, &proof, meta).await?;
        let user = self.verified(&taken.identifier, taken.user_id.as_deref()).await?;
        // The mail proved control of the address: like any successful sign-in, this lifts a
        // password suspension (NIST SP 800-63B-4 §3.2.2, "another authenticator").
        self.sign_in_succeeded(&user.email).await?;
        let signed_in = self.sign_in(user, meta).await?;
        self.audit(
            Some(&signed_in.user.id),
            kind::LOGIN_SUCCEEDED,
            json!({ "method": "magic_link", "session_id": signed_in.session.id, "client": meta.client_for_audit() }),
        )
        .await;
        Ok(signed_in)
    }

    /// `SignedInAsAnotherUser` when `proof` is for another address than `current`'s. A token is
    /// only read (it stays usable); an unknown one passes here and fails where it is taken. A code
    /// is compared by the address typed with it, before the code is tried.
    async fn refuse_link_for_another_account(&self, proof: &Proof, current: &str) -> Result<()> {
        let link_email = match proof {
            Proof::Token(token) => {
                let hash = token.hash();
                let pending = self.inner.store.find_verification_token(hash.as_str(), Purpose::MagicLink.name());
                match pending.await? {
                    Some(row) => row.identifier,
                    None => return Ok(()),
                }
            }
            Proof::Code { email, .. } => email.as_str().to_owned(),
        };
        if link_email == current {
            return Ok(());
        }
        Err(Error::SignedInAsAnotherUser { link_email })
    }

    /// Records that `user_id` proved `email` (if that is still its address).
    async fn verified(&self, email: &str, user_id: Option<&str>) -> Result<UserRecord> {
        let user_id = user_id.ok_or_else(super::invalid_token)?;
        let user = self.inner.store.verify_user_email(user_id, email, self.inner.clock.now()).await?;
        self.inner.session_cache.forget_user(user_id);
        user.ok_or_else(super::invalid_token)
    }
}
