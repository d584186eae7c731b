//! Password hashing: argon2id PHC strings, verification on the CPU pool, the dummy hash that
//! keeps unknown-user logins as slow as wrong passwords, and re-hash detection.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use argon2::{
    Algorithm, Argon2, Block, Params, Version,
    password_hash::phc::{Output, ParamsString, PasswordHash, Salt},
};
use aws_lc_rs::rand::SecureRandom;
use subtle::ConstantTimeEq;

use super::{
    bcrypt_hash,
    pool::{CpuPool, Scratch},
    scrypt_hash,
};
use crate::{
    domain::Password,
    error::{Error, Result},
};

const SALT_BYTES: usize = 16;
const OUTPUT_BYTES: usize = 32;

/// argon2id cost parameters. The defaults are OWASP's (m=19456 KiB, t=2, p=1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub struct Argon2Settings {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for Argon2Settings {
    fn default() -> Self {
        Self {
            memory_kib: Params::DEFAULT_M_COST,
            iterations: Params::DEFAULT_T_COST,
            parallelism: Params::DEFAULT_P_COST,
        }
    }
}

impl Argon2Settings {
    pub fn to_params(self) -> Result<Params, argon2::Error> {
        Params::new(self.memory_kib, self.iterations, self.parallelism, Some(OUTPUT_BYTES))
    }
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verification {
    pub matches: bool,
    /// The stored hash used other parameters than today's: re-hash now that we have the password.
    pub needs_rehash: bool,
}

/// What a sign-in for an address without a password hash is verified against: a hash of a random
/// password like the ones accounts hold, so that "no such account" costs what "wrong password"
/// costs for an account of that kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DummyHash {
    /// argon2id with today's parameters (what Keyward's own hashes are).
    Argon2,
    /// bcrypt of this cost (what an imported Auth.js hash is until its first sign-in).
    Bcrypt(u32),
    /// better-auth's scrypt (N=2^14, r=16, p=1; what an imported better-auth hash is until its
    /// first sign-in).
    BetterAuthScrypt,
}

/// argon2id hashing and verification on the bounded `CpuPool`, producing PHC strings.
#[derive(Clone, Debug)]
pub struct PasswordHasher {
    pool: Arc<CpuPool>,
    params: Params,
    /// A hash of a random password with today's parameters. Verifying against it when the email is
    /// unknown makes "no such user" cost exactly what "wrong password" costs.
    dummy_hash: Arc<str>,
    /// Dummies of imported kinds (bcrypt by cost, better-auth scrypt), each made on its first use
    /// (which costs what a verification does).
    imported_dummies: Arc<Mutex<HashMap<DummyHash, Arc<str>>>>,
}

impl PasswordHasher {
    pub fn new(pool: Arc<CpuPool>, settings: Argon2Settings) -> Result<Self> {
        let params = settings.to_params().map_err(|err| Error::internal(format_args!("argon2 parameters: {err}")))?;
        let mut random_password = [0u8; 32];
        fill_random(&mut random_password)?;
        let dummy_hash = hash_with(&params, &random_password, &mut Scratch::default())?.into();
        Ok(Self { pool, params, dummy_hash, imported_dummies: Arc::default() })
    }

    /// Hashes a new password into a PHC string (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`).
    pub async fn hash(&self, password: Password) -> Result<String> {
        let params = self.params.clone();
        self.pool.run(move |scratch| hash_with(&params, password.as_bytes(), scratch)).await?
    }

    /// Checks `password` against `stored`, or against the dummy hash when there is no stored hash
    /// (unknown user, or a user without a password), which then never matches.
    pub async fn verify(&self, password: Password, stored: Option<String>) -> Result<Verification> {
        let params = self.params.clone();
        let (phc, real) = match stored {
            Some(phc) => (phc, true),
            None => (self.dummy_hash.to_string(), false),
        };
        let outcome = self.pool.run(move |scratch| verify_stored(&params, password.as_bytes(), &phc, scratch)).await?;
        match outcome {
            Ok(verification) if real => Ok(verification),
            Ok(_) => Ok(Verification { matches: false, needs_rehash: false }),
            Err(err) => {
                // A stored hash we cannot parse is our fault, not the caller's: log it, and answer
                // exactly like a wrong password so nothing about the account leaks.
                tracing::error!(error = %err, "stored password hash is unusable");
                Ok(Verification { matches: false, needs_rehash: false })
            }
        }
    }
}

impl PasswordHasher {
    /// Like `verify`, but an absent hash is verified against `dummy` (never a match): the kind of
    /// hash the caller chose for this address, so its cost matches the accounts' mix.
    pub async fn verify_or_dummy(
        &self,
        password: Password,
        stored: Option<String>,
        dummy: DummyHash,
    ) -> Result<Verification> {
        if stored.is_some() || dummy == DummyHash::Argon2 {
            return self.verify(password, stored).await;
        }
        let made = self
            .imported_dummies
            .lock()
            .map_err(|_| Error::internal("imported-hash dummies poisoned"))?
            .get(&dummy)
            .cloned();
        let dummies = Arc::clone(&self.imported_dummies);
        let worked = self
            .pool
            .run(move |_| match made {
                Some(hash) => verify_stored_dummy(password.as_bytes(), &hash),
                None => {
                    let hash = make_imported_dummy(dummy)?;
                    if let Ok(mut dummies) = dummies.lock() {
                        dummies.insert(dummy, hash.into());
                    }
                    Ok(())
                }
            })
            .await?;
        if let Err(err) = worked {
            tracing::error!(error = %err, "imported-hash dummy verification failed");
        }
        Ok(Verification { matches: false, needs_rehash: false })
    }
}

/// A hash of a random password of `kind` (an imported kind): making it costs one verification.
fn make_imported_dummy(kind: DummyHash) -> Result<String, String> {
    let mut random = [0u8; 32];
    let mut salt = [0u8; 16];
    fill_random(&mut random).and_then(|()| fill_random(&mut salt)).map_err(|err| err.to_string())?;
    match kind {
        DummyHash::Bcrypt(cost) => bcrypt_hash::dummy(&random, salt, cost),
        DummyHash::BetterAuthScrypt => scrypt_hash::dummy(&random, salt),
        DummyHash::Argon2 => Err("argon2 is not an imported kind".to_owned()),
    }
}

/// Verifies `password` against an imported-kind dummy (never a match), at that kind's cost.
fn verify_stored_dummy(password: &[u8], hash: &str) -> Result<(), String> {
    if scrypt_hash::is_better_auth_scrypt(hash) {
        scrypt_hash::verify(password, hash)
    } else {
        bcrypt_hash::verify(password, hash)
    }
    .map(drop)
}

fn fill_random(buf: &mut [u8]) -> Result<()> {
    aws_lc_rs::rand::SystemRandom::new().fill(buf).map_err(|_| Error::internal("system random number generator failed"))
}

fn compute(
    algorithm: Algorithm,
    version: Version,
    params: &Params,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
    scratch: &mut Scratch,
) -> Result<(), argon2::Error> {
    let blocks = params.block_count();
    if scratch.argon2_blocks.len() < blocks {
        scratch.argon2_blocks.resize(blocks, Block::default());
    }
    let context = Argon2::new(algorithm, version, params.clone());
    context.hash_password_into_with_memory(password, salt, out, &mut scratch.argon2_blocks[..blocks])
}

fn hash_with(params: &Params, password: &[u8], scratch: &mut Scratch) -> Result<String> {
    let fail = |err: &dyn std::fmt::Display| Error::internal(format_args!("argon2 hashing: {err}"));
    let mut salt = [0u8; SALT_BYTES];
    fill_random(&mut salt)?;
    let mut out = [0u8; OUTPUT_BYTES];
    compute(Algorithm::Argon2id, Version::V0x13, params, password, &salt, &mut out, scratch).map_err(|e| fail(&e))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params).map_err(|e| fail(&e))?,
        salt: Some(Salt::new(&salt).map_err(|e| fail(&e))?),
        hash: Some(Output::new(&out).map_err(|e| fail(&e))?),
    };
    Ok(phc.to_string())
}

/// argon2 PHC strings (Keyward's, or imported as they are) and bcrypt hashes (imported from
/// Auth.js apps: always re-hashed to argon2id once they matched).
fn verify_stored(
    current: &Params,
    password: &[u8],
    stored: &str,
    scratch: &mut Scratch,
) -> Result<Verification, String> {
    if bcrypt_hash::is_bcrypt(stored) {
        return bcrypt_hash::verify(password, stored).map(|matches| Verification { matches, needs_rehash: true });
    }
    if scrypt_hash::is_better_auth_scrypt(stored) {
        return scrypt_hash::verify(password, stored).map(|matches| Verification { matches, needs_rehash: true });
    }
    if !stored.starts_with("$argon2") {
        return Err("stored password hash is neither argon2, bcrypt nor better-auth scrypt".to_owned());
    }
    verify_with(current, password, stored, scratch)
}

/// Bounds on an argon2 hash brought in by an import, so that one hostile or odd row cannot make
/// a sign-in take seconds or hundreds of MiB (node-argon2's defaults, m=65536 t=3 p=4, fit).
const MAX_IMPORTED_ARGON2_MEMORY_KIB: u32 = 65_536;
const MAX_IMPORTED_ARGON2_ITERATIONS: u32 = 10;
const MAX_IMPORTED_ARGON2_PARALLELISM: u32 = 16;

/// Whether a password hash from another system can be kept as it is: an argon2 PHC string within
/// cost bounds, a bcrypt hash of cost at most `MAX_BCRYPT_COST`, or better-auth's scrypt (its
/// one fixed cost) in Keyward's `$better-auth-scrypt$` form. The error says why not.
pub fn check_importable_hash(stored: &str) -> Result<(), String> {
    if bcrypt_hash::is_bcrypt(stored) {
        return bcrypt_hash::check(stored).map(drop);
    }
    if scrypt_hash::is_better_auth_scrypt(stored) {
        return scrypt_hash::check(stored);
    }
    if !stored.starts_with("$argon2") {
        return Err("not a bcrypt or argon2 hash".to_owned());
    }
    let parsed = PasswordHash::new(stored).map_err(|err| format!("malformed argon2 hash: {err}"))?;
    Algorithm::try_from(parsed.algorithm.as_str()).map_err(|err| format!("argon2 algorithm: {err}"))?;
    if let Some(version) = parsed.version {
        Version::try_from(version).map_err(|err| format!("argon2 version: {err}"))?;
    }
    let params = Params::try_from(&parsed).map_err(|err| format!("argon2 parameters: {err}"))?;
    if parsed.salt.is_none() || parsed.hash.is_none() {
        return Err("argon2 hash without salt or output".to_owned());
    }
    if params.m_cost() > MAX_IMPORTED_ARGON2_MEMORY_KIB
        || params.t_cost() > MAX_IMPORTED_ARGON2_ITERATIONS
        || params.p_cost() > MAX_IMPORTED_ARGON2_PARALLELISM
    {
        return Err(format!(
            "argon2 cost m={} t={} p={} is above the accepted m={MAX_IMPORTED_ARGON2_MEMORY_KIB} t={MAX_IMPORTED_ARGON2_ITERATIONS} p={MAX_IMPORTED_ARGON2_PARALLELISM}",
            params.m_cost(),
            params.t_cost(),
            params.p_cost()
        ));
    }
    Ok(())
}

fn verify_with(current: &Params, password: &[u8], phc: &str, scratch: &mut Scratch) -> Result<Verification, String> {
    let parsed = PasswordHash::new(phc).map_err(|e| e.to_string())?;
    let algorithm = Algorithm::try_from(parsed.algorithm.as_str()).map_err(|e| e.to_string())?;
    let version = match parsed.version {
        Some(v) => Version::try_from(v).map_err(|e| e.to_string())?,
        None => Version::V0x13,
    };
    let stored_params = Params::try_from(&parsed).map_err(|e| e.to_string())?;
    let salt = parsed.salt.ok_or("hash has no salt")?;
    let expected = parsed.hash.ok_or("hash has no output")?;
    let mut out = vec![0u8; expected.len()];
    let output_params =
        Params::new(stored_params.m_cost(), stored_params.t_cost(), stored_params.p_cost(), Some(out.len()))
            .map_err(|e| e.to_string())?;
    compute(algorithm, version, &output_params, password, salt.as_ref(), &mut out, scratch)
        .map_err(|e| e.to_string())?;
    let matches: bool = out.as_slice().ct_eq(expected.as_ref()).into();
    let needs_rehash = algorithm != Algorithm::Argon2id
        || version != Version::V0x13
        || stored_params.m_cost() != current.m_cost()
        || stored_params.t_cost() != current.t_cost()
        || stored_params.p_cost() != current.p_cost()
        || expected.len() != OUTPUT_BYTES;
    Ok(Verification { matches, needs_rehash })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::PasswordPolicy;

    fn small() -> Argon2Settings {
        Argon2Settings { memory_kib: 64, iterations: 1, parallelism: 1 }
    }

    fn password(raw: &str) -> Password {
        Password::parse_existing("password", raw, PasswordPolicy::default()).unwrap()
    }

    fn hasher(settings: Argon2Settings) -> PasswordHasher {
        PasswordHasher::new(Arc::new(CpuPool::start(1, 4, false).unwrap()), settings).unwrap()
    }

    #[tokio::test]
    async fn hash_then_verify() {
        let hasher = hasher(small());
        let phc = hasher.hash(password("violet-otter-lamp-93")).await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{phc}");
        let ok = hasher.verify(password("violet-otter-lamp-93"), Some(phc.clone())).await.unwrap();
        assert_eq!(ok, Verification { matches: true, needs_rehash: false });
        let wrong = hasher.verify(password("violet-otter-lamp-94"), Some(phc)).await.unwrap();
        assert!(!wrong.matches);
    }

    #[tokio::test]
    async fn old_parameters_ask_for_rehash_and_still_verify() {
        let old = hasher(small()).hash(password("violet-otter-lamp-93")).await.unwrap();
        let upgraded = hasher(Argon2Settings { memory_kib: 128, ..small() });
        let result = upgraded.verify(password("violet-otter-lamp-93"), Some(old)).await.unwrap();
        assert_eq!(result, Verification { matches: true, needs_rehash: true });
    }

    #[tokio::test]
    async fn the_reference_implementation_agrees() {
        // A hash made by the argon2 crate's own PasswordHasher verifies here, and ours there.
        use argon2::{PasswordHasher as _, PasswordVerifier as _};
        let params = small().to_params().unwrap();
        let reference = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let theirs = reference.hash_password(b"violet-otter-lamp-93").unwrap().to_string();
        let hasher = hasher(small());
        assert!(hasher.verify(password("violet-otter-lamp-93"), Some(theirs)).await.unwrap().matches);
        let ours = hasher.hash(password("violet-otter-lamp-93")).await.unwrap();
        assert!(reference.verify_password(b"violet-otter-lamp-93", ours.as_str()).is_ok());
    }

    #[tokio::test]
    async fn bcrypt_hashes_verify_and_ask_for_an_argon2id_rehash() {
        let hasher = hasher(small());
        let stored = ::bcrypt::hash("violet-otter-lamp-93", 4).unwrap();
        let ok = hasher.verify(password("violet-otter-lamp-93"), Some(stored.clone())).await.unwrap();
        assert_eq!(ok, Verification { matches: true, needs_rehash: true });
        assert!(!hasher.verify(password("violet-otter-lamp-94"), Some(stored.clone())).await.unwrap().matches);
        // Above the cost bound: never verified (it would hold a hashing thread), never matches.
        let costly = format!("$2b$20${}", &stored[7..]);
        assert!(!hasher.verify(password("violet-otter-lamp-93"), Some(costly)).await.unwrap().matches);
    }

    #[test]
    fn importable_hashes() {
        let params = small().to_params().unwrap();
        let argon2 = hash_with(&params, b"violet-otter-lamp-93", &mut Scratch::default()).unwrap();
        assert_eq!(check_importable_hash(&argon2), Ok(()));
        assert_eq!(check_importable_hash(&::bcrypt::hash("x", 4).unwrap()), Ok(()));
        let node_argon2_default =
            "$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHRzb21lc2FsdA$ZEOx0tUdmPdjf1B1ZrDzuvsz0XWL9n6SsgxEQ6uKZ7E";
        assert_eq!(check_importable_hash(node_argon2_default), Ok(()));
        for refused in [
            "$argon2id$v=19$m=1048576,t=3,p=4$c29tZXNhbHRzb21lc2FsdA$ZEOx0tUdmPdjf1B1ZrDzuvsz0XWL9n6SsgxEQ6uKZ7E",
            "$argon2id$v=19$m=65536,t=3000,p=4$c29tZXNhbHRzb21lc2FsdA$ZEOx0tUdmPdjf1B1ZrDzuvsz0XWL9n6SsgxEQ6uKZ7E",
            "$argon2id$garbage",
            "sha256$abc$def",
            "plain-text-password",
            "",
        ] {
            assert!(check_importable_hash(refused).is_err(), "{refused}");
        }
    }

    #[tokio::test]
    async fn missing_or_corrupt_hash_never_matches() {
        let hasher = hasher(small());
        assert!(!hasher.verify(password("violet-otter-lamp-93"), None).await.unwrap().matches);
        assert!(
            !hasher.verify(password("violet-otter-lamp-93"), Some("$argon2id$garbage".into())).await.unwrap().matches
        );
    }
}
