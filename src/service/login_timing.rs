//! Which dummy hash a password sign-in for an address without a password is verified against,
//! so that its time says nothing about whether the address has an account (OWASP ASVS 5 V6.3.8,
//! no enumeration by timing).
//!
//! A single dummy cannot do it once accounts hold hashes of different costs: an Auth.js import
//! brings bcrypt hashes (cost 10–12: a bcrypt-12 check took 13.7× an argon2 dummy's time), which
//! stay until each user's first sign-in; a better-auth import brings scrypt hashes, likewise. So the dummy is drawn from the accounts' own mix: an
//! address is assigned a kind with the probability that an account with a password has it
//! (bcrypt of cost c, or better-auth's scrypt: its share of the accounts with a password; argon2
//! otherwise), and always
//! the same kind, by a keyed hash of the address (HMAC-SHA256 under a secret of its own, shared
//! by every replica through the `secrets` table). Then the time of a wrong password tells a
//! bcrypt-12 account from an unknown address no better than chance: among addresses that take
//! bcrypt-12 time, accounts and non-accounts are in the same proportion as everywhere else.
//! Repeating the request does not help either: the kind is fixed per address.
//!
//! The mix is recounted at start and by every sweep (`sweep_interval_secs`), off the request path,
//! so a sign-in never waits on the count. Accounts without a password (passkey or provider only)
//! are "addresses without a password" too and get the same draw.

use std::sync::RwLock;

use aws_lc_rs::hmac;

use crate::{
    crypto::DummyHash,
    error::{Error, Result},
    store::{PasswordHashMix, Store},
};

/// The `secrets` row holding the key addresses are assigned a dummy kind under.
const SECRET_ID: &str = "login_timing";

/// The accounts' hash mix and the key that places each address in it.
pub(super) struct LoginTiming {
    key: hmac::Key,
    mix: RwLock<PasswordHashMix>,
}

impl std::fmt::Debug for LoginTiming {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LoginTiming(<redacted>)")
    }
}

impl LoginTiming {
    /// Loads (on the first start, creates) the key and counts the mix.
    pub(super) async fn load(store: &Store, now: chrono::DateTime<chrono::Utc>) -> Result<Self> {
        let secret = store.server_secret(SECRET_ID, now, crate::crypto::random_key).await?;
        let timing = Self { key: hmac::Key::new(hmac::HMAC_SHA256, &secret), mix: RwLock::default() };
        timing.recount(store).await?;
        Ok(timing)
    }

    /// Counts the accounts' hash kinds again (an import may have brought bcrypt hashes, and
    /// sign-ins re-hash them).
    pub(super) async fn recount(&self, store: &Store) -> Result<()> {
        let mix = store.password_hash_mix().await?;
        *self.mix.write().map_err(|_| Error::internal("login timing mix poisoned"))? = mix;
        Ok(())
    }

    /// The dummy kind of `email` (normalized), stable for as long as the mix is.
    pub(super) fn dummy_for(&self, email: &str) -> DummyHash {
        let Ok(mix) = self.mix.read() else { return DummyHash::Argon2 };
        let tag = hmac::sign(&self.key, format!("login-dummy:{email}").as_bytes());
        let mut roll = [0u8; 8];
        roll.copy_from_slice(&tag.as_ref()[..8]);
        pick(&mix, u64::from_be_bytes(roll))
    }
}

/// The kind at `roll` (any u64) in `mix`: bcrypt costs first, in cost order, each with its count
/// of accounts; argon2 for the rest of the accounts with a password.
fn pick(mix: &PasswordHashMix, roll: u64) -> DummyHash {
    if mix.with_password == 0 {
        return DummyHash::Argon2;
    }
    let mut point = roll % mix.with_password;
    for &(cost, count) in &mix.bcrypt_by_cost {
        if point < count {
            return DummyHash::Bcrypt(cost);
        }
        point -= count;
    }
    if point < mix.better_auth_scrypt {
        return DummyHash::BetterAuthScrypt;
    }
    DummyHash::Argon2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_spread_like_the_accounts() {
        let mix = PasswordHashMix {
            with_password: 1000,
            bcrypt_by_cost: vec![(10, 100), (12, 300)],
            better_auth_scrypt: 200,
        };
        let key = hmac::Key::new(hmac::HMAC_SHA256, b"test key of the login timing draw");
        let timing = LoginTiming { key, mix: RwLock::new(mix) };
        let mut counts = std::collections::HashMap::new();
        for i in 0..20_000 {
            *counts.entry(timing.dummy_for(&format!("user{i}@example.com"))).or_insert(0u32) += 1;
        }
        let share = |kind| f64::from(counts[&kind]) / 20_000.0;
        assert!((share(DummyHash::Bcrypt(10)) - 0.1).abs() < 0.02, "{counts:?}");
        assert!((share(DummyHash::Bcrypt(12)) - 0.3).abs() < 0.02, "{counts:?}");
        assert!((share(DummyHash::BetterAuthScrypt) - 0.2).abs() < 0.02, "{counts:?}");
        assert!((share(DummyHash::Argon2) - 0.4).abs() < 0.02, "{counts:?}");
        assert_eq!(timing.dummy_for("ada@example.com"), timing.dummy_for("ada@example.com"), "stable");
    }

    #[test]
    fn no_accounts_or_only_argon2_means_argon2() {
        assert_eq!(pick(&PasswordHashMix::default(), 7), DummyHash::Argon2);
        let all_bcrypt = PasswordHashMix { with_password: 3, bcrypt_by_cost: vec![(12, 3)], better_auth_scrypt: 0 };
        assert!((0..50).all(|roll| pick(&all_bcrypt, roll) == DummyHash::Bcrypt(12)));
    }
}
