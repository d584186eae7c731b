//! Use cases: the rules of registering, signing in and managing sessions. Knows nothing of gRPC
//! or SQL: it takes raw request values, validates them into domain types, and calls the store
//! and crypto.

mod accounts;
mod audit;
mod clock;
mod keys;
mod oauth;
mod passkeys;
mod session_cache;
mod sessions;

use std::sync::Arc;

pub use clock::Clock;
pub use keys::{KeyRing, rotate_signing_key};
pub use oauth::{OAuthIntent, OAuthProviders, OAuthSignIn, ProviderInfo, ProviderKind, StartedOAuth};
pub use passkeys::{CeremonyStart, PasskeySettings};
pub use sessions::{Caller, CredentialKind, SessionPolicy, SignedIn};

use crate::{
    config::Config,
    crypto::{AccessTokenSigner, CpuPool, PasswordHasher},
    domain::PasswordPolicy,
    error::{Error, Result},
    store::Store,
};

/// Longest user agent kept with a session.
const MAX_USER_AGENT_CHARS: usize = 256;

/// What the transport knows about a request that the rules care about.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    pub user_agent: Option<String>,
}

impl RequestMeta {
    pub fn new(user_agent: Option<&str>) -> Self {
        Self { user_agent: user_agent.map(|ua| ua.chars().take(MAX_USER_AGENT_CHARS).collect()) }
    }
}

/// Every use case, sharing one set of dependencies. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Services {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Store,
    /// CPU-heavy work (argon2, zxcvbn) runs here, never on the runtime.
    cpu: Arc<CpuPool>,
    hasher: PasswordHasher,
    signer: AccessTokenSigner,
    keys: KeyRing,
    sessions: SessionPolicy,
    session_cache: session_cache::SessionCache,
    password_policy: PasswordPolicy,
    webauthn: webauthn_rs::Webauthn,
    passkeys: PasskeySettings,
    clock: Clock,
    oauth: OAuthProviders,
}

impl Services {
    /// Builds the services over an open, migrated store: starts the hashing pool and loads (or
    /// on first start creates) the signing keys.
    pub async fn start(config: &Config, store: Store, clock: Clock) -> Result<Self> {
        let pool = Arc::new(CpuPool::start(config.hash_workers(), config.hash_queue_depth)?);
        let hasher = PasswordHasher::new(Arc::clone(&pool), config.argon2())?;
        let signer = AccessTokenSigner::new(config.jwt());
        let keys = KeyRing::load(store.clone(), signer.settings(), clock.now()).await?;
        let oauth = OAuthProviders::from_config(&config.oauth)?;
        let webauthn = crate::crypto::relying_party(config).map_err(Error::internal)?;
        let inner = Inner {
            store,
            cpu: pool,
            hasher,
            signer,
            keys,
            sessions: SessionPolicy::from_config(config),
            session_cache: session_cache::SessionCache::new(
                std::time::Duration::from_millis(config.session_cache_ttl_ms),
                config.session_cache_max_entries,
            ),
            password_policy: config.password_policy(),
            webauthn,
            passkeys: PasskeySettings::from_config(config),
            clock,
            oauth,
        };
        Ok(Self { inner: Arc::new(inner) })
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn keys(&self) -> &KeyRing {
        &self.inner.keys
    }

    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    /// Re-reads signing keys from the store (rotation by another process or replica).
    pub async fn reload_signing_keys(&self) -> Result<()> {
        self.inner.keys.reload(self.inner.signer.settings(), self.inner.clock.now()).await
    }

    /// Deletes expired sessions and ceremonies; returns how many rows went.
    pub async fn sweep_expired(&self) -> Result<u64> {
        let now = self.inner.clock.now();
        Ok(self.inner.store.delete_expired_sessions(now).await?
            + self.inner.store.delete_expired_ceremonies(now).await?)
    }
}
