//! Cryptography: argon2 (and imported bcrypt and scrypt) on a bounded blocking pool, Ed25519 signing keys,
//! access-token JWTs, the master key that seals secrets at rest.
//! Nothing here touches the store or the wire.

mod bcrypt_hash;
mod better_auth;
mod jwt;
mod keys;
mod master_key;
mod password;
mod pool;
mod scrypt_hash;
mod webauthn;
pub mod work_budget;

pub use bcrypt_hash::MAX_BCRYPT_COST;
pub use better_auth::{BetterAuthSecret, SESSION_COOKIE_NAMES as BETTER_AUTH_SESSION_COOKIES};
pub use jwt::{AccessClaims, AccessTokenSigner, IssuedAccessToken, JwtSettings, KeySet, SigningKey};
pub use keys::{Jwk, Jwks, SigningKeyMaterial, generate_ed25519};
pub use master_key::{Envelope, MASTER_KEY_BYTES, MasterKey, SealedAt};
pub use password::{Argon2Settings, DummyHash, PasswordHasher, Verification, check_importable_hash};
pub use pool::CpuPool;
pub use scrypt_hash::{PREFIX as BETTER_AUTH_SCRYPT_PREFIX, from_better_auth as better_auth_password_hash};
pub use webauthn::{
    AttestedCredential, ForeignPasskey, RelyingPartySettings, UserVerification, adjust_creation_options,
    adjust_request_options, adjust_state_policy, attested_credential, passkey_from_cose, relying_party,
};

/// 32 fresh bytes from the system CSPRNG: the body of a server-held HMAC key (the `secrets`
/// rows the code, decoy and login-timing keys live in).
pub fn random_key() -> crate::error::Result<Vec<u8>> {
    use aws_lc_rs::rand::SecureRandom;
    let mut bytes = vec![0u8; 32];
    aws_lc_rs::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| crate::error::Error::internal("system random number generator failed"))?;
    Ok(bytes)
}
