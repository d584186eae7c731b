//! Passwords: the length policy and `NewPassword`, a password that passed the policy.

use std::fmt;

use unicode_normalization::UnicodeNormalization;
use zxcvbn::{Score, zxcvbn};

use crate::error::{Error, FieldReason, Result};

/// Length bounds for new passwords, in characters. NIST SP 800-63B-4 §3.1.1.2: a password that is
/// the only factor SHALL be at least 15 characters (8 only when it is part of multi-factor
/// authentication, which Keyward's password sign-in is not), at least 64 SHALL be allowed, no
/// composition rules, no truncation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    pub min_chars: usize,
    pub max_chars: usize,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self { min_chars: 15, max_chars: 128 }
    }
}

/// zxcvbn estimates at most this many leading characters. Its cost grows steeply with length
/// (a 128-character password full of l33t substitutions measured ~280 ms of CPU), and zxcvbn's
/// own documentation advises bounding the input for long passwords: a password whose first 64
/// characters are hard to guess is hard to guess.
pub const ESTIMATE_MAX_CHARS: usize = 64;

/// A password in Unicode NFC, so that the same password typed on different keyboards hashes the
/// same (NIST SP 800-63B §3.1.1.2). Its Debug output is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// A password a user is choosing, checked for length here. Whether it is guessable is the
    /// second, CPU-heavy step (`NewPassword::check_guessability`), which callers run on the CPU
    /// pool: it is what stands between the value and a `Password`.
    pub fn parse_new(field: &'static str, raw: &str, policy: PasswordPolicy) -> Result<NewPassword> {
        let password = Self::normalize(field, raw)?;
        let chars = password.0.chars().count();
        if chars < policy.min_chars {
            return Err(Error::field(
                field,
                FieldReason::PasswordTooShort,
                format!("password must be at least {} characters", policy.min_chars),
            ));
        }
        if chars > policy.max_chars {
            return Err(Error::field(
                field,
                FieldReason::PasswordTooLong,
                format!("password must be at most {} characters", policy.max_chars),
            ));
        }
        Ok(NewPassword { field, password })
    }

    /// A password presented to sign in. Only shape is checked: no policy, since the stored one
    /// may predate the current policy. Longer than `policy.max_chars` cannot match anything we
    /// stored, so it is refused before any hashing work.
    pub fn parse_existing(field: &'static str, raw: &str, policy: PasswordPolicy) -> Result<Self> {
        let password = Self::normalize(field, raw)?;
        if password.0.chars().count() > policy.max_chars {
            return Err(Error::field(
                field,
                FieldReason::PasswordTooLong,
                format!("password must be at most {} characters", policy.max_chars),
            ));
        }
        Ok(password)
    }

    fn normalize(field: &'static str, raw: &str) -> Result<Self> {
        if raw.is_empty() {
            return Err(Error::field(field, FieldReason::Required, "password is required"));
        }
        Ok(Self(raw.nfc().collect()))
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

/// A new password of acceptable length whose guessability is not checked yet.
#[derive(Debug)]
pub struct NewPassword {
    field: &'static str,
    password: Password,
}

impl NewPassword {
    /// The request field it came from, for refusals made after the guessability check.
    pub fn field(&self) -> &'static str {
        self.field
    }

    /// Refuses a password zxcvbn scores ≤ 1 ("guessable within 10^6 guesses": its frequency
    /// lists of common passwords, keyboard walks, repeats, dates and the user's own email or
    /// name, `user_inputs`). That is the blocklist check NIST SP 800-63B-4 §3.1.1.2 asks for,
    /// without composition rules. CPU-heavy: run it on the CPU pool, never on the runtime.
    pub fn check_guessability(self, user_inputs: &[String]) -> Result<Password> {
        let prefix: String = self.password.0.chars().take(ESTIMATE_MAX_CHARS).collect();
        let inputs: Vec<&str> = user_inputs.iter().map(String::as_str).collect();
        let estimate = zxcvbn(&prefix, &inputs);
        if estimate.score() < Score::Two {
            let hint = estimate
                .feedback()
                .and_then(|feedback| feedback.warning())
                .map_or_else(|| "This password is too easy to guess.".to_owned(), |warning| warning.to_string());
            return Err(Error::field(self.field, FieldReason::PasswordTooCommon, hint));
        }
        Ok(self.password)
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(raw: &str, policy: PasswordPolicy, user_inputs: &[&str]) -> Result<Password> {
        let inputs: Vec<String> = user_inputs.iter().map(|s| (*s).to_owned()).collect();
        Password::parse_new("password", raw, policy)?.check_guessability(&inputs)
    }

    #[test]
    fn guessability_is_estimated_on_a_bounded_prefix() {
        // Weak after the first 64 characters does not matter; weak within them does.
        let strong_prefix = format!("{}{}", "violet-otter-lamp-93-".repeat(3), "x".repeat(60));
        assert!(new(&strong_prefix, PasswordPolicy::default(), &[]).is_ok());
        let weak = "password".repeat(16);
        assert_eq!(reason(new(&weak, PasswordPolicy::default(), &[])), FieldReason::PasswordTooCommon);
    }

    fn reason(result: Result<Password>) -> FieldReason {
        match result {
            Err(Error::InvalidField(err)) => err.reason,
            other => panic!("expected a field error, got {other:?}"),
        }
    }

    #[test]
    fn fifteen_characters_by_default_eight_when_configured() {
        let fourteen = "violet-otter-9";
        assert_eq!(fourteen.chars().count(), 14);
        assert_eq!(reason(new(fourteen, PasswordPolicy::default(), &[])), FieldReason::PasswordTooShort);
        assert!(new(fourteen, PasswordPolicy { min_chars: 8, ..PasswordPolicy::default() }, &[]).is_ok());
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        let policy = PasswordPolicy { min_chars: 8, max_chars: 10 };
        // Ten 3-byte characters: 30 bytes, 10 characters.
        assert!(new("ĀžŁéøßđĦŧŋ", policy, &[]).is_ok());
        assert_eq!(reason(new("ĀžŁéøßđĦŧŋΩ", policy, &[])), FieldReason::PasswordTooLong);
        assert_eq!(reason(new("short", policy, &[])), FieldReason::PasswordTooShort);
    }

    #[test]
    fn nfc_makes_composed_and_decomposed_equal() {
        let composed = Password::parse_existing("p", "caf\u{e9}-latte-92", PasswordPolicy::default()).unwrap();
        let decomposed = Password::parse_existing("p", "cafe\u{301}-latte-92", PasswordPolicy::default()).unwrap();
        assert_eq!(composed, decomposed);
    }

    #[test]
    fn common_and_personal_passwords_are_refused() {
        let policy = PasswordPolicy { min_chars: 8, ..PasswordPolicy::default() };
        for common in ["password", "password1", "12345678", "qwertyuiop", "iloveyou", "password12345678"] {
            assert_eq!(reason(new(common, policy, &[])), FieldReason::PasswordTooCommon);
        }
        assert_eq!(
            reason(new("ada.lovelace", policy, &["ada.lovelace@example.com", "ada.lovelace"])),
            FieldReason::PasswordTooCommon
        );
        assert!(new("violet-otter-lamp-93", policy, &[]).is_ok());
    }

    #[test]
    fn debug_is_redacted() {
        let password = Password::parse_existing("p", "violet-otter-lamp-93", PasswordPolicy::default()).unwrap();
        assert!(!format!("{password:?}").contains("violet"));
    }
}
