//! Use cases: the rules of registering, signing in and managing sessions. Knows nothing of gRPC
//! or SQL: it takes raw request values, validates them into domain types, and calls the store
//! and crypto.

mod access_token_cache;
mod account_deletion;
mod accounts;
pub mod admin;
mod api_keys;
mod audit;
mod breach_check;
mod clock;
pub mod email;
pub mod import;
mod keys;
mod login_timing;
mod oauth;
pub mod outbox;
mod passkeys;
mod pending;
mod reauthentication;
mod refusals;
mod session_cache;
mod session_feed;
mod sessions;
mod sign_in_guard;
mod throttle;
mod verification;
pub mod webhooks;

use std::sync::Arc;

pub use api_keys::{CreatedApiKey, check_key_name, create_api_key, key_scopes, list_api_keys, revoke_api_key};
pub use breach_check::BreachCheckSettings;
pub use clock::Clock;
pub use keys::{JWKS_MAX_AGE, KeyRing, rotate_signing_key, rotation_delay};
pub use oauth::{GITHUB_PROVIDER_ID, GitHubSettings, OAuthSettings, OidcSettings};
pub use oauth::{OAuthCallback, OAuthIntent, OAuthProviders, OAuthSignIn, ProviderInfo, ProviderKind, StartedOAuth};
pub use passkeys::{CeremonyStart, CounterPolicy, PasskeySettings};
pub use sessions::{Caller, CredentialKind, SessionCaller, SessionPolicy, SignedIn};
pub use sign_in_guard::failure_key;
pub use throttle::{Budget, RateBudget, RateLimits, Throttles};
pub use verification::{LinkSettings, MailTemplates, MailedProof};

use crate::{
    crypto::{AccessTokenSigner, Argon2Settings, CpuPool, JwtSettings, PasswordHasher, RelyingPartySettings},
    domain::{ClientAddress, PasswordPolicy},
    error::{Error, Result},
    store::{FailurePolicy, Store},
};

/// Longest user agent kept with a session.
const MAX_USER_AGENT_CHARS: usize = 256;

/// What the transport knows about a request that the rules care about.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    pub user_agent: Option<String>,
    /// Where the request came from (the TCP peer, or the client a trusted proxy names).
    pub client: Option<ClientAddress>,
    /// The language the client's `Accept-Language` prefers, for the mails this request causes.
    pub language: Option<&'static crate::i18n::Catalog>,
}

impl RequestMeta {
    pub fn new(user_agent: Option<&str>) -> Self {
        Self {
            user_agent: user_agent.map(|ua| ua.chars().take(MAX_USER_AGENT_CHARS).collect()),
            client: None,
            language: None,
        }
    }

    pub fn with_client(self, client: Option<ClientAddress>) -> Self {
        Self { client, ..self }
    }

    /// The request's `Accept-Language` (the header, as grpc-web carries it from the browser).
    #[must_use]
    pub fn with_accept_language(self, accept_language: Option<&str>) -> Self {
        Self { language: Some(crate::i18n::negotiate(accept_language)), ..self }
    }

    /// The language of the mails this request causes: the negotiated one, else English.
    pub fn language(&self) -> &'static crate::i18n::Catalog {
        self.language.unwrap_or_else(crate::i18n::english)
    }

    /// The key client budgets count under.
    pub fn client_key(&self) -> String {
        self.client.map_or_else(|| "unknown".to_owned(), ClientAddress::throttle_key)
    }

    /// The client address as audit events record it.
    pub fn client_for_audit(&self) -> serde_json::Value {
        self.client.map_or(serde_json::Value::Null, |client| client.to_string().into())
    }
}

/// Everything the service layer is configured with, as its own types (`app::settings` builds it
/// from the configuration; nothing here reads `Config`).
#[derive(Debug, Clone)]
pub struct ServiceSettings {
    /// Threads that hash passwords, and how many hash jobs may wait.
    pub hash_workers: usize,
    pub hash_queue_depth: usize,
    /// Hashing threads at the lowest OS priority (`CpuPool::start`).
    pub hash_low_priority: bool,
    pub argon2: Argon2Settings,
    pub jwt: JwtSettings,
    pub sessions: SessionPolicy,
    /// How long a replica may answer from its session cache (zero: off), and its size.
    pub session_cache_ttl: std::time::Duration,
    pub session_cache_max_entries: usize,
    pub password_policy: PasswordPolicy,
    pub relying_party: RelyingPartySettings,
    pub passkeys: PasskeySettings,
    pub oauth: OAuthSettings,
    pub rate_limits: RateLimits,
    /// The per-account failed sign-in throttle, and how long failures are remembered.
    pub failure_policy: FailurePolicy,
    pub failure_memory: std::time::Duration,
    /// Pending ceremonies kept at most, in all and per client address.
    pub max_pending_ceremonies: u64,
    pub max_pending_ceremonies_per_client: u64,
    pub audit_retention_days: u64,
    /// The webhook endpoints events fan out to (their secrets stay with the sender).
    pub webhook_routes: Vec<crate::store::WebhookRoute>,
    /// How far back WatchSessionEvents can resume, and its streams per API key.
    pub session_event_retention: std::time::Duration,
    pub max_watch_streams_per_key: usize,
    /// Where the hashing pool, the budgets and the session cache count what they do (off by
    /// default: `Metrics::off()`).
    pub metrics: crate::metrics::Metrics,
    /// The breached-password range API new passwords are checked against; None: no check.
    pub breach_check: Option<BreachCheckSettings>,
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
    session_feed: session_feed::SessionFeed,
    /// Access tokens whose signature verified (the checks that can change still run per call).
    access_tokens: access_token_cache::AccessTokenCache,
    password_policy: PasswordPolicy,
    webauthn: webauthn_rs::Webauthn,
    passkeys: PasskeySettings,
    clock: Clock,
    oauth: OAuthProviders,
    decoys: passkeys::DecoyCredentials,
    /// The secret of a better-auth app imported into this database (`keyward import
    /// better-auth`), whose signed session cookies are accepted; read at start.
    better_auth: Option<crate::crypto::BetterAuthSecret>,
    /// The key mailed one-time codes are hashed under.
    codes: verification::CodeKey,
    throttles: Throttles,
    failure_policy: FailurePolicy,
    failure_memory: std::time::Duration,
    pending_ceremonies: pending::PendingCeremonies,
    audit_retention: chrono::Duration,
    outbox: outbox::Outbox,
    links: LinkSettings,
    breach_check: Option<breach_check::BreachCheck>,
    /// What a sign-in for an address without a password is verified against.
    login_timing: login_timing::LoginTiming,
    /// The per-client bound on refusal audit rows.
    refusals: refusals::RefusalBound,
}

impl Services {
    /// Builds the services over an open, migrated store: starts the hashing pool and loads (or
    /// on first start creates) the signing keys, with this replica's outbox for mail.
    pub async fn start(
        settings: ServiceSettings,
        store: Store,
        clock: Clock,
        email: email::EmailSettings,
    ) -> Result<Self> {
        let ServiceSettings {
            hash_workers,
            hash_queue_depth,
            hash_low_priority,
            argon2,
            jwt,
            sessions,
            session_cache_ttl,
            session_cache_max_entries,
            password_policy,
            relying_party,
            passkeys,
            oauth,
            rate_limits,
            failure_policy,
            failure_memory,
            max_pending_ceremonies,
            max_pending_ceremonies_per_client,
            audit_retention_days,
            webhook_routes,
            session_event_retention,
            max_watch_streams_per_key,
            metrics,
            breach_check,
        } = settings;
        let breach_check = breach_check.as_ref().map(breach_check::BreachCheck::new).transpose()?;
        let outbox = outbox::Outbox::default();
        let store = store
            .with_webhooks(crate::store::WebhookRoutes::new(webhook_routes, outbox.waker(crate::store::WEBHOOK_KIND)));
        let pool = Arc::new(CpuPool::start(hash_workers, hash_queue_depth, hash_low_priority)?.observed(&metrics));
        let hasher = PasswordHasher::new(Arc::clone(&pool), argon2)?;
        let access_tokens = access_token_cache::AccessTokenCache::new(
            u64::try_from(session_cache_max_entries).unwrap_or(u64::MAX),
            jwt.ttl + jwt.leeway,
        );
        let signer = AccessTokenSigner::new(jwt);
        let keys = KeyRing::load(store.clone(), signer.settings(), clock.now()).await?;
        let oauth = OAuthProviders::new(&oauth, &clock)?;
        let decoys = passkeys::DecoyCredentials::load(&store, clock.now()).await?;
        let codes = verification::CodeKey::load(&store, clock.now()).await?;
        let login_timing = login_timing::LoginTiming::load(&store, clock.now()).await?;
        let better_auth = store
            .find_server_secret(import::BETTER_AUTH_SECRET_ID)
            .await?
            .map(|secret| crate::crypto::BetterAuthSecret::new(&secret));
        let webauthn = crate::crypto::relying_party(&relying_party).map_err(Error::internal)?;
        let throttles = Throttles::new(&rate_limits, &clock).observed(&metrics);
        let session_feed = session_feed::SessionFeed::new(
            store.session_event_head().await?,
            max_watch_streams_per_key,
            chrono::Duration::from_std(session_event_retention).map_err(Error::internal)?,
        );
        let inner = Inner {
            store,
            cpu: pool,
            hasher,
            signer,
            keys,
            sessions,
            session_cache: session_cache::SessionCache::new(
                session_cache_ttl,
                session_cache_max_entries,
                clock.clone(),
            )
            .observed(&metrics),
            session_feed,
            access_tokens,
            password_policy,
            webauthn,
            passkeys,
            clock,
            oauth,
            decoys,
            better_auth,
            codes,
            throttles,
            failure_policy,
            failure_memory,
            pending_ceremonies: pending::PendingCeremonies::new(
                max_pending_ceremonies,
                max_pending_ceremonies_per_client,
            ),
            audit_retention: chrono::Duration::days(
                i64::try_from(audit_retention_days).unwrap_or(i64::MAX / 86_400_000).min(100_000),
            ),
            outbox,
            links: email.links,
            breach_check,
            login_timing,
            refusals: refusals::RefusalBound::default(),
        };
        Ok(Self { inner: Arc::new(inner) })
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Why the database does not answer, in a few words (None: it answered in time). For the
    /// health checks, which see the service layer only.
    pub async fn database_unavailable_reason(&self) -> Option<&'static str> {
        self.inner.store.unavailable_reason().await
    }

    /// The pool CPU-heavy work runs on.
    pub fn cpu_pool(&self) -> &Arc<CpuPool> {
        &self.inner.cpu
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

    /// Deletes expired sessions and ceremonies, forgotten sign-in failures, audit and session
    /// events past their retention, dead outbox messages past theirs, and drops idle client
    /// buckets; returns how many rows went. Also recounts the accounts' password-hash mix
    /// (`login_timing.rs`).
    pub async fn sweep_expired(&self) -> Result<u64> {
        let now = self.inner.clock.now();
        self.inner.throttles.prune();
        self.inner.refusals.prune(now);
        let forget_before = now - chrono::Duration::from_std(self.inner.failure_memory).map_err(Error::internal)?;
        self.inner.login_timing.recount(&self.inner.store).await?;
        Ok(self.inner.store.delete_expired_sessions(now).await?
            + self.inner.store.delete_expired_ceremonies(now).await?
            + self.inner.store.delete_expired_verification_tokens(now).await?
            + self.inner.store.forget_sign_in_failures(forget_before).await?
            + self.inner.store.delete_audit_events_before(now - self.inner.audit_retention).await?
            + self.prune_session_events().await?
            + self.sweep_dead_outbox().await?)
    }

    /// Stores a ceremony (passkey or OAuth) within the caps on pending ones: global (estimated)
    /// and per client address (exact). Beyond them: `TooManyCeremonies`, nothing written.
    pub(crate) async fn store_ceremony(&self, ceremony: crate::store::NewCeremony) -> Result<()> {
        let pending = &self.inner.pending_ceremonies;
        pending.check(&self.inner.store, ceremony.created_at, self.inner.passkeys.ceremony_ttl).await?;
        self.inner.store.insert_ceremony_within(ceremony, pending.per_client_cap).await?;
        pending.stored();
        Ok(())
    }

    /// Takes one call from `budget` for the request's client address.
    pub(crate) fn throttle_client(&self, budget: Budget, meta: &RequestMeta) -> Result<()> {
        self.inner.throttles.check(budget, &meta.client_key(), 1)
    }
}
