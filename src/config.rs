//! The one typed configuration: defaults, then a TOML file (`--config`), then `KEYWARD_*`
//! environment variables, then command-line flags. Validated once at start; a bad value stops
//! the process with one line naming the setting. The only module that reads the environment.

use std::{
    fmt,
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use serde::{Deserialize, Deserializer, Serialize};

mod email;
mod oauth;

pub use email::EmailConfig;
pub use oauth::{GITHUB_PROVIDER_ID, GitHubConfig, OAuthConfig, OidcConfig};

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

/// WebAuthn user verification requirement for passkeys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserVerification {
    Required,
    Preferred,
}

/// What to do when a passkey's signature counter did not increase (a possible clone).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CounterPolicy {
    Reject,
    Flag,
    IgnoreWhenBackupEligible,
}

/// The longest a session may live: 400 days, the most browsers keep a cookie (RFC 6265bis
/// §5.6.1 caps `Max-Age`/`Expires` there), so a longer session could not be carried anyway. Every
/// duration setting has an upper bound like this one, so date arithmetic cannot leave chrono's
/// range on a request path.
pub const MAX_SESSION_SECS: u64 = 400 * 24 * 3600;

/// One per-client-address budget: a token bucket refilled at `per_minute`, holding `burst`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateBudget {
    pub per_minute: u32,
    pub burst: u32,
}

/// Per-client-address budgets of the anonymous entry points (`[rate_limits]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimits {
    /// Off when an edge in front of Keyward does per-client rate limiting. The per-account
    /// failure throttle stays on either way.
    pub enabled: bool,
    /// Login (one password check each).
    pub login: RateBudget,
    /// Register and StartPasskeySignUp: account creation, and the only answers that say an
    /// email is taken.
    pub register: RateBudget,
    /// StartPasskeyLogin and StartPasskeyRegistration (each writes a ceremony).
    pub passkey_start: RateBudget,
    /// StartOAuth (writes a ceremony, may fetch the provider's discovery document).
    pub oauth_start: RateBudget,
    /// Requests that mail a link (reset, magic link, verification), per client address.
    pub email_send: RateBudget,
    /// The same, per recipient address (whoever asks): mail to one inbox stays rare.
    pub email_address: RateBudget,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            enabled: true,
            login: RateBudget { per_minute: 30, burst: 10 },
            register: RateBudget { per_minute: 10, burst: 5 },
            passkey_start: RateBudget { per_minute: 60, burst: 30 },
            oauth_start: RateBudget { per_minute: 30, burst: 10 },
            email_send: RateBudget { per_minute: 10, burst: 5 },
            email_address: RateBudget { per_minute: 1, burst: 3 },
        }
    }
}

impl RateLimits {
    fn validate(&self) -> Result<(), ConfigError> {
        for (name, budget) in [
            ("login", self.login),
            ("register", self.register),
            ("passkey_start", self.passkey_start),
            ("oauth_start", self.oauth_start),
            ("email_send", self.email_send),
            ("email_address", self.email_address),
        ] {
            if budget.per_minute == 0 {
                return Err(invalid(&format!("rate_limits.{name}.per_minute"), "must be at least 1"));
            }
            if budget.burst == 0 {
                return Err(invalid(&format!("rate_limits.{name}.burst"), "must be at least 1"));
            }
        }
        Ok(())
    }
}

/// Every setting, with its default. Field names are the TOML keys; the environment variable is
/// `KEYWARD_` + the name in upper case (lists there are comma-separated).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// gRPC, grpc-web and plain HTTP all share this address.
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

    /// Log filter (tracing-subscriber syntax); `RUST_LOG` also sets it.
    pub log: String,
    pub log_format: LogFormat,

    /// Sign-in with GitHub and OpenID Connect providers (`[oauth]`, `[oauth.github]`,
    /// `[[oauth.oidc]]`).
    pub oauth: OAuthConfig,

    /// Mail delivery (`[email]`): SMTP, or `.eml` files by default.
    pub email: EmailConfig,
    /// Password sign-in needs a verified address: an unverified account's correct password gets
    /// EMAIL_NOT_VERIFIED and a (throttled) verification link. Off by default, as in Auth.js.
    pub require_email_verification: bool,
    /// The base URL users reach Keyward at; mailed links point at `<public_url>/signin`.
    /// Default: `http://localhost:<port>`.
    pub public_url: Option<String>,
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
            log: "info".into(),
            log_format: LogFormat::Text,
            oauth: OAuthConfig::default(),
            email: EmailConfig::default(),
            public_url: None,
            require_email_verification: false,
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

/// A configuration problem, naming the setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub setting: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid configuration: {}: {}", self.setting, self.message)
    }
}

impl std::error::Error for ConfigError {}

fn invalid(setting: &str, message: impl Into<String>) -> ConfigError {
    ConfigError { setting: setting.to_owned(), message: message.into() }
}

impl Config {
    /// Reads defaults ← `file` ← environment ← `overrides`, then validates.
    pub fn load(file: Option<&Path>, overrides: Overrides) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            if !file.is_file() {
                return Err(invalid("config", format!("{} is not a readable file", file.display())));
            }
            figment = figment.merge(Toml::file_exact(file));
        }
        let config: Config = figment
            .merge(Env::raw().only(&["DATABASE_URL", "RUST_LOG"]).map(|key| {
                if key.as_str().eq_ignore_ascii_case("RUST_LOG") { "log".into() } else { "database_url".into() }
            }))
            // `__` nests: KEYWARD_OAUTH__GITHUB__CLIENT_SECRET sets oauth.github.client_secret.
            .merge(Env::prefixed("KEYWARD_").split("__"))
            .merge(Serialized::defaults(overrides))
            .extract()
            .map_err(|err| {
                let setting = if err.path.is_empty() { "config".to_owned() } else { err.path.join(".") };
                let source = err.metadata.as_ref().map(|m| format!(" (from {})", m.name)).unwrap_or_default();
                invalid(&setting, format!("{}{source}", err.kind))
            })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks every setting; the first bad one is reported.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(url) = &self.database_url
            && !(url.starts_with("sqlite:") || url.starts_with("postgres://") || url.starts_with("postgresql://"))
        {
            return Err(invalid("database_url", "must start with postgres://, postgresql:// or sqlite:"));
        }
        if self.master_key.is_some() && self.master_key_file.is_some() {
            return Err(invalid("master_key", "set master_key (KEYWARD_MASTER_KEY) or master_key_file, not both"));
        }
        if let Some(key) = &self.master_key {
            crate::crypto::MasterKey::parse(key.expose()).map_err(|problem| invalid("master_key", problem))?;
        }
        if self.database_max_connections == 0 {
            return Err(invalid("database_max_connections", "must be at least 1"));
        }
        if !(100..=60_000).contains(&self.database_timeout_ms) {
            return Err(invalid("database_timeout_ms", "must be between 100 and 60000"));
        }
        if let Some(issuer) = &self.issuer {
            let parsed = url::Url::parse(issuer).map_err(|err| invalid("issuer", format!("not a URL: {err}")))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(invalid("issuer", "must be an http(s) URL"));
            }
        }
        if self.audience.trim().is_empty() {
            return Err(invalid("audience", "must not be empty"));
        }
        if !(30..=86_400).contains(&self.access_token_ttl_secs) {
            return Err(invalid("access_token_ttl_secs", "must be between 30 and 86400"));
        }
        if !(1..=3600).contains(&self.signing_key_reload_secs) {
            return Err(invalid("signing_key_reload_secs", "must be between 1 and 3600"));
        }
        if !(60..=MAX_SESSION_SECS).contains(&self.session_idle_timeout_secs) {
            return Err(invalid("session_idle_timeout_secs", format!("must be between 60 and {MAX_SESSION_SECS}")));
        }
        if !(self.session_idle_timeout_secs..=MAX_SESSION_SECS).contains(&self.session_max_age_secs) {
            return Err(invalid(
                "session_max_age_secs",
                format!("must be at least session_idle_timeout_secs and at most {MAX_SESSION_SECS} (400 days)"),
            ));
        }
        if self.session_touch_interval_secs >= self.session_idle_timeout_secs {
            return Err(invalid("session_touch_interval_secs", "must be shorter than session_idle_timeout_secs"));
        }
        if !(10..=86_400).contains(&self.reauthentication_window_secs) {
            return Err(invalid("reauthentication_window_secs", "must be between 10 and 86400"));
        }
        if self.session_cache_ttl_ms > 60_000 {
            return Err(invalid(
                "session_cache_ttl_ms",
                "must be at most 60000 (it bounds how long a revoked session may still be accepted)",
            ));
        }
        if self.session_cache_max_entries == 0 {
            return Err(invalid("session_cache_max_entries", "must be at least 1"));
        }
        for origin in &self.cors_allowed_origins {
            validate_origin(origin)
                .map_err(|message| invalid("cors_allowed_origins", format!("{origin:?}: {message}")))?;
        }
        if self.password_min_chars < 8 {
            return Err(invalid(
                "password_min_chars",
                "must be at least 8 (NIST SP 800-63B-4; 15 when the password is the only factor)",
            ));
        }
        if self.password_max_chars < 64 || self.password_max_chars < self.password_min_chars {
            return Err(invalid("password_max_chars", "must be at least 64 and at least password_min_chars"));
        }
        self.argon2()
            .to_params()
            .map_err(|err| invalid("argon2_memory_kib", format!("argon2 parameters rejected: {err}")))?;
        if self.hash_workers == Some(0) {
            return Err(invalid("hash_workers", "must be at least 1"));
        }
        if self.hash_queue_depth == 0 {
            return Err(invalid("hash_queue_depth", "must be at least 1"));
        }
        validate_rp_id(&self.rp_id).map_err(|message| invalid("rp_id", message))?;
        if self.rp_name.trim().is_empty() {
            return Err(invalid("rp_name", "must not be empty"));
        }
        for origin in &self.rp_origins {
            validate_rp_origin(origin).map_err(|message| invalid("rp_origins", format!("{origin:?}: {message}")))?;
        }
        let on_rp_id = |origin: &String| {
            url::Url::parse(origin)
                .ok()
                .and_then(|url| url.domain().map(str::to_owned))
                .is_some_and(|domain| domain == self.rp_id || domain.ends_with(&format!(".{}", self.rp_id)))
        };
        if !self.passkey_origins().iter().any(on_rp_id) {
            return Err(invalid(
                "rp_origins",
                format!("at least one web origin must be on rp_id {:?} or a subdomain of it", self.rp_id),
            ));
        }
        if !(10..=3600).contains(&self.ceremony_ttl_secs) {
            return Err(invalid("ceremony_ttl_secs", "must be between 10 and 3600"));
        }
        if !(1..=1000).contains(&self.max_passkeys_per_user) {
            return Err(invalid("max_passkeys_per_user", "must be between 1 and 1000"));
        }
        if self.max_pending_ceremonies == 0 {
            return Err(invalid("max_pending_ceremonies", "must be at least 1"));
        }
        if !(1..=self.max_pending_ceremonies).contains(&self.max_pending_ceremonies_per_client) {
            return Err(invalid("max_pending_ceremonies_per_client", "must be between 1 and max_pending_ceremonies"));
        }
        if !(1..=36_500).contains(&self.audit_retention_days) {
            return Err(invalid("audit_retention_days", "must be between 1 and 36500"));
        }
        if !(1..=86_400).contains(&self.sweep_interval_secs) {
            return Err(invalid("sweep_interval_secs", "must be between 1 and 86400"));
        }
        if !(1..=86_400).contains(&self.sqlite_checkpoint_interval_secs) {
            return Err(invalid("sqlite_checkpoint_interval_secs", "must be between 1 and 86400"));
        }
        if !(4 * 1024..=16 * 1024 * 1024).contains(&self.max_request_bytes) {
            return Err(invalid("max_request_bytes", "must be between 4096 and 16777216"));
        }
        self.trusted_proxy_networks()?;
        self.rate_limits.validate()?;
        if !(1..=100).contains(&self.failed_sign_in_limit) {
            return Err(invalid("failed_sign_in_limit", "must be between 1 and 100 (NIST SP 800-63B-4 §3.2.2)"));
        }
        if !(1..=self.failed_sign_in_limit).contains(&self.failed_sign_in_free_attempts) {
            return Err(invalid("failed_sign_in_free_attempts", "must be between 1 and failed_sign_in_limit"));
        }
        if !(1..=86_400).contains(&self.failed_sign_in_delay_secs) {
            return Err(invalid("failed_sign_in_delay_secs", "must be between 1 and 86400"));
        }
        if !(self.failed_sign_in_delay_secs..=7 * 86_400).contains(&self.failed_sign_in_max_delay_secs) {
            return Err(invalid(
                "failed_sign_in_max_delay_secs",
                "must be at least failed_sign_in_delay_secs and at most 604800 (7 days)",
            ));
        }
        if !(self.failed_sign_in_max_delay_secs..=MAX_SESSION_SECS).contains(&self.failed_sign_in_forget_secs) {
            return Err(invalid(
                "failed_sign_in_forget_secs",
                format!("must be at least failed_sign_in_max_delay_secs and at most {MAX_SESSION_SECS}"),
            ));
        }
        tracing_subscriber::EnvFilter::try_new(&self.log).map_err(|err| invalid("log", err.to_string()))?;
        self.oauth.validate()?;
        self.email.validate()?;
        if let Some(url) = &self.public_url {
            validate_origin(url).map_err(|why| invalid("public_url", why))?;
        }
        Ok(())
    }

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

    /// `trusted_proxies` parsed: a bare address is a /32 (or /128) network.
    pub fn trusted_proxy_networks(&self) -> Result<Vec<ipnet::IpNet>, ConfigError> {
        self.trusted_proxies
            .iter()
            .map(|entry| {
                entry
                    .parse::<ipnet::IpNet>()
                    .or_else(|_| entry.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| invalid("trusted_proxies", format!("{entry:?} is not an IP address or CIDR network")))
            })
            .collect()
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

/// An origin is `scheme://host[:port]` and nothing else; `*` cannot go with credentials.
fn validate_origin(origin: &str) -> Result<(), &'static str> {
    if origin == "*" {
        return Err("wildcard origins cannot be combined with credentials; list each origin");
    }
    let url = url::Url::parse(origin).map_err(|_| "not a URL")?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err("must be http(s)://host[:port]");
    }
    if url.origin().ascii_serialization() != origin {
        return Err("must be exactly scheme://host[:port], without path or trailing slash");
    }
    Ok(())
}

/// A relying-party id is a bare domain: no scheme, port, path or IP address (WebAuthn L3 §5.1.2
/// "RP ID" is a valid domain string).
fn validate_rp_id(rp_id: &str) -> Result<(), &'static str> {
    if rp_id.is_empty() {
        return Err("must not be empty");
    }
    if rp_id.contains([':', '/', '@', ' ']) || rp_id.parse::<std::net::IpAddr>().is_ok() {
        return Err("must be a domain such as example.com (no scheme, port, path or IP address)");
    }
    url::Host::parse(rp_id).map_err(|_| "is not a valid domain")?;
    Ok(())
}

/// A passkey origin is a web origin (https, or http on localhost) or a native-app origin.
fn validate_rp_origin(origin: &str) -> Result<(), &'static str> {
    if origin.starts_with("android:apk-key-hash:") || origin.starts_with("ios:bundle-id:") {
        return url::Url::parse(origin).map(|_| ()).map_err(|_| "not a valid app origin");
    }
    validate_origin(origin)?;
    let url = url::Url::parse(origin).map_err(|_| "not a URL")?;
    let local = matches!(url.host_str(), Some(host) if host == "localhost" || host.ends_with(".localhost"));
    if url.scheme() == "http" && !local {
        return Err("must be https (plain http is only a secure context on localhost)");
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_file_is_read_from_the_url() {
        let with =
            |url: Option<&str>| Config { database_url: url.map(str::to_owned), ..Config::default() }.sqlite_file();
        assert_eq!(with(None), Some(PathBuf::from("keyward-data/keyward.db")));
        assert_eq!(with(Some("sqlite:///var/lib/k.db?mode=rwc")), Some(PathBuf::from("/var/lib/k.db")));
        assert_eq!(with(Some("sqlite::memory:")), None);
        assert_eq!(with(Some("postgres://db/keyward")), None);
    }

    #[test]
    fn defaults_are_valid() {
        Config::default().validate().unwrap();
    }

    #[test]
    fn bad_values_name_their_setting() {
        let cases: Vec<(&str, Config)> = vec![
            (
                "cors_allowed_origins",
                Config { cors_allowed_origins: vec!["https://a.example/path".into()], ..Config::default() },
            ),
            ("cors_allowed_origins", Config { cors_allowed_origins: vec!["*".into()], ..Config::default() }),
            ("password_min_chars", Config { password_min_chars: 4, ..Config::default() }),
            ("access_token_ttl_secs", Config { access_token_ttl_secs: 5, ..Config::default() }),
            ("database_url", Config { database_url: Some("mysql://x".into()), ..Config::default() }),
            ("argon2_memory_kib", Config { argon2_memory_kib: 1, ..Config::default() }),
            ("log", Config { log: "[[[".into(), ..Config::default() }),
            ("rp_id", Config { rp_id: "https://example.com".into(), ..Config::default() }),
            ("rp_id", Config { rp_id: "127.0.0.1".into(), ..Config::default() }),
            ("rp_origins", Config { rp_origins: vec!["http://example.com".into()], ..Config::default() }),
            ("ceremony_ttl_secs", Config { ceremony_ttl_secs: 0, ..Config::default() }),
            ("ceremony_ttl_secs", Config { ceremony_ttl_secs: u64::MAX, ..Config::default() }),
            ("access_token_ttl_secs", Config { access_token_ttl_secs: u64::MAX, ..Config::default() }),
            ("signing_key_reload_secs", Config { signing_key_reload_secs: u64::MAX, ..Config::default() }),
            ("session_idle_timeout_secs", Config { session_idle_timeout_secs: u64::MAX, ..Config::default() }),
            ("session_max_age_secs", Config { session_max_age_secs: u64::MAX, ..Config::default() }),
            ("session_max_age_secs", Config { session_max_age_secs: MAX_SESSION_SECS + 1, ..Config::default() }),
            ("session_cache_ttl_ms", Config { session_cache_ttl_ms: u64::MAX, ..Config::default() }),
            ("reauthentication_window_secs", Config { reauthentication_window_secs: 0, ..Config::default() }),
            ("reauthentication_window_secs", Config { reauthentication_window_secs: u64::MAX, ..Config::default() }),
            ("audit_retention_days", Config { audit_retention_days: u64::MAX, ..Config::default() }),
            ("sweep_interval_secs", Config { sweep_interval_secs: u64::MAX, ..Config::default() }),
            (
                "sqlite_checkpoint_interval_secs",
                Config { sqlite_checkpoint_interval_secs: u64::MAX, ..Config::default() },
            ),
            ("failed_sign_in_delay_secs", Config { failed_sign_in_delay_secs: u64::MAX, ..Config::default() }),
            ("failed_sign_in_max_delay_secs", Config { failed_sign_in_max_delay_secs: u64::MAX, ..Config::default() }),
            ("failed_sign_in_forget_secs", Config { failed_sign_in_forget_secs: u64::MAX, ..Config::default() }),
            ("trusted_proxies", Config { trusted_proxies: vec!["10.0.0.0/33".into()], ..Config::default() }),
            ("failed_sign_in_limit", Config { failed_sign_in_limit: 101, ..Config::default() }),
        ];
        for (setting, config) in cases {
            assert_eq!(config.validate().unwrap_err().setting, setting);
        }
    }

    #[test]
    fn file_values_load_and_type_errors_name_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keyward.toml");
        std::fs::write(&path, "listen = \"127.0.0.1:6000\"\ncors_allowed_origins = [\"http://localhost:3000\"]\n")
            .unwrap();
        let config = Config::load(Some(&path), Overrides::default()).unwrap();
        assert_eq!(config.listen.port(), 6000);
        assert_eq!(config.cors_allowed_origins, vec!["http://localhost:3000".to_owned()]);

        std::fs::write(&path, "argon2_iterations = \"many\"\n").unwrap();
        let err = Config::load(Some(&path), Overrides::default()).unwrap_err();
        assert_eq!(err.setting, "argon2_iterations");

        std::fs::write(&path, "no_such_setting = 1\n").unwrap();
        assert!(Config::load(Some(&path), Overrides::default()).is_err());

        std::fs::write(
            &path,
            "[oauth]\nredirect_uris = [\"https://app.example.com/cb\"]\n[oauth.github]\nclient_id = \"x\"\n",
        )
        .unwrap();
        let err = Config::load(Some(&path), Overrides::default()).unwrap_err();
        assert_eq!(err.setting, "oauth.github.client_secret");

        std::fs::write(
            &path,
            concat!(
                "[oauth]\nredirect_uris = [\"https://app.example.com/cb\"]\n",
                "[[oauth.oidc]]\nid = \"corp\"\nissuer = \"https://idp.example.com\"\nclient_id = \"c\"\n",
            ),
        )
        .unwrap();
        let config = Config::load(Some(&path), Overrides::default()).unwrap();
        assert_eq!(config.oauth.oidc[0].display_name(), "corp");
        assert_eq!(config.oauth.oidc[0].scopes, ["email", "profile"]);
    }
}
