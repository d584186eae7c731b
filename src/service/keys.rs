use std::sync::{Arc, RwLock};

use base64::{
    Engine,
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
};
use chrono::{DateTime, Utc};

use crate::{
    crypto::{JwtSettings, KeySet, generate_ed25519},
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
    last_on_demand: Arc<std::sync::Mutex<Option<std::time::Instant>>>,
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
            if last.is_some_and(|at| at.elapsed() < ON_DEMAND_RELOAD_INTERVAL) {
                return Ok(false);
            }
            *last = Some(std::time::Instant::now());
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

/// Creates a new active signing key and retires the previous one. Tokens the previous key signed
/// keep verifying until they expire: retired keys stay published for one token lifetime.
pub async fn rotate_signing_key(store: &Store, now: DateTime<Utc>) -> Result<String> {
    let material = generate_ed25519()?;
    let kid = format!("k{}", now.format("%Y%m%dT%H%M%S%.3fZ"));
    store
        .rotate_signing_key(StoredSigningKey {
            kid: kid.clone(),
            algorithm: ALGORITHM.to_owned(),
            private_key: STANDARD.encode(&material.private_pkcs8),
            public_key: URL_SAFE_NO_PAD.encode(&material.public_raw),
            created_at: now,
            retired_at: None,
        })
        .await?;
    Ok(kid)
}

async fn load_key_set(store: &Store, settings: &JwtSettings, now: DateTime<Utc>) -> Result<KeySet> {
    // A key retired earlier than one token lifetime (plus leeway) ago can have no live tokens.
    let retired_after = crate::domain::earlier(now, settings.ttl + settings.leeway)?;
    let mut keys = store.live_signing_keys(retired_after).await?;
    if !keys.iter().any(|key| key.retired_at.is_none()) {
        rotate_signing_key(store, now).await?;
        keys = store.live_signing_keys(retired_after).await?;
    }
    let active = keys
        .iter()
        .find(|key| key.retired_at.is_none() && key.algorithm == ALGORITHM)
        .ok_or_else(|| Error::internal("no active EdDSA signing key"))?;
    let private =
        STANDARD.decode(&active.private_key).map_err(|_| Error::internal("stored signing key is not base64"))?;
    let public_keys = keys
        .iter()
        .filter(|key| key.algorithm == ALGORITHM)
        .map(|key| {
            URL_SAFE_NO_PAD
                .decode(&key.public_key)
                .map(|public| (key.kid.clone(), public))
                .map_err(|_| Error::internal("stored public key is not base64url"))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(KeySet::new(active.kid.clone(), &private, &public_keys))
}
