//! The master key (key-encryption key) and the envelope every secret at rest is sealed in.
//!
//! AES-256-GCM from aws-lc-rs with a fresh random 96-bit nonce per seal (NIST SP 800-38D; the
//! number of secrets Keyward seals under one key stays far below the 2^32 random-nonce bound).
//! Each ciphertext is stored as one string that names its key and algorithm:
//!
//! ```text
//! kw1:<master key id>:A256GCM:<base64url(nonce ‖ ciphertext ‖ tag)>
//! ```
//!
//! The additional authenticated data binds it to where it lives (`table.column:row id`) and to
//! the header, so a ciphertext copied into another row, column or envelope fails to open
//! (OWASP ASVS 5 V11.3: authenticated encryption; V13.3: key material kept out of the database).
//! The key id is derived from the key (a hash prefix), so it identifies the key without
//! revealing anything about it.

use std::fmt;

use aws_lc_rs::{
    aead::{AES_256_GCM, Aad, NONCE_LEN, Nonce, RandomizedNonceKey},
    digest,
    rand::SecureRandom,
};
use base64::{
    Engine,
    engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD},
};

use crate::error::{Error, Result};

const VERSION: &str = "kw1";
const ALGORITHM: &str = "A256GCM";
/// Bytes of a master key.
pub const MASTER_KEY_BYTES: usize = 32;

/// Where a sealed secret lives: part of its additional authenticated data.
#[derive(Debug, Clone, Copy)]
pub struct SealedAt<'a> {
    /// `table.column`, e.g. `signing_keys.private_key`.
    pub column: &'static str,
    /// The row's primary key.
    pub row: &'a str,
}

/// The key-encryption key. Its bytes never leave this type; `Debug` shows only the id.
pub struct MasterKey {
    id: String,
    key: RandomizedNonceKey,
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MasterKey").field("id", &self.id).finish_non_exhaustive()
    }
}

impl MasterKey {
    pub fn from_bytes(bytes: &[u8; MASTER_KEY_BYTES]) -> Result<Self> {
        let key = RandomizedNonceKey::new(&AES_256_GCM, bytes).map_err(|_| Error::internal("AES-256-GCM key setup"))?;
        let mut hashed = b"keyward master key id\0".to_vec();
        hashed.extend_from_slice(bytes);
        let digest = digest::digest(&digest::SHA256, &hashed);
        Ok(Self { id: URL_SAFE_NO_PAD.encode(&digest.as_ref()[..9]), key })
    }

    /// A new random key and its text form (what goes into a key file or KEYWARD_MASTER_KEY).
    pub fn generate() -> Result<(Self, String)> {
        let mut bytes = [0u8; MASTER_KEY_BYTES];
        aws_lc_rs::rand::SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| Error::internal("system random number generator failed"))?;
        Ok((Self::from_bytes(&bytes)?, STANDARD.encode(bytes)))
    }

    /// Parses the text form: 32 bytes in base64 (standard or URL-safe, padded or not), surrounding
    /// whitespace ignored. The error says what is wrong, never what was given.
    pub fn parse(text: &str) -> std::result::Result<Self, String> {
        let text = text.trim();
        let decoded = [&STANDARD, &URL_SAFE]
            .iter()
            .find_map(|engine| engine.decode(text).ok())
            .or_else(|| URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).ok())
            .ok_or("is not base64")?;
        let bytes: [u8; MASTER_KEY_BYTES] =
            decoded.try_into().map_err(|_| format!("must be {MASTER_KEY_BYTES} bytes (base64 of 32 random bytes)"))?;
        Self::from_bytes(&bytes).map_err(|err| err.to_string())
    }

    /// Identifies this key in envelopes and messages.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Seals `plaintext` for `at` into an envelope string.
    pub fn seal(&self, plaintext: &[u8], at: SealedAt<'_>) -> Result<String> {
        let header = format!("{VERSION}:{}:{ALGORITHM}", self.id);
        let mut in_out = plaintext.to_vec();
        let nonce = self
            .key
            .seal_in_place_append_tag(Aad::from(aad(&header, at)), &mut in_out)
            .map_err(|_| Error::internal("sealing a secret"))?;
        let mut payload = nonce.as_ref().to_vec();
        payload.extend_from_slice(&in_out);
        Ok(format!("{header}:{}", URL_SAFE_NO_PAD.encode(payload)))
    }

    /// Opens an envelope sealed for `at`. Another key's, a tampered, a moved or a malformed one
    /// is an internal error whose text says which (it is logged, never sent).
    pub fn open(&self, envelope: &str, at: SealedAt<'_>) -> Result<Vec<u8>> {
        let parsed =
            Envelope::parse(envelope).ok_or_else(|| Error::internal(format_args!("{} is not sealed", at.column)))?;
        if parsed.key_id != self.id {
            return Err(Error::internal(format_args!(
                "{} of {} is sealed under master key {}, not the configured {}",
                at.column, at.row, parsed.key_id, self.id
            )));
        }
        let payload =
            URL_SAFE_NO_PAD.decode(parsed.payload).map_err(|_| Error::internal("envelope is not base64url"))?;
        if payload.len() < NONCE_LEN {
            return Err(Error::internal("envelope too short"));
        }
        let (nonce, sealed) = payload.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| Error::internal("envelope nonce"))?;
        let mut in_out = sealed.to_vec();
        let header = format!("{VERSION}:{}:{ALGORITHM}", parsed.key_id);
        let plaintext = self.key.open_in_place(nonce, Aad::from(aad(&header, at)), &mut in_out).map_err(|_| {
            Error::internal(format_args!("{} of {} does not open: tampered or moved", at.column, at.row))
        })?;
        Ok(plaintext.to_vec())
    }
}

fn aad(header: &str, at: SealedAt<'_>) -> Vec<u8> {
    format!("{header}\0{}\0{}", at.column, at.row).into_bytes()
}

/// The parts of an envelope string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Envelope<'a> {
    pub key_id: &'a str,
    pub payload: &'a str,
}

impl<'a> Envelope<'a> {
    /// `Some` for anything in the `kw1:<id>:A256GCM:<payload>` form.
    pub fn parse(text: &'a str) -> Option<Self> {
        let mut parts = text.splitn(4, ':');
        let (Some(VERSION), Some(key_id), Some(ALGORITHM), Some(payload)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        Some(Self { key_id, payload })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HERE: SealedAt<'static> = SealedAt { column: "accounts.access_token", row: "row-1" };

    #[test]
    fn seals_and_opens_only_where_it_was_sealed() {
        let (key, text) = MasterKey::generate().unwrap();
        let sealed = key.seal(b"provider token", HERE).unwrap();
        assert!(sealed.starts_with(&format!("kw1:{}:A256GCM:", key.id())), "{sealed}");
        assert!(!sealed.contains("provider token"));
        assert_eq!(key.open(&sealed, HERE).unwrap(), b"provider token");
        // Fresh nonce per seal.
        assert_ne!(key.seal(b"provider token", HERE).unwrap(), sealed);
        // Moved to another row or column, it does not open.
        assert!(key.open(&sealed, SealedAt { row: "row-2", ..HERE }).is_err());
        assert!(key.open(&sealed, SealedAt { column: "accounts.refresh_token", ..HERE }).is_err());
        // Tampered.
        let mut tampered = sealed.clone();
        let last = tampered.pop().unwrap();
        tampered.push(if last == 'A' { 'B' } else { 'A' });
        assert!(key.open(&tampered, HERE).is_err());
        // The same key from its text form opens it; another key does not.
        assert_eq!(MasterKey::parse(&format!("  {text}\n")).unwrap().open(&sealed, HERE).unwrap(), b"provider token");
        let (other, _) = MasterKey::generate().unwrap();
        assert!(other.open(&sealed, HERE).unwrap_err().to_string().contains(key.id()));
        assert!(!format!("{key:?}").contains(&text));
    }

    #[test]
    fn key_text_is_checked() {
        assert!(MasterKey::parse("not base64!").is_err());
        assert!(MasterKey::parse(&STANDARD.encode([0u8; 16])).unwrap_err().contains("32 bytes"));
        assert!(MasterKey::parse(&URL_SAFE_NO_PAD.encode([7u8; 32])).is_ok());
        assert!(Envelope::parse("plain token").is_none() && Envelope::parse("kw1:id:A128GCM:x").is_none());
    }
}
