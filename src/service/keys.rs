//! The JWT signing keys in force (`KeyRing`, reloaded periodically) and rotation, which
//! publishes a new key before it signs.

use std::{
    sync::{Arc, RwLock},
    time::Duration,
};

use base64::{
    Engine,
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
};
use chrono::{DateTime, Utc};

use crate::{
    crypto::{JwtSettings, KeySet, SigningKey, generate_ed25519},
    error::{Error, Result},
    store::{Store, StoredSigningKey},
};

const ALGORITHM: &str = "EdDSA";

/// The signing keys in force, held in memory and reloaded from the store periodically, so that a
/// key rotated by `keyward keys rotate` or another replica is picked up without a restart.
#[derive(Debug, Clone)]
pub struct KeyRing {
    store: Store,
    current: Arc<RwLock<Arc<KeySet>>>,
    /// When an on-demand reload last ran: garbage tokens must not turn into a query each.
    last_on_demand: Arc<std::sync::Mutex<Option<DateTime<Utc>>>>,
}

/// On-demand reloads (a token with an unknown key) happen at most this often.
const ON_DEMAND_RELOAD_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

impl KeyRing {
    /// Loads the live keys, creating the first key when the store has none.
    pub async fn load(store: Store, settings: &JwtSettings, now: DateTime<Utc>) -> Result<Self> {
        let set = load_key_set(&store, settings, now).await?;
        Ok(Self { store, current: Arc::new(RwLock::new(Arc::new(set))), last_on_demand: Arc::default() })
    }

    /// The key set as of the last (re)load.
    pub fn current(&self) -> Arc<KeySet> {
        Arc::clone(&self.current.read().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// Reloads unless an on-demand reload ran within the last few seconds; true when it ran.
    pub async fn reload_on_demand(&self, settings: &JwtSettings, now: DateTime<Utc>) -> Result<bool> {
        {
            let mut last = self.last_on_demand.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            // On the service clock (`now`); a clock that stepped backwards allows a reload.
            if last.is_some_and(|at| (now - at).to_std().is_ok_and(|since| since < ON_DEMAND_RELOAD_INTERVAL)) {
                return Ok(false);
            }
            *last = Some(now);
        }
        self.reload(settings, now).await?;
        Ok(true)
    }

    pub async fn reload(&self, settings: &JwtSettings, now: DateTime<Utc>) -> Result<()> {
        let set = load_key_set(&self.store, settings, now).await?;
        *self.current.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(set);
        Ok(())
    }
}

/// How long verifiers may cache `/.well-known/jwks.json` (its `Cache-Control: max-age`).
pub const JWKS_MAX_AGE: Duration = Duration::from_secs(60);

/// How long `keyward keys rotate` waits between publishing a new key and signing with it: every
/// replica reloads keys within `signing_key_reload_secs`, and a verifier may hold a JWKS for
/// `JWKS_MAX_AGE` after that. Only then can no token carry a kid someone cannot find.
pub fn rotation_delay(signing_key_reload: Duration) -> Duration {
    signing_key_reload + JWKS_MAX_AGE
}

/// Adds a new signing key, published at once and signing from `now + activates_after`; the keys
/// in force retire (stop signing) at that moment. Tokens they signed keep verifying until they
/// expire: retired keys stay published for one token lifetime. Returns the kid and when it
/// signs.
pub async fn rotate_signing_key(
    store: &Store,
    now: DateTime<Utc>,
    activates_after: Duration,
) -> Result<(String, DateTime<Utc>)> {
    let material = generate_ed25519()?;
    let kid = format!("k{}", now.format("%Y%m%dT%H%M%S%.3fZ"));
    let activates_at = crate::domain::later(now, activates_after)?;
    store
        .rotate_signing_key(StoredSigningKey {
            kid: kid.clone(),
            algorithm: ALGORITHM.to_owned(),
            private_key: STANDARD.encode(&material.private_pkcs8),
            public_key: URL_SAFE_NO_PAD.encode(&material.public_raw),
            created_at: now,
            retired_at: None,
            activates_at,
        })
        .await?;
    Ok((kid, activates_at))
}

async fn load_key_set(store: &Store, settings: &JwtSettings, now: DateTime<Utc>) -> Result<KeySet> {
    // A key retired earlier than one token lifetime (plus leeway) ago can have no live tokens.
    let retired_after = crate::domain::earlier(now, settings.ttl + settings.leeway)?;
    let mut keys = store.live_signing_keys(retired_after).await?;
    if !keys.iter().any(|key| key.retired_at.is_none()) {
        // First start (or every key retired long ago): a key that signs at once.
        rotate_signing_key(store, now, Duration::ZERO).await?;
        keys = store.live_signing_keys(retired_after).await?;
    }
    let keys: Vec<_> = keys.into_iter().filter(|key| key.algorithm == ALGORITHM).collect();
    let signing = keys
        .iter()
        .filter(|key| key.retired_at.is_none_or(|retired_at| retired_at > now))
        .map(|key| {
            let private_pkcs8 =
                STANDARD.decode(&key.private_key).map_err(|_| Error::internal("stored signing key is not base64"))?;
            Ok(SigningKey {
                kid: key.kid.clone(),
                private_pkcs8,
                activates_at: key.activates_at,
                retired_at: key.retired_at,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let public_keys = keys
        .iter()
        .map(|key| {
            URL_SAFE_NO_PAD
                .decode(&key.public_key)
                .map(|public| (key.kid.clone(), public))
                .map_err(|_| Error::internal("stored public key is not base64url"))
        })
        .collect::<Result<Vec<_>>>()?;
    let set = KeySet::new(signing, &public_keys);
    if set.signing_kid(now).is_none() {
        return Err(Error::internal("no EdDSA signing key has activated"));
    }
    Ok(set)
}
