//! The one-time code in every mailed link's mail, and the proof a finish request brings: the
//! link's token, or the address the mail went to and its code.
//!
//! A code is guessable (10^6 values) where a token is not, so (NIST SP 800-63B-4 §3.1.6
//! out-of-band authenticators and §3.2.2 rate limiting; OWASP ASVS 5 V6.6.3):
//! - it is stored as HMAC-SHA256 under a server secret of its own (32 random bytes, sealed under
//!   the master key in the `secrets` row `email_code`), over the purpose, the address and the
//!   code: a copy of the database cannot be searched for codes the way a plain SHA-256 of six
//!   digits could, and a code matches only the purpose and address it was mailed for;
//! - it lives in the link's row, so it is single use with it and replaced with it;
//! - every try is counted on the row first (one conditional UPDATE, shared by all replicas), and
//!   after `MAX_CODE_ATTEMPTS` tries the mail's *code* is refused even if a later try would have
//!   been right — but never its link: the row stays, so a stranger's guesses cannot void the
//!   owner's 256-bit link;
//! - wrong codes are also counted per address and purpose across every mail
//!   (`store/code_failures.rs`): after `MAX_CODE_FAILURES` codes are refused until a link or
//!   another sign-in method succeeds, so asking for new mails buys no fresh guesses; each wrong
//!   code is audited;
//! - tries are also throttled per client address, and per recipient address *and* client address
//!   (a stranger spends the stranger's budget, not the owner's; the count above is the global
//!   bound);
//! - the comparison is constant time;
//! - every refusal (wrong, burned, expired, none sent, another purpose) is the same answer, so a
//!   code request cannot tell whether an address has an account.

use aws_lc_rs::hmac;

use serde_json::json;

use super::{Purpose, parse_token};
use crate::{
    domain::{Email, OneTimeCode, SessionToken},
    error::{Error, FieldReason, Result},
    service::{
        Budget, RequestMeta, Services,
        audit::kind,
        sign_in_guard::{code_failure_key, failure_key},
    },
    store::{Store, UserRecord, VerificationTokenRecord},
};

/// Codes tried against one mail before its code is refused (its link still works).
pub const MAX_CODE_ATTEMPTS: i32 = 5;

/// Wrong codes for one address and purpose, across every mail, after which codes are refused
/// until a link or another method succeeds (NIST SP 800-63B-4 §3.2.2: at most 100 consecutive
/// failed attempts).
pub const MAX_CODE_FAILURES: u32 = 100;

/// The `secrets` row holding the code key.
const SECRET_ID: &str = "email_code";

/// The key codes are hashed under, loaded at start.
pub struct CodeKey {
    key: hmac::Key,
}

impl std::fmt::Debug for CodeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CodeKey(<redacted>)")
    }
}

impl CodeKey {
    /// Loads the code key, creating it on the first start.
    pub async fn load(store: &Store, now: chrono::DateTime<chrono::Utc>) -> Result<Self> {
        let secret = store.server_secret(SECRET_ID, now, crate::crypto::random_key).await?;
        Ok(Self { key: hmac::Key::new(hmac::HMAC_SHA256, &secret) })
    }

    fn message(purpose: &str, identifier: &str, code: &OneTimeCode) -> String {
        // Neither a purpose name nor an address holds a newline.
        format!("{purpose}\n{identifier}\n{}", code.expose())
    }

    /// The hex tag stored for `code`, mailed to `identifier` for `purpose` (a purpose name).
    pub(super) fn hash(&self, purpose: &str, identifier: &str, code: &OneTimeCode) -> String {
        let tag = hmac::sign(&self.key, Self::message(purpose, identifier, code).as_bytes());
        tag.as_ref().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Whether `stored` (hex) is the tag of `code`: constant time in the tag's contents.
    pub(super) fn matches(&self, purpose: &str, identifier: &str, code: &OneTimeCode, stored: &str) -> bool {
        let Some(tag) = decode_hex(stored) else { return false };
        hmac::verify(&self.key, Self::message(purpose, identifier, code).as_bytes(), &tag).is_ok()
    }
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok()).collect()
}

/// What a finish request proves the mail arrived with.
#[derive(Debug)]
pub(super) enum Proof {
    /// The link's `token`.
    Token(SessionToken),
    /// The `email` the mail went to and its `code`.
    Code { email: Email, code: OneTimeCode },
}

impl Proof {
    /// `token`, or `email` + `code`: exactly one of the two. Nothing is looked up here.
    pub(super) fn parse(token: &str, email: &str, code: &str) -> Result<Self> {
        if !token.is_empty() {
            if !email.is_empty() || !code.is_empty() {
                return Err(Error::field("code", FieldReason::Malformed, "send either token, or email and code"));
            }
            return parse_token(token).map(Self::Token);
        }
        if email.is_empty() && code.is_empty() {
            return Err(Error::field("token", FieldReason::Required, "token (or email and code) is required"));
        }
        let code = OneTimeCode::parse("code", code)?;
        Ok(Self::Code { email: Email::parse("email", email)?, code })
    }
}

/// The refusal of a code, whatever the cause.
pub(crate) fn invalid_code() -> Error {
    Error::field(
        "code",
        FieldReason::VerificationCodeInvalid,
        "this code is not valid: it was mistyped, used, expired, tried too often or replaced by a newer one",
    )
}

impl Services {
    /// Takes the `purpose` row `proof` names, with its user: by token as `take_link_token`
    /// does, or by address and code (`checked_code`, then taken).
    pub(super) async fn take_proof(
        &self,
        purpose: Purpose,
        proof: &Proof,
        meta: &RequestMeta,
    ) -> Result<(VerificationTokenRecord, UserRecord)> {
        match proof {
            Proof::Token(token) => self.take_link_token(purpose, token).await,
            Proof::Code { email, code } => {
                let row = self.checked_code(purpose, email, code, meta).await?;
                self.take_checked_code(purpose, &row).await
            }
        }
    }

    /// Takes the row whose code `checked_code` accepted (the same DELETE … RETURNING as a
    /// token's: a racing finish by link or code loses), with its user.
    pub(super) async fn take_checked_code(
        &self,
        purpose: Purpose,
        row: &VerificationTokenRecord,
    ) -> Result<(VerificationTokenRecord, UserRecord)> {
        let taken = self.inner.store.take_verification_token(&row.token, purpose.name()).await?;
        let taken = taken.ok_or_else(invalid_code)?;
        // Expired, or the address changed since: the same answer as a wrong code.
        self.checked_link_token(taken).await.map_err(|_| invalid_code())
    }

    /// The `purpose` row of `email` if `code` is its code: throttled (per client; per address
    /// and client), counted on the row, counted per address and purpose across mails, compared.
    /// The row stays where it is (the caller takes it); a wrong code is audited.
    pub(super) async fn checked_code(
        &self,
        purpose: Purpose,
        email: &Email,
        code: &OneTimeCode,
        meta: &RequestMeta,
    ) -> Result<VerificationTokenRecord> {
        self.throttle_client(Budget::EmailCode, meta)?;
        let per_address = format!("{}|{}", meta.client_key(), failure_key("code", email.as_str()));
        self.inner.throttles.check(Budget::EmailCodeAddress, &per_address, 1)?;
        let store = &self.inner.store;
        // Only an address with a mail pending gets this far: the count below is never written
        // for an address nobody mailed, so strangers cannot grow it.
        let row = store.count_code_attempt(email.as_str(), purpose.name(), MAX_CODE_ATTEMPTS).await?;
        let row = row.ok_or_else(invalid_code)?;
        let account_key = code_failure_key(purpose.name(), email.as_str());
        if !store.reserve_code_try(&account_key, MAX_CODE_FAILURES, self.inner.clock.now()).await? {
            tracing::info!(purpose = purpose.name(), "mailed codes refused: too many wrong codes for the address");
            return Err(invalid_code());
        }
        let stored = row.code_hash.as_deref().unwrap_or_default();
        if self.inner.codes.matches(purpose.name(), email.as_str(), code, stored) {
            store.clear_code_failures(&[account_key]).await?;
            return Ok(row);
        }
        let detail = json!({
            "purpose": purpose.name(),
            "mail_attempts": row.code_attempts,
            "client": meta.client_for_audit(),
            "user_agent": meta.user_agent,
        });
        self.audit(row.user_id.as_deref(), kind::VERIFICATION_CODE_FAILED, detail).await;
        Err(invalid_code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_proof_is_a_token_or_an_address_with_a_code() {
        let token = SessionToken::generate().unwrap();
        assert!(matches!(Proof::parse(token.expose(), "", ""), Ok(Proof::Token(_))));
        assert!(matches!(Proof::parse("", "a@example.com", "123456"), Ok(Proof::Code { .. })));
        let field_of = |result: Result<Proof>| match result {
            Err(Error::InvalidField(crate::error::FieldError { field, .. })) => field,
            other => panic!("expected a field error, got {other:?}"),
        };
        assert_eq!(field_of(Proof::parse("", "", "")), "token");
        assert_eq!(field_of(Proof::parse(token.expose(), "a@example.com", "123456")), "code");
        assert_eq!(field_of(Proof::parse("", "a@example.com", "")), "code");
        assert_eq!(field_of(Proof::parse("", "", "123456")), "email");
        assert_eq!(field_of(Proof::parse("", "a@example.com", "12345x")), "code");
    }

    #[test]
    fn hex_decodes_only_whole_bytes() {
        assert_eq!(decode_hex("00ff10"), Some(vec![0, 255, 16]));
        assert_eq!(decode_hex("0"), None);
        assert_eq!(decode_hex("zz"), None);
        assert_eq!(decode_hex("é0"), None);
    }
}
