//! The edge between the configuration and the layers: each layer's own settings type, built
//! from `Config`. The only place that knows which setting feeds which layer; nothing below
//! `app` reads `Config` (tests/it/tidy.rs).

use std::time::Duration;

use oauth2::ClientSecret;

use crate::{
    config::{Config, OAuthConfig},
    crypto::RelyingPartySettings,
    grpc::CookieSettings,
    service::{
        BreachCheckSettings, GITHUB_PROVIDER_ID, GitHubSettings, OAuthSettings, OidcSettings, PasskeySettings,
        ServiceSettings, SessionPolicy, import::ImportPolicy,
    },
    store::{DatabaseSettings, FailurePolicy, WebhookRoute},
};

/// How the store reaches the database.
pub fn database(config: &Config) -> DatabaseSettings {
    DatabaseSettings {
        url: config.database_url(),
        max_connections: config.database_max_connections,
        timeout: config.database_timeout(),
        transaction_pooling: config.database_transaction_pooling,
        listen_url: config.database_listen_url.clone(),
    }
}

/// Everything the service layer is configured with.
pub fn services(config: &Config) -> ServiceSettings {
    ServiceSettings {
        hash_workers: config.hash_workers(),
        hash_queue_depth: config.hash_queue_depth,
        hash_low_priority: config.hash_low_priority,
        argon2: config.argon2(),
        jwt: config.jwt(),
        sessions: session_policy(config),
        session_cache_ttl: Duration::from_millis(config.session_cache_ttl_ms),
        session_cache_max_entries: config.session_cache_max_entries,
        password_policy: config.password_policy(),
        relying_party: RelyingPartySettings {
            rp_id: config.rp_id.clone(),
            rp_name: config.rp_name.clone(),
            origins: config.passkey_origins(),
            ceremony_timeout: config.ceremony_ttl(),
        },
        passkeys: PasskeySettings {
            user_verification: config.passkey_user_verification,
            counter_policy: config.passkey_counter_policy,
            ceremony_ttl: config.ceremony_ttl(),
            allowed_origins: config.passkey_origins(),
            max_per_user: config.max_passkeys_per_user,
        },
        oauth: oauth(&config.oauth),
        rate_limits: config.rate_limits.clone(),
        failure_policy: FailurePolicy {
            free_attempts: config.failed_sign_in_free_attempts,
            delay: Duration::from_secs(config.failed_sign_in_delay_secs),
            max_delay: Duration::from_secs(config.failed_sign_in_max_delay_secs),
            limit: config.failed_sign_in_limit,
        },
        failure_memory: Duration::from_secs(config.failed_sign_in_forget_secs),
        max_pending_ceremonies: config.max_pending_ceremonies,
        max_pending_ceremonies_per_client: config.max_pending_ceremonies_per_client,
        audit_retention_days: config.audit_retention_days,
        webhook_routes: config
            .webhooks
            .iter()
            .map(|webhook| WebhookRoute { url: webhook.url.clone(), events: webhook.event_types() })
            .collect(),
        session_event_retention: Duration::from_secs(config.session_event_retention_hours.saturating_mul(3600)),
        max_watch_streams_per_key: config.max_watch_streams_per_key,
        // Not a setting: the composition root hands in the server's recorder (`app::observe`).
        metrics: crate::metrics::Metrics::off(),
        breach_check: config.password.breach_check_url.as_ref().map(|url| BreachCheckSettings {
            range_url: url.clone(),
            timeout: Duration::from_millis(config.password.breach_check_timeout_ms),
        }),
    }
}

fn session_policy(config: &Config) -> SessionPolicy {
    SessionPolicy {
        idle_timeout: config.session_idle_timeout(),
        max_age: config.session_max_age(),
        touch_interval: config.session_touch_interval(),
        reauthentication_window: config.reauthentication_window(),
    }
}

/// The `[oauth]` providers as the service layer takes them.
fn oauth(config: &OAuthConfig) -> OAuthSettings {
    OAuthSettings {
        redirect_uris: config.redirect_uris.clone(),
        http_timeout: Duration::from_millis(config.http_timeout_ms),
        github: config.github.as_ref().map(|github| GitHubSettings {
            display_name: github.name.clone(),
            client_id: github.client_id.clone(),
            client_secret: ClientSecret::new(github.client_secret.clone()),
            scopes: github.scopes.clone(),
            allow_email_account_linking: github.allow_email_account_linking,
            authorization_url: github.authorization_url.clone(),
            token_url: github.token_url.clone(),
            api_url: github.api_url.clone(),
            redirect_uris: github.redirect_uris.clone(),
            issuer: github.issuer.clone(),
        }),
        oidc: config
            .oidc
            .iter()
            .map(|oidc| OidcSettings {
                id: oidc.id.clone(),
                display_name: oidc.display_name().to_owned(),
                issuer: oidc.issuer.clone(),
                client_id: oidc.client_id.clone(),
                client_secret: Some(oidc.client_secret.clone()).filter(|s| !s.is_empty()).map(ClientSecret::new),
                scopes: oidc.scopes.clone(),
                allow_email_account_linking: oidc.allow_email_account_linking,
                redirect_uris: oidc.redirect_uris.clone(),
            })
            .collect(),
    }
}

/// How the session cookie is written (the grpc layer's settings).
pub fn cookies(config: &Config) -> CookieSettings {
    CookieSettings {
        secure: config.cookie_secure,
        domain: config.cookie_domain.clone(),
        token_in_browser_responses: config.session_token_in_browser_responses,
    }
}

/// What `keyward import authjs` takes from the configuration.
pub fn import_policy(config: &Config) -> ImportPolicy {
    let mut configured_providers: Vec<String> = config.oauth.oidc.iter().map(|oidc| oidc.id.clone()).collect();
    if config.oauth.github.is_some() {
        configured_providers.push(GITHUB_PROVIDER_ID.to_owned());
    }
    ImportPolicy {
        session_idle_timeout: config.session_idle_timeout(),
        session_max_age: config.session_max_age(),
        configured_providers,
    }
}
