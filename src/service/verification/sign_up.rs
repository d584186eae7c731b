//! Passkey-only sign-up under `require_email_verification`: StartPasskeySignUp mails the
//! address first, and FinishPasskeySignUp completes only with the mailed code. A free address
//! gets a code; a taken one gets "you already have an account, sign in instead" and no code that
//! could ever work. The caller's answer is the same either way — the same status, a ceremony of
//! the same shape, the same lookups and writes (one ceremony, one outbox row) — so
//! StartPasskeySignUp stops being an existence oracle (OWASP ASVS 5 V6.3.8; NIST SP 800-63B-4
//! §3.1.6 for the code). The code's keyed hash lives in the ceremony's state, so a ceremony
//! allows exactly one try: a finish takes the ceremony whatever the code.

use serde::{Deserialize, Serialize};

use super::templates;
use crate::{
    domain::{Email, OneTimeCode},
    error::Result,
    service::{Budget, Services, email::EmailMessage, sign_in_guard::failure_key},
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
