//! The one typed configuration, at the edge: the schema (`Config`, every setting and its
//! default) here, loading in `load.rs` (defaults, then a TOML file, then `KEYWARD_*` environment
//! variables, then command-line flags), validation in `validate.rs` (a bad value stops the
//! process with one line naming the setting). The only module that reads the environment.
//! Nothing below `app` reads it: `app::settings` turns it into each layer's own settings types,
//! some of which (`RateLimits`, `CounterPolicy`, `UserVerification`) the schema embeds.

use std::{fmt, net::SocketAddr, path::PathBuf, time::Duration};

use serde::{Deserialize, Deserializer, Serialize};

mod address;
mod email;
mod load;
mod oauth;
mod password;
mod signin;
mod traces;
mod validate;
mod webhooks;

pub use address::resolve_listen;
pub use email::EmailConfig;
pub use oauth::{GITHUB_PROVIDER_ID, GitHubConfig, OAuthConfig, OidcConfig};
pub use password::PasswordConfig;
pub use signin::SigninConfig;
pub use traces::{OtlpProtocol, TraceExport};
pub use validate::ConfigError;
pub use webhooks::{WebhookConfig, WebhookDeliveryConfig};

pub use crate::{
    crypto::UserVerification,
    service::{CounterPolicy, RateBudget, RateLimits},
};
use crate::{
    crypto::{Argon2Settings, JwtSettings},
    domain::PasswordPolicy,
};

/// Output format of the logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// The longest a session may live: 400 days, the most browsers keep a cookie (RFC 6265bis
/// §5.6.1 caps `Max-Age`/`Expires` there), so a longer session could not be carried anyway. Every
/// duration setting has an upper bound like this one, so date arithmetic cannot leave chrono's
/// range on a request path.
pub const MAX_SESSION_SECS: u64 = 400 * 24 * 3600;

/// Every setting, with its default. Field names are the TOML keys; the environment variable is
/// `KEYWARD_` + the name in upper case (lists there are comma-separated).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// gRPC, grpc-web and plain HTTP all share this address (`host:port`; a host name such as
    /// `localhost` is resolved at start).
    #[serde(deserialize_with = "address::listen_address")]
    pub listen: SocketAddr,
    /// Where the embedded SQLite database lives.
    pub data_dir: PathBuf,
    /// `postgres://…` for PostgreSQL; unset means SQLite in `data_dir`. `DATABASE_URL` also works.
    pub database_url: Option<String>,
    /// The master key that seals secrets at rest (signing keys, provider tokens): 32 random
    /// bytes in base64. Usually given as `KEYWARD_MASTER_KEY`. Unset, and `master_key_file`
    /// unset: SQLite uses `<data_dir>/master.key` (generated on first start); PostgreSQL refuses
    /// to start.
    pub master_key: Option<Secret>,
    /// A file holding the master key (same form). Set this or `master_key`, not both.
    pub master_key_file: Option<PathBuf>,
    pub database_max_connections: u32,
    /// The longest a call waits on the database (pool acquire, connect, and on PostgreSQL each
    /// statement); past it the call answers UNAVAILABLE.
    pub database_timeout_ms: u64,
    /// Run pending migrations when `serve` starts.
    pub migrate_on_start: bool,
    /// `database_url` is a transaction-pooling proxy (PgBouncer `pool_mode = transaction`):
    /// every statement then runs inside a transaction, with no statement cache, and
    /// `database_listen_url` is required. The role's own settings must then carry
    /// `statement_timeout` (docs/scaling.md).
    pub database_transaction_pooling: bool,
    /// PostgreSQL: where the session event listener (`LISTEN`) and, behind a transaction pooler,
    /// migrations connect — the primary directly, or a session-mode entry of the pooler.
    /// Unset: `database_url`.
    pub database_listen_url: Option<String>,

    /// `iss` of access tokens; defaults to `http://<listen>`.
    pub issuer: Option<String>,
    /// `aud` of access tokens: the services that accept them.
    pub audience: String,
    pub access_token_ttl_secs: u64,
    /// How often a running server reloads signing keys (to pick up `keyward keys rotate`).
    pub signing_key_reload_secs: u64,

    /// A session unused this long ends.
    pub session_idle_timeout_secs: u64,
    /// A session ends this long after sign-in, used or not.
    pub session_max_age_secs: u64,
    /// Last-seen and idle expiry are written at most this often per session.
    pub session_touch_interval_secs: u64,
    /// Factor changes (add or delete a passkey, change the password, link or unlink a provider)
    /// need the user to have proved a factor in this session this recently: at sign-in or with
    /// a re-authentication (password or passkey). Older: REAUTHENTICATION_REQUIRED.
    pub reauthentication_window_secs: u64,

    /// How long a replica may answer GetSession from memory (0 disables the cache). A session
    /// revoked through another replica is accepted here for at most this long; revocations
    /// through this replica take effect at once.
    pub session_cache_ttl_ms: u64,
    /// Sessions kept in that cache at most.
    pub session_cache_max_entries: usize,

    /// `Secure` attribute of the session cookie. Browsers accept Secure cookies from
    /// http://localhost, so this stays on unless you serve plain HTTP on another host name.
    pub cookie_secure: bool,
    /// `Domain` of the session cookie, to share it with other hosts under that domain. Unset
    /// (the default), the cookie is `__Host-keyward_session`, bound to this host; set, it is
    /// `__Secure-keyward_session` (`keyward_session` when `cookie_secure` is off).
    pub cookie_domain: Option<String>,
    /// Also return the session token in the body of sign-in answers to browsers (grpc-web with
    /// an Origin). Off: only the HttpOnly cookie carries it, out of reach of page scripts.
    pub session_token_in_browser_responses: bool,
    /// Web origins allowed to call over grpc-web with credentials (CORS). Empty: same origin only.
    #[serde(deserialize_with = "list_or_comma_separated")]
    pub cors_allowed_origins: Vec<String>,

    pub password_min_chars: usize,
    pub password_max_chars: usize,
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    pub argon2_parallelism: u32,
    /// Threads that hash passwords; default: one per core.
    pub hash_workers: Option<usize>,
    /// Hash jobs that may wait; past this, Login and Register answer RESOURCE_EXHAUSTED.
    pub hash_queue_depth: usize,
    /// Run the hashing threads at the lowest OS scheduling priority (nice 19), so a login storm
    /// cannot take the cores the async runtime needs for everything else.
    pub hash_low_priority: bool,

    /// WebAuthn relying-party id: the registrable domain passkeys are bound to ("example.com").
    pub rp_id: String,
    /// Name shown by authenticators when creating a passkey.
    pub rp_name: String,
    /// Origins allowed to run passkey ceremonies: web origins (`https://app.example.com`) and
    /// native-app origins (`android:apk-key-hash:…`). Web origins on other domains than `rp_id`
    /// are WebAuthn L3 related origins, published at /.well-known/webauthn. Empty: the address
    /// Keyward listens on, as `http://localhost:<port>`.
    #[serde(deserialize_with = "list_or_comma_separated")]
    pub rp_origins: Vec<String>,
    /// `required` or `preferred`: whether authenticators must verify the user (PIN, biometric).
    pub passkey_user_verification: UserVerification,
    /// What a signature counter that did not increase means: `reject`, `flag` (allow and audit),
    /// or `ignore_when_backup_eligible` (synced passkeys report 0; others are rejected).
    pub passkey_counter_policy: CounterPolicy,
    /// How long a passkey ceremony may take between its two steps.
    pub ceremony_ttl_secs: u64,
    /// Passkeys one account may have.
    pub max_passkeys_per_user: u64,
    /// Pending (unfinished, unexpired) ceremonies kept at most, passkey and OAuth together;
    /// beyond it Start* answers RESOURCE_EXHAUSTED.
    pub max_pending_ceremonies: u64,
    /// The same, per client address.
    pub max_pending_ceremonies_per_client: u64,
    /// Audit events older than this are deleted by the sweep.
    pub audit_retention_days: u64,
    /// WatchSessionEvents can resume from a cursor at most this old; older events are deleted
    /// by the sweep (a watcher further behind must resync).
    pub session_event_retention_hours: u64,
    /// WatchSessionEvents streams one API key may hold open on one replica at once.
    pub max_watch_streams_per_key: usize,
    /// How often the expiry sweep runs.
    pub sweep_interval_secs: u64,
    /// How often the SQLite WAL is checkpointed (PASSIVE; TRUNCATE when idle).
    pub sqlite_checkpoint_interval_secs: u64,

    /// Largest accepted request message, in bytes.
    pub max_request_bytes: usize,

    /// Proxies (addresses or CIDR networks) whose `X-Forwarded-For` names the client. Empty: the
    /// TCP peer is the client and the header is ignored.
    #[serde(deserialize_with = "list_or_comma_separated")]
    pub trusted_proxies: Vec<String>,
    /// Per-client-address budgets (`[rate_limits]`).
    pub rate_limits: RateLimits,
    /// Consecutive failed sign-ins on one account and factor that are answered without delay.
    pub failed_sign_in_free_attempts: u32,
    /// The wait after the first delayed failure; it doubles with each further failure…
    pub failed_sign_in_delay_secs: u64,
    /// …up to this.
    pub failed_sign_in_max_delay_secs: u64,
    /// Consecutive failures after which the factor is suspended for the account (NIST SP
    /// 800-63B-4 §3.2.2: at most 100) until a successful sign-in or `failed_sign_in_forget_secs`.
    pub failed_sign_in_limit: u32,
    /// The failures of an account are forgotten this long after the last one.
    pub failed_sign_in_forget_secs: u64,

    /// Serve the built-in sign-in page at `/signin` (on by default; turn it off in production
    /// when your own app has the sign-in UI).
    pub signin_page: bool,
    /// Where the sign-in page is published (`[signin]`): the URL mailed links point at.
    pub signin: SigninConfig,

    /// Log filter (tracing-subscriber syntax); `RUST_LOG` also sets it.
    pub log: String,
    pub log_format: LogFormat,
    /// Serve Prometheus metrics at `/metrics` on this address, apart from the public one (unset:
    /// no metrics are kept). Meant for the operator's network: it says how busy the server is.
    #[serde(deserialize_with = "address::optional_listen_address")]
    pub metrics_listen: Option<SocketAddr>,
    /// Trace export (OpenTelemetry over OTLP), from the standard `OTEL_*` variables only: not a
    /// TOML key.
    #[serde(skip)]
    pub traces: Option<TraceExport>,

    /// Sign-in with GitHub and OpenID Connect providers (`[oauth]`, `[oauth.github]`,
    /// `[[oauth.oidc]]`).
    pub oauth: OAuthConfig,

    /// The breached-password check (`[password]`), off by default.
    pub password: PasswordConfig,
    /// Mail delivery (`[email]`): SMTP, or `.eml` files by default.
    pub email: EmailConfig,
    /// Password sign-in needs a verified address: an unverified account's correct password gets
    /// EMAIL_NOT_VERIFIED and a (throttled) verification link; Register and StartPasskeySignUp
    /// sign nobody in and answer every address alike. On by default: with it off a new address
    /// gets a session at once, so a taken one cannot be answered like a new one without lying
    /// (OWASP ASVS 5 V6.3.8, no account enumeration). Turn it off only where the address list is
    /// not secret.
    pub require_email_verification: bool,
    /// The base URL users reach Keyward at; mailed links point at `<public_url>/signin` unless
    /// `signin.url` says otherwise.
    /// Default: `http://localhost:<port>`.
    pub public_url: Option<String>,

    /// Signed webhook endpoints (`[[webhooks]]`: url, events, secret_file).
    pub webhooks: Vec<WebhookConfig>,
    /// How webhook deliveries are timed out, retried and given up (`[webhook_delivery]`).
    pub webhook_delivery: WebhookDeliveryConfig,
}

impl Default for Config {
    fn default() -> Self {
        let argon2 = Argon2Settings::default();
        let password = PasswordPolicy::default();
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 50051)),
            data_dir: PathBuf::from("keyward-data"),
            database_url: None,
            master_key: None,
            master_key_file: None,
            database_max_connections: 16,
            database_timeout_ms: 1500,
            migrate_on_start: true,
            database_transaction_pooling: false,
            database_listen_url: None,
            issuer: None,
            audience: "keyward".into(),
            access_token_ttl_secs: 300,
            signing_key_reload_secs: 30,
            session_idle_timeout_secs: 7 * 24 * 3600,
            session_max_age_secs: 30 * 24 * 3600,
            session_touch_interval_secs: 300,
            reauthentication_window_secs: 300,
            session_cache_ttl_ms: 1000,
            session_cache_max_entries: 100_000,
            cookie_secure: true,
            cookie_domain: None,
            session_token_in_browser_responses: false,
            cors_allowed_origins: Vec::new(),
            password_min_chars: password.min_chars,
            password_max_chars: password.max_chars,
            argon2_memory_kib: argon2.memory_kib,
            argon2_iterations: argon2.iterations,
            argon2_parallelism: argon2.parallelism,
            hash_workers: None,
            hash_queue_depth: 64,
            hash_low_priority: true,
            rp_id: "localhost".into(),
            rp_name: "Keyward".into(),
            rp_origins: Vec::new(),
            passkey_user_verification: UserVerification::Preferred,
            passkey_counter_policy: CounterPolicy::IgnoreWhenBackupEligible,
            ceremony_ttl_secs: 300,
            max_passkeys_per_user: 20,
            max_pending_ceremonies: 100_000,
            max_pending_ceremonies_per_client: 100,
            audit_retention_days: 90,
            session_event_retention_hours: 7 * 24,
            max_watch_streams_per_key: 4,
            sweep_interval_secs: 600,
            sqlite_checkpoint_interval_secs: 10,
            max_request_bytes: 64 * 1024,
            trusted_proxies: Vec::new(),
            rate_limits: RateLimits::default(),
            failed_sign_in_free_attempts: 5,
            failed_sign_in_delay_secs: 2,
            failed_sign_in_max_delay_secs: 900,
            failed_sign_in_limit: 100,
            failed_sign_in_forget_secs: 24 * 3600,
            signin_page: true,
            signin: SigninConfig::default(),
            log: "info".into(),
            log_format: LogFormat::Text,
            metrics_listen: None,
            traces: None,
            oauth: OAuthConfig::default(),
            password: PasswordConfig::default(),
            email: EmailConfig::default(),
            public_url: None,
            require_email_verification: true,
            webhooks: Vec::new(),
            webhook_delivery: WebhookDeliveryConfig::default(),
        }
    }
}

/// A setting that must not be printed: `Debug` shows `<redacted>`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Command-line flags that override the file and the environment.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
}

impl Config {
    /// The database URL in force: the configured one, or SQLite in `data_dir`.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}?mode=rwc", self.data_dir.join("keyward.db").display()),
        }
    }

    pub fn uses_sqlite(&self) -> bool {
        self.database_url().starts_with("sqlite:")
    }

    /// The SQLite database file, when the database is SQLite on a file (not `:memory:`).
    pub fn sqlite_file(&self) -> Option<PathBuf> {
        let url = self.database_url();
        let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
        let path = rest.split('?').next().unwrap_or_default();
        (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
    }

    pub fn argon2(&self) -> Argon2Settings {
        Argon2Settings {
            memory_kib: self.argon2_memory_kib,
            iterations: self.argon2_iterations,
            parallelism: self.argon2_parallelism,
        }
    }

    pub fn password_policy(&self) -> PasswordPolicy {
        PasswordPolicy { min_chars: self.password_min_chars, max_chars: self.password_max_chars }
    }

    pub fn hash_workers(&self) -> usize {
        self.hash_workers.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, usize::from))
    }

    pub fn jwt(&self) -> JwtSettings {
        JwtSettings {
            issuer: self.issuer.clone().unwrap_or_else(|| format!("http://{}", self.listen)),
            audience: self.audience.clone(),
            ttl: Duration::from_secs(self.access_token_ttl_secs),
            leeway: Duration::from_secs(30),
        }
    }

    /// The origins passkey ceremonies may come from (the default when none are configured).
    pub fn passkey_origins(&self) -> Vec<String> {
        if self.rp_origins.is_empty() {
            vec![format!("http://localhost:{}", self.listen.port())]
        } else {
            self.rp_origins.clone()
        }
    }

    pub fn database_timeout(&self) -> Duration {
        Duration::from_millis(self.database_timeout_ms)
    }

    pub fn ceremony_ttl(&self) -> Duration {
        Duration::from_secs(self.ceremony_ttl_secs)
    }

    pub fn session_idle_timeout(&self) -> Duration {
        Duration::from_secs(self.session_idle_timeout_secs)
    }

    pub fn session_max_age(&self) -> Duration {
        Duration::from_secs(self.session_max_age_secs)
    }

    pub fn session_touch_interval(&self) -> Duration {
        Duration::from_secs(self.session_touch_interval_secs)
    }

    pub fn reauthentication_window(&self) -> Duration {
        Duration::from_secs(self.reauthentication_window_secs)
    }
}

pub(crate) fn list_or_comma_separated<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ListOrString {
        List(Vec<String>),
        String(String),
    }
    Ok(match ListOrString::deserialize(deserializer)? {
        ListOrString::List(list) => list,
        ListOrString::String(s) => s.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect(),
    })
}
