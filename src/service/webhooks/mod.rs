//! Webhooks: the `WebhookSender`, the outbox `Deliverer` of `webhook` rows. Each row's payload
//! is the endpoint URL and the JSON body the store wrote with the change; the sender signs it
//! per the Standard Webhooks specification (`webhook-id`: `msg_<row id>`, the same on every
//! retry so receivers deduplicate; `webhook-timestamp`; `webhook-signature: v1,<base64
//! HMAC-SHA256 of "id.timestamp.body">` — the `standardwebhooks` crate) and POSTs it with a
//! bounded timeout, no redirects followed, no proxy, and a resolver that refuses metadata
//! addresses (`guard.rs`). A 2xx answer is delivered; anything else is retried by the outbox
//! with backoff and jitter, and given up after the retry budget (dead, for AdminService).
//! Each endpoint has a lane of its own with a circuit breaker (`lanes.rs`, `breaker.rs`), so a
//! hanging endpoint delays nobody else.

mod breaker;
mod guard;
mod lanes;

use std::{collections::HashMap, fmt, sync::Arc, time::Duration};

pub use breaker::BreakerPolicy;
pub use lanes::LaneSettings;

use base64::Engine;
use serde::Deserialize;

use super::{
    Clock,
    outbox::{Deliverer, DeliveryFailure, RetryPolicy},
};
use crate::{domain::WebhookEventType, error::Result, store::WEBHOOK_KIND};

/// A signing secret, `whsec_` + base64 (Standard Webhooks). Debug output is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(Vec<u8>);

impl WebhookSecret {
    /// Standard Webhooks secrets are 24–64 random bytes; shorter is refused (a guessable key).
    pub fn parse(raw: &str) -> std::result::Result<Self, &'static str> {
        let encoded = raw.trim().strip_prefix("whsec_").ok_or("must start with whsec_")?;
        let bytes = base64::engine::general_purpose::STANDARD.decode(encoded).map_err(|_| "must be whsec_ + base64")?;
        if !(24..=64).contains(&bytes.len()) {
            return Err("must hold 24 to 64 bytes (base64 of 32 random bytes is usual)");
        }
        Ok(Self(bytes))
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

/// One endpoint: where, what, and the key it is signed with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEndpoint {
    pub url: String,
    pub events: Vec<WebhookEventType>,
    pub secret: WebhookSecret,
}

/// The webhook settings, as the composition root builds them from the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSettings {
    pub endpoints: Vec<WebhookEndpoint>,
    pub timeout: Duration,
    pub retry: RetryPolicy,
    /// Deliveries to one endpoint at once (one per user at most: per-user order holds).
    pub concurrency_per_endpoint: usize,
    pub breaker: BreakerPolicy,
}

impl WebhookSettings {
    /// The routes the store fans events out to (no secrets there).
    pub fn routes(&self) -> Vec<crate::store::WebhookRoute> {
        self.endpoints
            .iter()
            .map(|endpoint| crate::store::WebhookRoute { url: endpoint.url.clone(), events: endpoint.events.clone() })
            .collect()
    }

    /// What the per-endpoint lanes need (no secrets there).
    pub fn lanes(&self) -> LaneSettings {
        LaneSettings {
            endpoints: self.endpoints.iter().map(|endpoint| endpoint.url.clone()).collect(),
            retry: self.retry,
            concurrency: self.concurrency_per_endpoint,
            breaker: self.breaker,
        }
    }
}

/// What a `webhook` outbox row holds (written by `store::webhooks`).
#[derive(Deserialize)]
struct Payload {
    url: String,
    body: String,
}

/// The endpoint a `webhook` row goes to, as the metrics label it: its URL without credentials,
/// query or fragment (a query may carry a token). Bounded by the configured endpoints.
pub fn webhook_endpoint(payload: &str) -> Option<String> {
    let Payload { url, .. } = serde_json::from_str(payload).ok()?;
    endpoint_label(&url)
}

/// An endpoint URL as logs and metrics show it: without credentials, query or fragment.
fn endpoint_label(url: &str) -> Option<String> {
    let mut url = reqwest::Url::parse(url).ok()?;
    url.set_query(None);
    url.set_fragment(None);
    let _ = (url.set_username(""), url.set_password(None));
    Some(url.into())
}

/// Delivers `webhook` rows. Cheap to clone.
#[derive(Clone)]
pub struct WebhookSender {
    http: reqwest::Client,
    signers: Arc<HashMap<String, standardwebhooks::Webhook>>,
    clock: Clock,
}

impl WebhookSender {
    pub fn new(settings: &WebhookSettings, clock: Clock) -> Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            // A redirect would take the signed event somewhere the operator did not configure
            // (and could aim it at an internal address): never followed, it is a failure.
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(guard::GuardedResolver))
            .user_agent(concat!("Keyward-Webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(crate::error::Error::internal)?;
        let signers = settings
            .endpoints
            .iter()
            .map(|endpoint| (endpoint.url.clone(), standardwebhooks::Webhook::from_bytes(endpoint.secret.0.clone())))
            .map(|(url, signer)| signer.map(|signer| (url, signer)).map_err(crate::error::Error::internal))
            .collect::<Result<HashMap<_, _>>>()?;
        Ok(Self { http, signers: Arc::new(signers), clock })
    }
}

impl fmt::Debug for WebhookSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookSender").field("endpoints", &self.signers.keys().collect::<Vec<_>>()).finish()
    }
}

impl Deliverer for WebhookSender {
    fn kind(&self) -> &'static str {
        WEBHOOK_KIND
    }

    #[tracing::instrument(name = "webhook.post", skip_all, fields(otel.kind = "client"))]
    async fn deliver(&self, id: &str, payload: &str) -> std::result::Result<(), DeliveryFailure> {
        let Payload { url, body } = serde_json::from_str(payload)
            .map_err(|err| DeliveryFailure::permanent(format!("unreadable webhook payload: {err}")))?;
        let signer =
            self.signers.get(&url).ok_or_else(|| DeliveryFailure::permanent("the endpoint is no longer configured"))?;
        let parsed: reqwest::Url =
            url.parse().map_err(|err| DeliveryFailure::permanent(format!("unusable endpoint URL: {err}")))?;
        guard::check_literal(&parsed).map_err(|refused| DeliveryFailure::permanent(refused.to_string()))?;
        let message_id = format!("msg_{id}");
        let timestamp = self.clock.now().timestamp();
        let signature = signer
            .sign(&message_id, timestamp, body.as_bytes())
            .map_err(|err| DeliveryFailure::permanent(format!("signing failed: {err}")))?;
        let sent = self
            .http
            .post(parsed)
            .header("content-type", "application/json")
            .header(standardwebhooks::HEADER_WEBHOOK_ID, &message_id)
            .header(standardwebhooks::HEADER_WEBHOOK_TIMESTAMP, timestamp.to_string())
            .header(standardwebhooks::HEADER_WEBHOOK_SIGNATURE, signature)
            .body(body)
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(err) if guard::is_refusal(&err) => {
                return Err(DeliveryFailure::permanent(error_chain(&err)));
            }
            Err(err) => return Err(DeliveryFailure::transient(error_chain(&err))),
        };
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        // The receiver's body is not kept: it is theirs, and may echo what it was sent.
        if status.is_redirection() {
            return Err(DeliveryFailure::transient(format!("HTTP {status}: redirects are not followed")));
        }
        Err(DeliveryFailure::transient(format!("HTTP {status}")))
    }
}

/// `error` and its sources, for the row and the log (reqwest's own text is terse).
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_whsec_base64_of_24_to_64_bytes() {
        let good = format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode([7u8; 32]));
        assert!(WebhookSecret::parse(&good).is_ok());
        assert!(WebhookSecret::parse(&format!("{good}\n")).is_ok(), "a trailing newline of the file is fine");
        assert_eq!(format!("{:?}", WebhookSecret::parse(&good).unwrap()), "WebhookSecret(<redacted>)");
        let short = format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode([7u8; 16]));
        for bad in [good.trim_start_matches("whsec_"), "whsec_!!!", short.as_str()] {
            assert!(WebhookSecret::parse(bad).is_err(), "{bad}");
        }
    }
}
