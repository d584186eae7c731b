//! Webhook delivery, one lane per endpoint: each configured endpoint has a task of its own
//! that claims only that endpoint's rows and delivers up to `concurrency` of them at once
//! (never two of one user: the claim takes at most one row per endpoint and subject, and a row
//! in flight holds back that user's later ones), behind the endpoint's circuit breaker. So an
//! endpoint that hangs until the timeout, or is down, delays no other endpoint and no mail
//! (mail has its own sender), and costs one probe per cool-down once its breaker is open.
//!
//! The store's wake-up for webhook rows is fanned out to every lane; each also looks every
//! `poll_interval` (rows other replicas queued, retries that fell due, a cool-down that ended).

use std::sync::Arc;

use tokio::{sync::Notify, task::JoinSet};

use super::{
    breaker::{BreakerPolicy, CircuitBreaker, Transition},
    endpoint_label,
};
use crate::{
    error::Result,
    service::{
        Services,
        outbox::{Deliverer, OutboxEvent, RetryPolicy},
    },
};

/// How the lanes deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaneSettings {
    /// The configured endpoint URLs: one lane each.
    pub endpoints: Vec<String>,
    pub retry: RetryPolicy,
    /// Deliveries in flight per endpoint.
    pub concurrency: usize,
    pub breaker: BreakerPolicy,
}

/// One lane: its endpoint and its wake-up.
struct Lane<D> {
    services: Services,
    deliverer: Arc<D>,
    settings: Arc<LaneSettings>,
    endpoint: String,
    /// The endpoint as logs show it (no credentials or query).
    label: String,
    wake: Arc<Notify>,
}

impl Services {
    /// Delivers webhook rows, one lane per endpoint of `settings`, until dropped (which ends
    /// every lane and every delivery in flight: their rows come back after the lease).
    pub async fn run_webhook_lanes<D: Deliverer>(&self, deliverer: D, settings: LaneSettings) {
        let kind = deliverer.kind();
        let now = self.inner.clock.now();
        match self.inner.store.bury_outbox_of_other_endpoints(kind, &settings.endpoints, now, REMOVED).await {
            Ok(0) => {}
            Ok(buried) => tracing::warn!(buried, "webhook events to endpoints no longer configured: marked dead"),
            Err(err) => tracing::warn!(error = %err, "marking events to removed endpoints dead failed"),
        }
        let queued = self.inner.outbox.waker(kind);
        let deliverer = Arc::new(deliverer);
        let settings = Arc::new(settings);
        let mut lanes = JoinSet::new();
        let mut wakes = Vec::new();
        for endpoint in &settings.endpoints {
            let wake = Arc::new(Notify::new());
            wakes.push(Arc::clone(&wake));
            let lane = Lane {
                services: self.clone(),
                deliverer: Arc::clone(&deliverer),
                settings: Arc::clone(&settings),
                label: endpoint_label(endpoint).unwrap_or_else(|| "unknown".to_owned()),
                endpoint: endpoint.clone(),
                wake,
            };
            lanes.spawn(lane.run());
        }
        loop {
            queued.notified().await;
            for wake in &wakes {
                wake.notify_one();
            }
        }
    }
}

/// The error on rows whose endpoint was removed from the configuration.
const REMOVED: &str = "the endpoint is no longer configured";

impl<D: Deliverer> Lane<D> {
    async fn run(self) {
        let Self { services, deliverer, settings, .. } = &self;
        let mut breaker = CircuitBreaker::new(settings.breaker);
        let mut in_flight: JoinSet<Result<OutboxEvent>> = JoinSet::new();
        let lease = chrono::Duration::from_std(settings.retry.lease).unwrap_or(chrono::Duration::minutes(5));
        // Whether a claim may find something: after a wake-up, a poll, or a finished delivery
        // (which may have let the next event of its user through).
        let mut look = true;
        loop {
            let now = services.inner.clock.now();
            let room = breaker.room(now, in_flight.len(), settings.concurrency);
            if look && room > 0 {
                let limit = u64::try_from(room).unwrap_or(u64::MAX);
                let claimed =
                    services.inner.store.claim_outbox(deliverer.kind(), Some(&self.endpoint), now, lease, limit).await;
                // A full claim may have more behind it: look again once there is room.
                look = claimed.as_ref().is_ok_and(|claimed| claimed.len() == room);
                match claimed {
                    Ok(claimed) => {
                        breaker.started(claimed.len());
                        for message in claimed {
                            let (services, deliverer, settings) =
                                (services.clone(), Arc::clone(deliverer), Arc::clone(settings));
                            in_flight.spawn(async move {
                                services.deliver_claimed(&*deliverer, &settings.retry, message).await
                            });
                        }
                    }
                    Err(err) => tracing::warn!(error = %err, endpoint = %self.label, "claiming webhook events failed"),
                }
                continue;
            }
            tokio::select! {
                Some(done) = in_flight.join_next(), if !in_flight.is_empty() => {
                    look = true;
                    let transition = match done {
                        Ok(Ok(OutboxEvent::Delivered { .. })) => breaker.succeeded(),
                        Ok(Ok(_)) => breaker.failed(services.inner.clock.now()),
                        Ok(Err(err)) => {
                            tracing::warn!(error = %err, endpoint = %self.label, "recording a webhook delivery failed");
                            None
                        }
                        Err(err) => {
                            tracing::error!(error = %err, endpoint = %self.label, "a webhook delivery task failed");
                            None
                        }
                    };
                    if let Some(transition) = transition {
                        self.changed(transition).await;
                    }
                }
                () = self.wake.notified() => look = true,
                () = tokio::time::sleep(settings.retry.poll_interval) => look = true,
            }
        }
    }

    /// Tells the log and the event feed; an opened breaker also gives up the rows it parks
    /// that are past their age budget (they would not be tried before it).
    async fn changed(&self, transition: Transition) {
        let (services, endpoint) = (&self.services, self.label.clone());
        match transition {
            Transition::Opened { cool_down } => {
                tracing::warn!(
                    endpoint,
                    cool_down_secs = cool_down.as_secs(),
                    "webhook endpoint keeps failing: its circuit breaker is open, its events wait"
                );
                services.inner.outbox.requested(OutboxEvent::EndpointPaused { endpoint });
                self.bury_expired().await;
            }
            Transition::Closed => {
                tracing::info!(endpoint, "webhook endpoint answers again: its circuit breaker is closed");
                services.inner.outbox.requested(OutboxEvent::EndpointResumed { endpoint });
            }
        }
    }

    async fn bury_expired(&self) {
        let Some(budget) = self.settings.retry.give_up_after else { return };
        let now = self.services.inner.clock.now();
        let Ok(budget) = chrono::Duration::from_std(budget) else { return };
        let store = &self.services.inner.store;
        let why = "given up: older than give_up_after_secs while the endpoint's circuit breaker was open";
        match store.bury_outbox_older_than(self.deliverer.kind(), &self.endpoint, now - budget, now, why).await {
            Ok(0) => {}
            Ok(buried) => tracing::error!(endpoint = %self.label, buried, "webhook events given up: kept marked dead"),
            Err(err) => tracing::warn!(error = %err, endpoint = %self.label, "giving up expired webhook events failed"),
        }
    }
}
