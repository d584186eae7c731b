//! The two things better-auth does with its app secret (`BETTER_AUTH_SECRET`) that Keyward must
//! redo after `keyward import better-auth`, both as read in better-auth 1.7's source:
//!
//! - the session cookie `better-auth.session_token` is `token "." base64(HMAC-SHA256(secret,
//!   token))`, URI-encoded (better-call's `signCookieValue`); Keyward accepts it so a user signed
//!   in before the switch stays signed in. The signature is checked in constant time
//!   (aws-lc-rs), and the token alone is then looked up by its SHA-256 like any session token.
//! - two-factor secrets and backup codes are `hex(nonce ‖ XChaCha20-Poly1305(SHA-256(secret),
//!   data))` (`symmetricEncrypt` with @noble/ciphers' `managedNonce`), optionally inside a
//!   `$ba$<version>$` envelope when the app rotates secrets.

use aws_lc_rs::{digest, hmac};
use base64::{Engine, engine::general_purpose::STANDARD};
use chacha20poly1305::{
    KeyInit, XChaCha20Poly1305, XNonce,
    aead::{Aead, generic_array::GenericArray},
};

/// The names better-auth gives its session cookie: plain on http, `__Secure-` on https.
pub const SESSION_COOKIE_NAMES: [&str; 2] = ["better-auth.session_token", "__Secure-better-auth.session_token"];

/// A base64 HMAC-SHA256, as better-call writes it: 44 characters ending in "=".
const SIGNATURE_CHARS: usize = 44;
/// The longest token accepted in a signed cookie (better-auth's are 32 characters).
const MAX_TOKEN_CHARS: usize = 128;
const XNONCE_BYTES: usize = 24;

/// A better-auth app's secret. Debug output is redacted.
#[derive(Clone)]
pub struct BetterAuthSecret {
    hmac_key: hmac::Key,
    raw: Vec<u8>,
}

impl std::fmt::Debug for BetterAuthSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BetterAuthSecret(<redacted>)")
    }
}

impl BetterAuthSecret {
    pub fn new(secret: &[u8]) -> Self {
        Self { hmac_key: hmac::Key::new(hmac::HMAC_SHA256, secret), raw: secret.to_vec() }
    }

    /// The secret's bytes, for sealing at rest.
    pub fn expose(&self) -> &[u8] {
        &self.raw
    }

    /// The session token inside a signed cookie value (`token.signature`, URI-encoded or not),
    /// when the signature is this secret's; `None` for anything else.
    pub fn verify_cookie(&self, value: &str) -> Option<String> {
        if value.len() > 3 * (MAX_TOKEN_CHARS + 1 + SIGNATURE_CHARS) {
            return None;
        }
        let decoded = percent_encoding::percent_decode_str(value).decode_utf8().ok()?;
        let (token, signature) = decoded.rsplit_once('.')?;
        if token.is_empty() || token.len() > MAX_TOKEN_CHARS || !token.bytes().all(|b| b.is_ascii_graphic()) {
            return None;
        }
        if signature.len() != SIGNATURE_CHARS || !signature.ends_with('=') {
            return None;
        }
        let signature = STANDARD.decode(signature).ok()?;
        hmac::verify(&self.hmac_key, token.as_bytes(), &signature).ok()?;
        Some(token.to_owned())
    }

    /// A signed cookie value for `token`, as better-auth writes it (tests and tools).
    pub fn sign_cookie(&self, token: &str) -> String {
        let signature = STANDARD.encode(hmac::sign(&self.hmac_key, token.as_bytes()));
        percent_encoding::utf8_percent_encode(&format!("{token}.{signature}"), percent_encoding::NON_ALPHANUMERIC)
            .to_string()
    }

    /// Decrypts a value better-auth's `symmetricEncrypt` made with this secret. The error says
    /// what failed, never the value.
    pub fn decrypt(&self, data: &str) -> Result<String, String> {
        let hex = match data.strip_prefix("$ba$") {
            Some(rest) => rest.split_once('$').map(|(_, ciphertext)| ciphertext).ok_or("malformed $ba$ envelope")?,
            None => data,
        };
        let bytes = decode_hex(hex).ok_or("not hex")?;
        if bytes.len() < XNONCE_BYTES + 16 {
            return Err("too short to be XChaCha20-Poly1305 output".to_owned());
        }
        let key = digest::digest(&digest::SHA256, &self.raw);
        let cipher = XChaCha20Poly1305::new(GenericArray::from_slice(key.as_ref()));
        let (nonce, ciphertext) = bytes.split_at(XNONCE_BYTES);
        let plaintext = cipher
            .decrypt(XNonce::from_slice(nonce), ciphertext)
            .map_err(|_| "does not decrypt with this secret".to_owned())?;
        String::from_utf8(plaintext).map_err(|_| "decrypts to something that is not text".to_owned())
    }
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) || !hex.is_ascii() {
        return None;
    }
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "a-better-auth-secret-of-at-least-32-characters";

    #[test]
    fn a_cookie_signed_by_better_auth_verifies_and_nothing_else_does() {
        // Set by better-auth 1.7.29's sign-in endpoint (tests/better-auth/seed.mjs) with SECRET.
        let cookie = "FQztj1wyrsSmQRtDimrVlQknT6CtMtbo.GQ7OPoSBkQ820UGNZllBW7e5ubu%2Ftr9TqyLnIQ2fSoE%3D";
        let secret = BetterAuthSecret::new(SECRET.as_bytes());
        assert_eq!(secret.verify_cookie(cookie).as_deref(), Some("FQztj1wyrsSmQRtDimrVlQknT6CtMtbo"));
        let decoded = percent_encoding::percent_decode_str(cookie).decode_utf8().unwrap();
        assert_eq!(secret.verify_cookie(&decoded).as_deref(), Some("FQztj1wyrsSmQRtDimrVlQknT6CtMtbo"));
        let resigned = secret.sign_cookie("FQztj1wyrsSmQRtDimrVlQknT6CtMtbo");
        assert_eq!(secret.verify_cookie(&resigned).as_deref(), Some("FQztj1wyrsSmQRtDimrVlQknT6CtMtbo"));
        let other = BetterAuthSecret::new(b"another-secret-another-secret-another");
        assert_eq!(other.verify_cookie(cookie), None);
        for forged in [
            "FQztj1wyrsSmQRtDimrVlQknT6CtMtbX.GQ7OPoSBkQ820UGNZllBW7e5ubu%2Ftr9TqyLnIQ2fSoE%3D",
            "FQztj1wyrsSmQRtDimrVlQknT6CtMtbo",
            "FQztj1wyrsSmQRtDimrVlQknT6CtMtbo.",
            ".GQ7OPoSBkQ820UGNZllBW7e5ubu%2Ftr9TqyLnIQ2fSoE%3D",
            "FQztj1wyrsSmQRtDimrVlQknT6CtMtbo.GQ7OPoSBkQ820UGNZllBW7e5ubu%2Ftr9TqyLnIQ2fSoE",
        ] {
            assert_eq!(secret.verify_cookie(forged), None, "{forged}");
        }
        assert_eq!(secret.verify_cookie(&"a".repeat(10_000)), None);
    }

    #[test]
    fn decrypts_what_better_auth_encrypted() {
        // `symmetricEncrypt({ key: SECRET, data: "JBSWY3DPEHPK3PXP" })` from better-auth/crypto.
        let encrypted = "a436b0a4ef2306293185658aa3e620836c230b64ab760e4231c2472b34a0cafcdda1aea96f597def254fb22e32359c4949b956852c979837";
        let secret = BetterAuthSecret::new(SECRET.as_bytes());
        assert_eq!(secret.decrypt(encrypted).as_deref(), Ok("JBSWY3DPEHPK3PXP"));
        assert_eq!(secret.decrypt(&format!("$ba$1${encrypted}")).as_deref(), Ok("JBSWY3DPEHPK3PXP"));
        assert!(BetterAuthSecret::new(b"wrong").decrypt(encrypted).is_err());
        for bad in ["", "zz", "abc", "00"] {
            assert!(secret.decrypt(bad).is_err(), "{bad}");
        }
    }
}
