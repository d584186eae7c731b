//! `[[webhooks]]` endpoints and `[webhook_delivery]`: where events go, and how their outbox
//! retries them.
//!
//! ```toml
//! [[webhooks]]
//! url = "https://hooks.example.com/keyward"
//! events = ["user.created", "user.deleted", "session.revoked"]   # or ["*"]: all but signin.failed
//! secret_file = "/run/secrets/keyward-webhook"                  # whsec_… (Standard Webhooks)
//! ```
//!
//! Checked at start: the URL is `https` (or `http` to a loopback address, for development and
//! tests), has no credentials or fragment and is no address a webhook may never reach (cloud
//! metadata, link-local, unspecified — `domain::is_refused_webhook_address`); every event name is
//! known. The secret file is read, and its secret checked, where the server starts.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{ConfigError, validate::invalid};
use crate::domain::{WebhookEventType, is_refused_webhook_address};

/// Every event but the opt-in ones (`signin.failed` must be listed by name).
pub const ALL_EVENTS: &str = "*";

/// One endpoint (`[[webhooks]]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    pub url: String,
    /// Event names (`user.created`, …), or `"*"` for all but `signin.failed`.
    pub events: Vec<String>,
    /// A file holding the endpoint's signing secret, `whsec_` + base64 of 24–64 random bytes.
    pub secret_file: PathBuf,
}

impl WebhookConfig {
    /// The events the endpoint takes.
    pub fn event_types(&self) -> Vec<WebhookEventType> {
        let mut events: Vec<WebhookEventType> = if self.events.iter().any(|name| name == ALL_EVENTS) {
            WebhookEventType::ALL.into_iter().filter(|event| *event != WebhookEventType::SignInFailed).collect()
        } else {
            Vec::new()
        };
        events.extend(self.events.iter().filter_map(|name| WebhookEventType::parse(name)));
        events.sort();
        events.dedup();
        events
    }

    fn validate(&self, index: usize) -> Result<(), ConfigError> {
        let setting = |field: &str| format!("webhooks[{index}].{field}");
        check_url(&self.url).map_err(|why| invalid(&setting("url"), why))?;
        if self.events.is_empty() {
            return Err(invalid(&setting("events"), "must name at least one event (or \"*\")"));
        }
        if let Some(unknown) =
            self.events.iter().find(|name| *name != ALL_EVENTS && WebhookEventType::parse(name).is_none())
        {
            let known: Vec<&str> = WebhookEventType::ALL.iter().map(|event| event.as_str()).collect();
            return Err(invalid(
                &setting("events"),
                format!("unknown event {unknown:?}; known: \"*\", {}", known.join(", ")),
            ));
        }
        if self.secret_file.as_os_str().is_empty() {
            return Err(invalid(&setting("secret_file"), "must name a file"));
        }
        Ok(())
    }
}

/// https anywhere; http only to a loopback address; never credentials, a fragment or a
/// metadata, link-local or unspecified address, however spelled (OWASP ASVS 5 V1.3.6: the
/// operator's URL is still input). A host name is checked again on every resolution.
fn check_url(raw: &str) -> Result<(), String> {
    let url = url::Url::parse(raw).map_err(|err| format!("is not a URL ({err})"))?;
    let host = url.host().ok_or("has no host")?;
    let ip = match host {
        url::Host::Ipv4(v4) => Some(std::net::IpAddr::V4(v4)),
        url::Host::Ipv6(v6) => Some(std::net::IpAddr::V6(v6)),
        url::Host::Domain(_) => None,
    };
    if ip.is_some_and(is_refused_webhook_address) {
        return Err(
            "points at a cloud metadata, link-local or unspecified address (IPv6 spellings of IPv4 included)".into()
        );
    }
    let loopback = ip.is_some_and(|ip| ip.is_loopback()) || matches!(host, url::Host::Domain("localhost"));
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => return Err("must be https (http only to a loopback address)".into()),
        other => return Err(format!("must be https, not {other}")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry credentials (the endpoint URL is listed and logged)".into());
    }
    if url.fragment().is_some() {
        return Err("must not have a fragment".into());
    }
    Ok(())
}

/// Checks every endpoint, and that no URL is configured twice (the URL names the endpoint).
pub(super) fn validate(webhooks: &[WebhookConfig], delivery: &WebhookDeliveryConfig) -> Result<(), ConfigError> {
    for (index, webhook) in webhooks.iter().enumerate() {
        webhook.validate(index)?;
        if webhooks[..index].iter().any(|earlier| earlier.url == webhook.url) {
            return Err(invalid(&format!("webhooks[{index}].url"), "is configured twice"));
        }
    }
    delivery.validate()
}

/// How webhook deliveries are tried (`[webhook_delivery]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookDeliveryConfig {
    /// Bound on one delivery (connect, TLS, request, response).
    pub timeout_ms: u64,
    /// Attempts before an event is given up (dead-lettered), whichever of this and
    /// `give_up_after_secs` comes first.
    pub max_attempts: u32,
    /// Wait before the first retry; doubled after every failure (with jitter) up to
    /// `retry_max_secs`.
    pub retry_initial_secs: u64,
    pub retry_max_secs: u64,
    /// An event still undelivered this long after it happened is given up (a day).
    pub give_up_after_secs: u64,
    /// How often a replica looks for due events besides being woken by its own writes.
    pub poll_interval_ms: u64,
    /// Deliveries in flight to one endpoint at once (each endpoint has its own; one user's
    /// events still go one at a time, in order).
    pub concurrency_per_endpoint: u32,
    /// Failed deliveries in a row after which an endpoint's circuit breaker opens: its events
    /// wait, untried, for `breaker_open_secs`, then one is tried as a probe.
    pub breaker_failures: u32,
    /// The first cool-down of an open breaker; doubled after each failed probe, up to
    /// `retry_max_secs`.
    pub breaker_open_secs: u64,
    /// How long an event that was given up (dead) is kept for the operator (to list and
    /// retry) before it is deleted.
    pub dead_retention_days: u64,
}

impl Default for WebhookDeliveryConfig {
    fn default() -> Self {
        Self {
            timeout_ms: 10_000,
            max_attempts: 40,
            retry_initial_secs: 5,
            retry_max_secs: 3600,
            give_up_after_secs: 86_400,
            poll_interval_ms: 1_000,
            concurrency_per_endpoint: 8,
            breaker_failures: 5,
            breaker_open_secs: 30,
            dead_retention_days: 30,
        }
    }
}

impl WebhookDeliveryConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        if !(100..=120_000).contains(&self.timeout_ms) {
            return Err(invalid("webhook_delivery.timeout_ms", "must be between 100 and 120000"));
        }
        if !(1..=1000).contains(&self.max_attempts) {
            return Err(invalid("webhook_delivery.max_attempts", "must be between 1 and 1000"));
        }
        if !(1..=86_400).contains(&self.retry_initial_secs) {
            return Err(invalid("webhook_delivery.retry_initial_secs", "must be between 1 and 86400"));
        }
        if !(self.retry_initial_secs..=86_400).contains(&self.retry_max_secs) {
            return Err(invalid("webhook_delivery.retry_max_secs", "must be between retry_initial_secs and 86400"));
        }
        if !(1..=7 * 86_400).contains(&self.give_up_after_secs) {
            return Err(invalid("webhook_delivery.give_up_after_secs", "must be between 1 and 604800"));
        }
        if !(10..=3_600_000).contains(&self.poll_interval_ms) {
            return Err(invalid("webhook_delivery.poll_interval_ms", "must be between 10 and 3600000"));
        }
        if !(1..=64).contains(&self.concurrency_per_endpoint) {
            return Err(invalid("webhook_delivery.concurrency_per_endpoint", "must be between 1 and 64"));
        }
        if !(1..=1000).contains(&self.breaker_failures) {
            return Err(invalid("webhook_delivery.breaker_failures", "must be between 1 and 1000"));
        }
        if !(1..=86_400).contains(&self.breaker_open_secs) {
            return Err(invalid("webhook_delivery.breaker_open_secs", "must be between 1 and 86400"));
        }
        if !(1..=3650).contains(&self.dead_retention_days) {
            return Err(invalid("webhook_delivery.dead_retention_days", "must be between 1 and 3650"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(url: &str, events: &[&str]) -> WebhookConfig {
        WebhookConfig {
            url: url.into(),
            events: events.iter().map(|name| (*name).to_owned()).collect(),
            secret_file: "secret".into(),
        }
    }

    fn error_of(webhooks: &[WebhookConfig]) -> String {
        validate(webhooks, &WebhookDeliveryConfig::default()).unwrap_err().to_string()
    }

    #[test]
    fn urls_are_https_or_loopback_http_and_never_metadata() {
        for good in
            ["https://hooks.example.com/k", "http://127.0.0.1:9000/", "http://[::1]:80/x", "http://localhost:1/"]
        {
            validate(&[endpoint(good, &["*"])], &WebhookDeliveryConfig::default()).unwrap();
        }
        for (bad, why) in [
            ("http://hooks.example.com/", "must be https"),
            ("https://169.254.169.254/latest/meta-data", "metadata"),
            ("https://[fd00:ec2::254]/", "metadata"),
            ("https://100.100.100.200/", "metadata"),
            ("https://[64:ff9b::a9fe:a9fe]/", "metadata"),
            ("https://[::a9fe:a9fe]/", "metadata"),
            ("https://[2002:a9fe:a9fe::]/", "metadata"),
            ("https://[::ffff:169.254.169.254]/", "metadata"),
            ("https://0.0.0.0/", "unspecified"),
            ("http://0.0.0.0:8080/", "unspecified"),
            ("https://[::]/", "unspecified"),
            ("https://192.0.0.192/", "metadata"),
            ("https://168.63.129.16/", "metadata"),
            ("ftp://hooks.example.com/", "must be https"),
            ("https://user:pw@hooks.example.com/", "credentials"),
            ("not a url", "is not a URL"),
        ] {
            let error = error_of(&[endpoint(bad, &["*"])]);
            assert!(error.contains("webhooks[0].url") && error.contains(why), "{bad}: {error}");
        }
        let twice = error_of(&[endpoint("https://a.example/", &["*"]), endpoint("https://a.example/", &["*"])]);
        assert!(twice.contains("webhooks[1].url") && twice.contains("twice"), "{twice}");
    }

    #[test]
    fn unknown_event_names_are_refused_by_name() {
        let error = error_of(&[endpoint("https://a.example/", &["user.created", "user.exploded"])]);
        assert!(error.contains("webhooks[0].events") && error.contains("\"user.exploded\""), "{error}");
        assert!(error_of(&[endpoint("https://a.example/", &[])]).contains("at least one"));
    }

    #[test]
    fn star_is_everything_but_the_opt_in_events() {
        let star = endpoint("https://a.example/", &["*"]).event_types();
        assert_eq!(star.len(), WebhookEventType::ALL.len() - 1);
        assert!(!star.contains(&WebhookEventType::SignInFailed));
        let opted_in = endpoint("https://a.example/", &["*", "signin.failed"]).event_types();
        assert_eq!(opted_in.len(), WebhookEventType::ALL.len());
        assert_eq!(endpoint("https://a.example/", &["user.created"]).event_types(), [WebhookEventType::UserCreated]);
    }
}
