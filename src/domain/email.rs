//! `Email`: a validated, normalized email address.

use std::{fmt, str::FromStr};

use crate::error::{Error, FieldReason, Result};

/// RFC 5321 caps a forward path at 256 octets, which leaves 254 for the address.
const MAX_EMAIL_BYTES: usize = 254;

/// A syntactically valid email address, trimmed and lower-cased so that uniqueness is
/// case-insensitive (what users expect, and what Auth.js adapters and better-auth do).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    /// Validates `raw` as the request field `field`.
    pub fn parse(field: &'static str, raw: &str) -> Result<Self> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(Error::field(field, FieldReason::Required, "email is required"));
        }
        if trimmed.len() > MAX_EMAIL_BYTES {
            return Err(Error::field(
                field,
                FieldReason::TooLong,
                format!("email must be at most {MAX_EMAIL_BYTES} bytes"),
            ));
        }
        let normalized = trimmed.to_lowercase();
        let valid = email_address::EmailAddress::from_str(&normalized)
            .is_ok_and(|addr| !addr.domain().starts_with('[') && addr.domain().contains('.'));
        if !valid {
            return Err(Error::field(field, FieldReason::InvalidEmail, "not a valid email address"));
        }
        Ok(Self(normalized))
    }

    /// Wraps a value read back from the store, where it was validated on the way in.
    pub fn from_trusted(value: String) -> Self {
        Self(value)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_case_and_whitespace() {
        let email = Email::parse("email", "  Ada@Example.COM ").unwrap();
        assert_eq!(email.as_str(), "ada@example.com");
    }

    #[test]
    fn rejects_garbage() {
        for raw in ["", "   ", "no-at-sign", "a@", "@b.com", "a@b", "a b@c.com", "a@[127.0.0.1]"] {
            assert!(Email::parse("email", raw).is_err(), "{raw:?} should be refused");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        let Err(Error::InvalidField(err)) = Email::parse("email", &long) else { panic!() };
        assert_eq!(err.reason, FieldReason::TooLong);
    }
}
