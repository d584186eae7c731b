//! `[[webhooks]]` and `[webhook_delivery]` → the service's `WebhookSettings`: each endpoint's
//! secret read from its `secret_file` and checked (a missing or malformed one stops the start,
//! naming the file, never printing the secret), the timeout and the retry policy (a day by
//! default; tests set a short budget), the per-endpoint concurrency and circuit breaker.

use std::time::Duration;

use crate::{
    config::Config,
    error::{Error, Result},
    service::{
        Services,
        outbox::RetryPolicy,
        webhooks::{BreakerPolicy, LaneSettings, WebhookEndpoint, WebhookSecret, WebhookSender, WebhookSettings},
    },
};

/// The webhook settings `config` asks for.
pub(super) fn settings(config: &Config) -> Result<WebhookSettings> {
    let endpoints = config
        .webhooks
        .iter()
        .enumerate()
        .map(|(index, webhook)| {
            let path = &webhook.secret_file;
            let raw = std::fs::read_to_string(path).map_err(|err| {
                Error::Startup(format!("webhooks[{index}].secret_file: cannot read {}: {err}", path.display()))
            })?;
            let secret = WebhookSecret::parse(&raw).map_err(|why| {
                Error::Startup(format!("webhooks[{index}].secret_file: the secret in {} {why}", path.display()))
            })?;
            Ok(WebhookEndpoint { url: webhook.url.clone(), events: webhook.event_types(), secret })
        })
        .collect::<Result<Vec<_>>>()?;
    let delivery = &config.webhook_delivery;
    let timeout = Duration::from_millis(delivery.timeout_ms);
    Ok(WebhookSettings {
        endpoints,
        timeout,
        retry: RetryPolicy {
            max_attempts: delivery.max_attempts,
            give_up_after: Some(Duration::from_secs(delivery.give_up_after_secs)),
            initial: Duration::from_secs(delivery.retry_initial_secs),
            max: Duration::from_secs(delivery.retry_max_secs),
            // A delivery not finished by then is presumed dead and may be claimed again.
            lease: (timeout * 3).max(Duration::from_secs(60)),
            poll_interval: Duration::from_millis(delivery.poll_interval_ms),
        },
        concurrency_per_endpoint: usize::try_from(delivery.concurrency_per_endpoint).unwrap_or(1),
        breaker: BreakerPolicy {
            failures: delivery.breaker_failures,
            open: Duration::from_secs(delivery.breaker_open_secs),
            max_open: Duration::from_secs(delivery.retry_max_secs.max(delivery.breaker_open_secs)),
        },
    })
}

/// The sender and its lanes, when any endpoint is configured.
pub(super) fn sender(settings: &WebhookSettings, services: &Services) -> Result<Option<(WebhookSender, LaneSettings)>> {
    if settings.endpoints.is_empty() {
        return Ok(None);
    }
    Ok(Some((WebhookSender::new(settings, services.clock().clone())?, settings.lanes())))
}
