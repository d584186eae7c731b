//! `OneTimeCode`: the short code a mailed link also carries, for apps that cannot open the
//! link (a native app on another device types it in). Six decimal digits drawn uniformly from
//! the OS CSPRNG (NIST SP 800-63B-4 §3.1.3/§3.1.6: an out-of-band secret of at least 20 bits);
//! guessable where a token is not, so the service limits how often a code may be tried.

use aws_lc_rs::rand::SecureRandom;

use crate::error::{Error, FieldReason, Result};

/// Digits in a code.
pub const CODE_DIGITS: usize = 6;
/// Longest `code` field read before refusing it (spaces around a pasted code included).
const MAX_CODE_FIELD_CHARS: usize = 32;
/// 10^CODE_DIGITS.
const CODE_SPACE: u32 = 1_000_000;

/// A code: exactly `CODE_DIGITS` ASCII digits. `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct OneTimeCode(String);

impl std::fmt::Debug for OneTimeCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OneTimeCode(<redacted>)")
    }
}

impl OneTimeCode {
    /// A fresh code, uniform over all `CODE_DIGITS`-digit strings (rejection sampling, so no
    /// value is likelier than another).
    pub fn generate() -> Result<Self> {
        let random = aws_lc_rs::rand::SystemRandom::new();
        // The largest multiple of CODE_SPACE that fits in a u32: draws at or above it are redrawn.
        let limit = u32::MAX - (u32::MAX % CODE_SPACE);
        loop {
            let mut bytes = [0u8; 4];
            random.fill(&mut bytes).map_err(|_| Error::internal("system random number generator failed"))?;
            let draw = u32::from_be_bytes(bytes);
            if draw < limit {
                return Ok(Self(format!("{:0width$}", draw % CODE_SPACE, width = CODE_DIGITS)));
            }
        }
    }

    /// The `field` of a request: required, bounded, and exactly `CODE_DIGITS` digits once the
    /// spaces around it are trimmed. Nothing is looked up for a malformed code.
    pub fn parse(field: &'static str, raw: &str) -> Result<Self> {
        if raw.is_empty() {
            return Err(Error::field(field, FieldReason::Required, "code is required"));
        }
        if raw.len() > MAX_CODE_FIELD_CHARS {
            return Err(Error::field(field, FieldReason::TooLong, "code is longer than any code Keyward mails"));
        }
        let code = raw.trim();
        if code.len() != CODE_DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::field(field, FieldReason::Malformed, "a code is six digits"));
        }
        Ok(Self(code.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_six_digits_and_parse_strictly() {
        let code = OneTimeCode::generate().unwrap();
        assert_eq!(code.expose().len(), CODE_DIGITS);
        assert!(code.expose().bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(OneTimeCode::parse("code", code.expose()).unwrap(), code);
        assert_eq!(OneTimeCode::parse("code", " 012345 ").unwrap().expose(), "012345");
        for bad in ["", "12345", "1234567", "12a456", "١٢٣٤٥٦", &"1".repeat(100)] {
            assert!(OneTimeCode::parse("code", bad).is_err(), "{bad}");
        }
        assert!(!format!("{code:?}").contains(code.expose()));
    }
}
