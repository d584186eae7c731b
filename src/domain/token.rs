use std::fmt;

use aws_lc_rs::{digest, rand::SecureRandom};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

use crate::error::{Error, Result};

const TOKEN_BYTES: usize = 32;
/// base64url without padding of 32 bytes.
const TOKEN_CHARS: usize = 43;

/// An opaque 256-bit session token from the OS CSPRNG, base64url-encoded. It exists in clear only
/// in the response that issued it; the store keeps its `TokenHash`. Debug output is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionToken(String);

impl SessionToken {
    pub fn generate() -> Result<Self> {
        let mut bytes = [0u8; TOKEN_BYTES];
        aws_lc_rs::rand::SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| Error::internal("system random number generator failed"))?;
        Ok(Self(URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// Accepts only strings of the exact shape we issue; anything else cannot be a session token.
    pub fn parse(raw: &str) -> Option<Self> {
        let well_formed = raw.len() == TOKEN_CHARS
            && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            && URL_SAFE_NO_PAD.decode(raw).is_ok_and(|bytes| bytes.len() == TOKEN_BYTES);
        well_formed.then(|| Self(raw.to_owned()))
    }

    pub fn hash(&self) -> TokenHash {
        TokenHash::of(self.0.as_bytes())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionToken(<redacted>)")
    }
}

/// SHA-256 of a token, hex-encoded: what the store keeps and looks rows up by. A plain hash is
/// enough because the input is 256 bits of randomness (no dictionary to attack), and a lookup by
/// hash compares nothing secret in our process.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TokenHash(String);

impl TokenHash {
    pub fn of(secret: &[u8]) -> Self {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let digest = digest::digest(&digest::SHA256, secret);
        let mut hex = String::with_capacity(64);
        for byte in digest.as_ref() {
            hex.push(char::from(HEX[usize::from(byte >> 4)]));
            hex.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
        Self(hex)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_parse_and_differ() {
        let a = SessionToken::generate().unwrap();
        let b = SessionToken::generate().unwrap();
        assert_ne!(a, b);
        assert_eq!(SessionToken::parse(a.expose()), Some(a.clone()));
        assert_eq!(a.hash().as_str().len(), 64);
        // SHA-256("abc"), FIPS 180-2 test vector.
        assert_eq!(TokenHash::of(b"abc").as_str(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert!(!format!("{a:?}").contains(a.expose()));
    }

    #[test]
    fn garbage_is_not_a_token() {
        for raw in ["", "abc", &"a".repeat(44), &"+".repeat(43), "eyJhbGciOiJub25lIn0.e30."] {
            assert!(SessionToken::parse(raw).is_none(), "{raw:?}");
        }
    }
}
