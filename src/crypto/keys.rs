//! Ed25519 key generation and the JWK form of a public key.

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::Serialize;

use crate::error::{Error, Result};

/// A freshly generated Ed25519 key: PKCS#8 private key and raw 32-byte public key.
#[derive(Clone)]
pub struct SigningKeyMaterial {
    pub private_pkcs8: Vec<u8>,
    pub public_raw: Vec<u8>,
}

impl std::fmt::Debug for SigningKeyMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyMaterial").field("private_pkcs8", &"<redacted>").finish_non_exhaustive()
    }
}

/// Generates an Ed25519 key pair from the OS CSPRNG.
pub fn generate_ed25519() -> Result<SigningKeyMaterial> {
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| Error::internal("Ed25519 key generation failed"))?;
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref())
        .map_err(|_| Error::internal("generated Ed25519 key is unreadable"))?;
    Ok(SigningKeyMaterial { private_pkcs8: pkcs8.as_ref().to_vec(), public_raw: pair.public_key().as_ref().to_vec() })
}

/// One public key in JWKS form (RFC 8037 OKP key for Ed25519).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Jwk {
    pub kty: &'static str,
    pub crv: &'static str,
    pub x: String,
    pub kid: String,
    pub alg: &'static str,
    #[serde(rename = "use")]
    pub key_use: &'static str,
}

impl Jwk {
    pub fn ed25519(kid: &str, public_raw: &[u8]) -> Self {
        Self {
            kty: "OKP",
            crv: "Ed25519",
            x: URL_SAFE_NO_PAD.encode(public_raw),
            kid: kid.to_owned(),
            alg: "EdDSA",
            key_use: "sig",
        }
    }
}

/// The document served at `/.well-known/jwks.json`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}
