//! `SessionToken` and `TokenHash`: the opaque session token and the SHA-256 the store keeps.

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
        random_256().map(Self)
    }

    /// Accepts only strings of the exact shape we issue; anything else cannot be a session token.
    pub fn parse(raw: &str) -> Option<Self> {
        is_random_256(raw).then(|| Self(raw.to_owned()))
    }

    /// A session token a client presents: Keyward's own shape, or one of the two shapes Auth.js
    /// writes, which sessions imported by `keyward import authjs` keep (so a forwarded Auth.js
    /// cookie still identifies its session). Each shape is exact and carries at least 122 random
    /// bits, so widening the accepted shapes makes no token guessable; bounded at 64 characters;
    /// the value is then only hashed and looked up by hash, like Keyward's own.
    pub fn parse_session(raw: &str) -> Option<Self> {
        Self::parse(raw).or_else(|| Self::parse_authjs(raw))
    }

    /// An Auth.js `sessionToken`: `crypto.randomUUID()` (a lowercase, hyphenated version-4 UUID:
    /// Auth.js's default `generateSessionToken`) or 32 random bytes as 64 lowercase hex digits
    /// (NextAuth.js 3 and 4's fallback). Anything else — other UUID versions, which are not
    /// random, upper case, other lengths — is refused, and so is a token of the right shape
    /// that was plainly not drawn at random (`AuthjsToken::LowEntropy`).
    pub fn parse_authjs(raw: &str) -> Option<Self> {
        Self::check_authjs(raw).ok()
    }

    /// Like `parse_authjs`, saying why a token is refused (the import reports it).
    pub fn check_authjs(raw: &str) -> std::result::Result<Self, AuthjsToken> {
        if !(is_uuid_v4(raw) || is_hex_256(raw)) {
            return Err(AuthjsToken::Shape);
        }
        if !looks_random(raw) {
            return Err(AuthjsToken::LowEntropy);
        }
        Ok(Self(raw.to_owned()))
    }

    /// A better-auth session token (its `session.token`), once its cookie's HMAC was checked
    /// with the app's secret (`crypto::BetterAuthSecret::verify_cookie`), or when the import
    /// reads it from better-auth's own table. better-auth makes 32 alphanumeric characters
    /// (`generateId(32)`, about 190 random bits); any other shape is refused, and so is one
    /// that was plainly not drawn at random (as `check_authjs`: one character, a block repeated).
    pub fn from_better_auth(token: &str) -> Option<Self> {
        (token.len() == 32 && token.bytes().all(|b| b.is_ascii_alphanumeric()) && looks_random(token))
            .then(|| Self(token.to_owned()))
    }

    pub fn hash(&self) -> TokenHash {
        TokenHash::of(self.0.as_bytes())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// 256 bits from the OS CSPRNG, base64url without padding (43 characters).
pub(super) fn random_256() -> Result<String> {
    let mut bytes = [0u8; TOKEN_BYTES];
    aws_lc_rs::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| Error::internal("system random number generator failed"))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// Exactly the shape `random_256` makes.
pub(super) fn is_random_256(raw: &str) -> bool {
    raw.len() == TOKEN_CHARS
        && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && URL_SAFE_NO_PAD.decode(raw).is_ok_and(|bytes| bytes.len() == TOKEN_BYTES)
}

fn is_lower_hex(byte: u8) -> bool {
    byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte)
}

/// `xxxxxxxx-xxxx-4xxx-Yxxx-xxxxxxxxxxxx` with Y one of 8, 9, a, b (RFC 9562 §5.4), lower case.
fn is_uuid_v4(raw: &str) -> bool {
    let bytes = raw.as_bytes();
    bytes.len() == 36
        && bytes
            .iter()
            .enumerate()
            .all(|(i, &b)| if matches!(i, 8 | 13 | 18 | 23) { b == b'-' } else { is_lower_hex(b) })
        && bytes[14] == b'4'
        && matches!(bytes[19], b'8' | b'9' | b'a' | b'b')
}

fn is_hex_256(raw: &str) -> bool {
    raw.len() == 2 * TOKEN_BYTES && raw.bytes().all(is_lower_hex)
}

/// Why an Auth.js session token is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthjsToken {
    /// Neither a lowercase version-4 UUID nor 64 lowercase hex digits (which also refuses every
    /// token too short to carry 122 random bits).
    Shape,
    /// The right shape, but not random: fewer than six distinct hex digits (all one byte, a
    /// nil-like UUID) or the repetition of a shorter block (`abab…`, `0123…f0123…f`). A token
    /// that was guessable in Auth.js must not become a Keyward session (OWASP ASVS 5 V7.2.3:
    /// session tokens come from a CSPRNG with at least 128 bits of entropy; ours have 256).
    LowEntropy,
}

/// Whether a hex (or alphanumeric) token, hyphens ignored, could have come from a CSPRNG. Random 122-bit or
/// 256-bit values fail this with probability below 10^-11: fewer than six distinct digits among
/// 30 random ones is ≈ 3·10^-12, a period of at most half the length ≈ 16^-16.
fn looks_random(raw: &str) -> bool {
    let digits: Vec<u8> = raw.bytes().filter(|&b| b != b'-').collect();
    let mut seen = [false; 256];
    for &digit in &digits {
        seen[usize::from(digit)] = true;
    }
    let distinct = seen.iter().filter(|&&s| s).count();
    let periodic = (1..=digits.len() / 2).any(|period| digits.iter().zip(&digits[period..]).all(|(a, b)| a == b));
    distinct >= 6 && !periodic
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
    fn auth_js_session_tokens_are_accepted_in_their_exact_shapes_only() {
        let uuid = "3f0c8a8e-5b7d-4c2a-9e1f-0a1b2c3d4e5f";
        let hex = "a".repeat(32) + &"0123456789abcdef".repeat(2);
        for raw in [uuid, hex.as_str()] {
            let token = SessionToken::parse_session(raw).unwrap();
            assert_eq!(token.expose(), raw);
            assert!(SessionToken::parse(raw).is_none(), "Keyward's own shape stays strict: {raw}");
        }
        let own = SessionToken::generate().unwrap();
        assert_eq!(SessionToken::parse_session(own.expose()), Some(own));
        for raw in [
            "3F0C8A8E-5B7D-4C2A-9E1F-0A1B2C3D4E5F", // upper case
            "3f0c8a8e-5b7d-1c2a-9e1f-0a1b2c3d4e5f", // version 1: time-based, not random
            "3f0c8a8e-5b7d-4c2a-7e1f-0a1b2c3d4e5f", // not the RFC variant
            "3f0c8a8e5b7d4c2a9e1f0a1b2c3d4e5f",     // no hyphens
            "3f0c8a8e-5b7d-4c2a-9e1f-0a1b2c3d4e5f0",
            &hex[1..],
            &(hex.clone() + "0"),
            &hex.to_uppercase(),
            "",
        ] {
            assert!(SessionToken::parse_session(raw).is_none(), "{raw:?}");
        }
    }

    #[test]
    fn auth_js_tokens_that_were_not_random_are_refused() {
        for raw in [
            "0".repeat(64),
            "f".repeat(64),
            "ab".repeat(32),
            "0123456789abcdef".repeat(4),
            "3f0c8a8e5b7d4c2a9e1f0a1b2c3d4e5f".repeat(2),
            "00000000-0000-4000-8000-000000000000".to_owned(),
            "aaaaaaaa-aaaa-4aaa-aaaa-aaaaaaaaaaaa".to_owned(),
            "abababab-abab-4bab-abab-abababababab".to_owned(),
        ] {
            assert_eq!(SessionToken::check_authjs(&raw), Err(AuthjsToken::LowEntropy), "{raw}");
            assert!(SessionToken::parse_session(&raw).is_none(), "{raw}");
        }
        assert_eq!(SessionToken::check_authjs(&"0".repeat(63)), Err(AuthjsToken::Shape));
        assert_eq!(SessionToken::check_authjs("0000"), Err(AuthjsToken::Shape));
        for _ in 0..1000 {
            let own = SessionToken::generate().unwrap();
            let hex: String = own.hash().as_str().to_owned();
            assert!(SessionToken::check_authjs(&hex).is_ok(), "{hex}");
        }
    }

    #[test]
    fn garbage_is_not_a_token() {
        for raw in ["", "abc", &"a".repeat(44), &"+".repeat(43), "eyJhbGciOiJub25lIn0.e30."] {
            assert!(SessionToken::parse(raw).is_none(), "{raw:?}");
        }
    }
}
