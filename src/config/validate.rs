//! Validating the configuration: every setting has bounds checked at start, and the first bad
//! one is reported by name (`ConfigError`).

use std::fmt;

use super::{Config, MAX_SESSION_SECS, RateLimits};

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

pub(super) fn invalid(setting: &str, message: impl Into<String>) -> ConfigError {
    ConfigError { setting: setting.to_owned(), message: message.into() }
}

impl Config {
    /// Checks every setting; the first bad one is reported.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(url) = &self.database_url
            && !(url.starts_with("sqlite:") || url.starts_with("postgres://") || url.starts_with("postgresql://"))
        {
            return Err(invalid("database_url", "must start with postgres://, postgresql:// or sqlite:"));
        }
        if let Some(url) = &self.database_listen_url
            && !(url.starts_with("postgres://") || url.starts_with("postgresql://"))
        {
            return Err(invalid("database_listen_url", "must start with postgres:// or postgresql://"));
        }
        if self.database_transaction_pooling {
            if self.uses_sqlite() {
                return Err(invalid("database_transaction_pooling", "is for a PostgreSQL database_url"));
            }
            if self.database_listen_url.is_none() {
                return Err(invalid(
                    "database_listen_url",
                    "is required with database_transaction_pooling (LISTEN and migrations need a session)",
                ));
            }
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
        if !(1..=87_600).contains(&self.session_event_retention_hours) {
            return Err(invalid("session_event_retention_hours", "must be between 1 and 87600"));
        }
        if !(1..=1000).contains(&self.max_watch_streams_per_key) {
            return Err(invalid("max_watch_streams_per_key", "must be between 1 and 1000"));
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
        validate_rate_limits(&self.rate_limits)?;
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
        self.password.validate()?;
        self.signin.validate()?;
        super::webhooks::validate(&self.webhooks, &self.webhook_delivery)?;
        if let Some(url) = &self.public_url {
            validate_origin(url).map_err(|why| invalid("public_url", why))?;
        }
        Ok(())
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
}

/// Every `[rate_limits]` budget refills and holds at least one call.
fn validate_rate_limits(limits: &RateLimits) -> Result<(), ConfigError> {
    for (budget, limit) in limits.budgets() {
        let name = budget.name();
        if limit.per_minute == 0 {
            return Err(invalid(&format!("rate_limits.{name}.per_minute"), "must be at least 1"));
        }
        if limit.burst == 0 {
            return Err(invalid(&format!("rate_limits.{name}.burst"), "must be at least 1"));
        }
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::config::Overrides;

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
            ("database_listen_url", Config { database_listen_url: Some("sqlite:x".into()), ..Config::default() }),
            ("database_transaction_pooling", Config { database_transaction_pooling: true, ..Config::default() }),
            (
                "database_listen_url",
                Config {
                    database_url: Some("postgres://pooler/keyward".into()),
                    database_transaction_pooling: true,
                    ..Config::default()
                },
            ),
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
            ("session_event_retention_hours", Config { session_event_retention_hours: 0, ..Config::default() }),
            ("max_watch_streams_per_key", Config { max_watch_streams_per_key: 0, ..Config::default() }),
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
