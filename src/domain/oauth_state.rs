//! `OAuthState`: the OAuth `state` parameter and the hash its ceremony is stored under.

use std::fmt;

use super::{SessionToken, TokenHash};
use crate::error::{Error, FieldReason, Result};

/// The OAuth `state` parameter: 256 bits from the OS CSPRNG, base64url. It is the CSRF token of
/// the round-trip (RFC 6749 §10.12, RFC 9700 §4.7.1) and the handle of the server-side ceremony.
/// The ceremony is stored under the state's SHA-256, so a database reader cannot finish a
/// round-trip, and a lookup compares nothing secret. Debug output is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct OAuthState(SessionToken);

impl OAuthState {
    pub fn generate() -> Result<Self> {
        SessionToken::generate().map(Self)
    }

    /// Validates `raw` as the request field `field`: only strings of the shape we issue.
    pub fn parse(field: &'static str, raw: &str) -> Result<Self> {
        if raw.is_empty() {
            return Err(Error::field(field, FieldReason::Required, "state is required"));
        }
        SessionToken::parse(raw)
            .map(Self)
            .ok_or_else(|| Error::field(field, FieldReason::Malformed, "state is not one this server issued"))
    }

    pub fn hash(&self) -> TokenHash {
        self.0.hash()
    }

    pub fn expose(&self) -> &str {
        self.0.expose()
    }
}

impl fmt::Debug for OAuthState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OAuthState(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_garbage() {
        let state = OAuthState::generate().unwrap();
        assert_eq!(OAuthState::parse("state", state.expose()).unwrap(), state);
        assert!(!format!("{state:?}").contains(state.expose()));
        for raw in ["", "short", &"x".repeat(5000)] {
            assert!(OAuthState::parse("state", raw).is_err());
        }
    }
}
