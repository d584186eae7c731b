//! The decoy an email-scoped passkey sign-in shows for an email with no account (or no passkey),
//! so the answer has the same shape either way and does not tell whether the account exists.
//!
//! This is the seam: [`DecoyCredentials::for_email`] is the only thing the sign-in asks for.
//! What the decoy *looks like* (its `allowCredentials` entry) is decided there; its stability
//! and unpredictability come from a key of its own — 32 random bytes stored sealed under the
//! master key (`secrets` row `passkey_decoy`), generated once, unrelated to the JWT signing keys
//! (one key, one purpose) and so unchanged when they rotate.

use aws_lc_rs::{hmac, rand::SecureRandom};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde_json::json;

use crate::{
    domain::Email,
    error::{Error, Result},
    store::Store,
};

/// The `secrets` row holding the decoy key.
const SECRET_ID: &str = "passkey_decoy";
/// Transports offered for the decoy credential: what most passkeys list.
const DECOY_TRANSPORTS: [&str; 2] = ["hybrid", "internal"];

/// Derives stable, unpredictable decoy credentials.
pub struct DecoyCredentials {
    key: hmac::Key,
}

impl std::fmt::Debug for DecoyCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DecoyCredentials(<redacted>)")
    }
}

impl DecoyCredentials {
    /// Loads the decoy key, creating it on the first start.
    pub async fn load(store: &Store, now: chrono::DateTime<chrono::Utc>) -> Result<Self> {
        let bytes = store
            .server_secret(SECRET_ID, now, || {
                let mut bytes = vec![0u8; 32];
                aws_lc_rs::rand::SystemRandom::new()
                    .fill(&mut bytes)
                    .map_err(|_| Error::internal("system random number generator failed"))?;
                Ok(bytes)
            })
            .await?;
        Ok(Self { key: hmac::Key::new(hmac::HMAC_SHA256, &bytes) })
    }

    /// The allowCredentials an email without passkeys is shown: one credential whose id is
    /// HMAC-SHA256(decoy key, email) — the same every time for that email, like a real one.
    pub fn for_email(&self, email: &Email) -> Vec<serde_json::Value> {
        let id = hmac::sign(&self.key, format!("passkey-decoy:{email}").as_bytes());
        vec![json!({ "type": "public-key", "id": URL_SAFE_NO_PAD.encode(id.as_ref()), "transports": DECOY_TRANSPORTS })]
    }
}
