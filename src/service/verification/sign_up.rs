//! Sign-up under `require_email_verification`, where neither sign-up RPC says whether an
//! address is taken (OWASP ASVS 5 V6.3.8).
//!
//! Passkey-only sign-up: StartPasskeySignUp mails the address first, and FinishPasskeySignUp
//! completes only with the mailed code. A free address gets a code; a taken one gets "you
//! already have an account, sign in instead" and no code that could ever work. The caller's
//! answer is the same either way — the same status, a ceremony of the same shape, the same
//! lookups and writes (one ceremony, one outbox row) — so StartPasskeySignUp stops being an
//! existence oracle (NIST SP 800-63B-4 §3.1.6 for the code). The code's keyed hash lives in the
//! ceremony's state, so a ceremony allows exactly one try: a finish takes the ceremony whatever
//! the code.
//!
//! Register: the caller pays for zxcvbn and the hash whatever the address, gets no session
//! (a session is what would tell a free address from a taken one), and a task looks the address
//! up — a free one becomes an unverified account with a verification link in the same
//! transaction, a taken one gets the same "you already have an account" note. The pattern of
//! mailed-link requests (`flows.rs`): same answer, same time.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Purpose, overrides, templates};
use crate::{
    domain::{Email, OneTimeCode},
    error::{Error, Result},
    i18n::Catalog,
    service::{
        Budget, RequestMeta, Services, audit::kind, email::EmailMessage, outbox::OutboxEvent,
        sign_in_guard::failure_key,
    },
    store::NewUser,
};

/// The purpose name sign-up codes are hashed under (no `verification_tokens` row has it).
const SIGN_UP_PURPOSE: &str = "passkey_sign_up";

/// What a sign-up ceremony must be finished with, kept in its state.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SignUpProof {
    /// The keyed hash of the code mailed to the address; None when the address was taken, so no
    /// code finishes the ceremony.
    code_hash: Option<String>,
}

impl Services {
    /// The sign-up proof for `email` and the mail that carries it (a code, or the "already have
    /// an account" note when `taken`), within the per-recipient budget. Both paths draw a code
    /// and hash it; the caller queues the mail once the ceremony is stored.
    pub(crate) fn sign_up_proof(&self, email: &Email, taken: bool) -> Result<(SignUpProof, EmailMessage)> {
        self.inner.throttles.check(Budget::EmailAddress, &failure_key("email", email.as_str()), 1)?;
        let code = OneTimeCode::generate()?;
        let hash = self.inner.codes.hash(SIGN_UP_PURPOSE, email.as_str(), &code);
        let product = &self.inner.links.product_name;
        let minutes = self.inner.passkeys.ceremony_ttl.as_secs() / 60;
        let mail = if taken {
            templates::sign_up_taken(product, email.as_str())
        } else {
            templates::sign_up_code(product, email.as_str(), code.expose(), minutes.max(1))
        };
        Ok((SignUpProof { code_hash: (!taken).then_some(hash) }, mail))
    }

    /// Whether `code` is the one mailed for `proof` to `email` (constant time; never for a taken
    /// address).
    pub(crate) fn sign_up_code_matches(&self, proof: &SignUpProof, email: &str, code: &OneTimeCode) -> bool {
        proof.code_hash.as_deref().is_some_and(|stored| self.inner.codes.matches(SIGN_UP_PURPOSE, email, code, stored))
    }
}

impl Services {
    /// Spends the per-recipient mail budget of `email` (whoever asks): what a sign-up that mails
    /// the address costs, before any hashing.
    pub(crate) fn spend_sign_up_mail_budget(&self, email: &Email) -> Result<()> {
        self.inner.throttles.check(Budget::EmailAddress, &failure_key("email", email.as_str()), 1)
    }

    /// Register's second half under `require_email_verification`, in a task of its own (the
    /// caller already has its answer): `user` is created unverified together with its
    /// verification link and mail, or, when the address is taken (found, or lost to a
    /// concurrent insert), the owner is told that someone tried.
    pub(crate) fn register_in_background(&self, user: NewUser, meta: &RequestMeta) {
        let services = self.clone();
        let language = meta.language();
        let detail = json!({ "method": "password", "client": meta.client_for_audit(), "user_agent": meta.user_agent });
        tokio::spawn(async move {
            let email = user.email.clone();
            let queued = async {
                if services.inner.store.find_user_by_email(&email).await?.is_none() {
                    let (token, mail) = services.verification_link_for_new_user(&user.id, &email, language)?;
                    match services.inner.store.create_user_with_invitation(user, token, vec![mail]).await {
                        Ok(created) => {
                            services.inner.outbox.wake();
                            services.audit(Some(&created.id), kind::USER_REGISTERED, detail).await;
                            return Ok::<_, Error>(());
                        }
                        Err(Error::EmailTaken) => {}
                        Err(err) => return Err(err),
                    }
                }
                services.queue_email(&templates::sign_up_taken(&services.inner.links.product_name, &email)).await
            }
            .await;
            if let Err(err) = &queued {
                tracing::warn!(error = %err, "registering an unverified account failed");
            }
            services.inner.outbox.requested(OutboxEvent::LinkRequestHandled { queued: queued.is_ok() });
        });
    }

    /// The verification link of an account being created (`user_id`, `email`) and its mail,
    /// for the store to write in the user's own transaction.
    fn verification_link_for_new_user(
        &self,
        user_id: &str,
        email: &str,
        language: &Catalog,
    ) -> Result<(crate::store::NewVerificationToken, crate::store::NewOutboxMessage)> {
        let links = &self.inner.links;
        let purpose = Purpose::EmailVerification;
        let ttl = purpose.ttl(links);
        let (row, url, code) = self.link_row(purpose, user_id, email, ttl, None)?;
        let expires = templates::duration_words(ttl.as_secs() / 60, language);
        let values =
            overrides::Values { product: &links.product_name, link: &url, code: code.expose(), expires: &expires };
        let mail = templates::link_mail(purpose, email, &values, links.templates.for_purpose(purpose), language);
        Ok((row, mail.to_outbox()?))
    }
}
