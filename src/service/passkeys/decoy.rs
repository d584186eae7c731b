//! The allowCredentials answered for an email without passkeys (unknown, or an account without
//! any): shaped like a real account's answer, so StartPasskeyLogin(email) does not reveal which
//! emails have accounts. Real answers list one entry per passkey, each with the id and the
//! transports the authenticator reported; the decoy draws the number of entries, each id's
//! length and its transports from the same kinds of authenticator, deterministically from the
//! email under a server secret: the same email always gets the same answer, and nobody without
//! the secret can tell a decoy from an account.
//!
//! The shapes are what the common passkey providers produce (their credential-id lengths and
//! the transports browsers report for them); see `SHAPES`.
//!
//! The secret is a key of its own ([`DecoyCredentials`]): 32 random bytes stored sealed under
//! the master key (`secrets` row `passkey_decoy`), generated once, unrelated to the JWT signing
//! keys (one key, one purpose), so the decoys do not change when those rotate.

use aws_lc_rs::hmac;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde_json::{Value, json};

use crate::{domain::Email, error::Result, store::Store};

/// The `secrets` row holding the decoy key.
const SECRET_ID: &str = "passkey_decoy";

/// The decoy key, loaded at start; [`DecoyCredentials::for_email`] is all the sign-in asks for.
pub struct DecoyCredentials {
    secret: Vec<u8>,
}

impl std::fmt::Debug for DecoyCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DecoyCredentials(<redacted>)")
    }
}

impl DecoyCredentials {
    /// Loads the decoy key, creating it on the first start.
    pub async fn load(store: &Store, now: chrono::DateTime<chrono::Utc>) -> Result<Self> {
        let secret = store.server_secret(SECRET_ID, now, crate::crypto::random_key).await?;
        Ok(Self { secret })
    }

    /// The decoy allowCredentials for `email`.
    pub fn for_email(&self, email: &Email) -> Vec<Value> {
        allow_credentials(&self.secret, email.as_str())
    }
}

/// (credential id bytes, transports, weight): the kinds of authenticator real entries come from.
const SHAPES: [(usize, &[&str], u32); 6] = [
    (20, &["hybrid", "internal"], 30), // iCloud Keychain
    (16, &["hybrid", "internal"], 30), // Google Password Manager
    (32, &["internal"], 12),           // Windows Hello
    (32, &["hybrid", "internal"], 12), // third-party passkey managers
    (64, &["nfc", "usb"], 10),         // security keys
    (48, &["usb"], 6),                 // older security keys
];

/// How many passkeys accounts have: (entries, weight).
const ENTRY_COUNTS: [(usize, u32); 3] = [(1, 70), (2, 22), (3, 8)];

/// Picks from weighted `choices` with `roll` (any u32).
fn pick<T: Copy>(choices: &[(T, u32)], roll: u32) -> T {
    let total: u32 = choices.iter().map(|(_, weight)| weight).sum();
    let mut point = roll % total.max(1);
    for (choice, weight) in choices {
        if point < *weight {
            return *choice;
        }
        point -= weight;
    }
    choices[0].0
}

/// `len` bytes derived from the secret for `label` (HMAC-SHA256 blocks, counter appended).
fn derive(key: &hmac::Key, label: &str, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    let mut block = 0u32;
    while out.len() < len {
        let tag = hmac::sign(key, format!("{label}#{block}").as_bytes());
        out.extend_from_slice(tag.as_ref());
        block += 1;
    }
    out.truncate(len);
    out
}

fn roll(key: &hmac::Key, label: &str) -> u32 {
    let bytes = derive(key, label, 4);
    u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

/// The decoy allowCredentials for `email` (normalized) under `secret`.
pub(super) fn allow_credentials(secret: &[u8], email: &str) -> Vec<Value> {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let count = pick(&ENTRY_COUNTS, roll(&key, &format!("count:{email}")));
    let shapes: Vec<((usize, &[&str]), u32)> =
        SHAPES.iter().map(|(len, transports, w)| ((*len, *transports), *w)).collect();
    (0..count)
        .map(|i| {
            let (len, transports) = pick(&shapes, roll(&key, &format!("shape:{email}:{i}")));
            let id = derive(&key, &format!("id:{email}:{i}"), len);
            json!({ "type": "public-key", "id": URL_SAFE_NO_PAD.encode(id), "transports": transports })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn stable_per_email_and_drawn_from_the_real_shapes() {
        let secret = [9u8; 32];
        assert_eq!(allow_credentials(&secret, "a@example.com"), allow_credentials(&secret, "a@example.com"));
        assert_ne!(allow_credentials(&secret, "a@example.com"), allow_credentials(&[8u8; 32], "a@example.com"));
        let (mut counts, mut lengths) = (HashSet::new(), HashSet::new());
        for n in 0..500 {
            let entries = allow_credentials(&secret, &format!("user{n}@example.com"));
            counts.insert(entries.len());
            for entry in entries {
                let id = URL_SAFE_NO_PAD.decode(entry["id"].as_str().unwrap()).unwrap();
                let transports: Vec<&str> =
                    entry["transports"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
                assert!(SHAPES.iter().any(|(len, t, _)| *len == id.len() && *t == transports.as_slice()));
                lengths.insert(id.len());
            }
        }
        assert_eq!(counts, HashSet::from([1, 2, 3]));
        assert_eq!(lengths.len(), 5);
    }
}
