//! The sender side of the outbox: a loop on every replica that claims due messages of one kind,
//! hands each to a `Deliverer` (mail; webhooks run one such lane per endpoint, in
//! `webhooks/lanes.rs`, over the same `deliver_claimed`), and records the outcome —
//! delivered rows go, failed ones come back after an exponential backoff with jitter, and a
//! message that failed `max_attempts` times (or was refused for good) is kept marked dead and
//! logged. It wakes when this replica queued something (`Outbox::wake`) and otherwise every
//! `poll_interval`, which is how it picks up what other replicas queued and retries that fell
//! due. Time is the service `Clock`, so tests move it instead of waiting.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::sync::{Notify, broadcast};

use super::Services;
use crate::{error::Result, store::ClaimedMessage};

/// Messages claimed per round.
const CLAIM_BATCH: u64 = 16;

/// How a delivery failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryFailure {
    /// The other side refused for good (an SMTP 5xx, an unparsable message): retrying cannot help.
    pub permanent: bool,
    /// For the log and the row; never sent to a client. Must not contain the payload.
    pub detail: String,
}

impl DeliveryFailure {
    pub fn transient(detail: impl Into<String>) -> Self {
        Self { permanent: false, detail: detail.into() }
    }

    pub fn permanent(detail: impl Into<String>) -> Self {
        Self { permanent: true, detail: detail.into() }
    }
}

/// Something that delivers the outbox messages of one kind.
pub trait Deliverer: Send + Sync + 'static {
    /// The outbox kind it takes ("email").
    fn kind(&self) -> &'static str;
    /// Delivers one message (`id` is stable across retries: a receiver can deduplicate on it).
    fn deliver(&self, id: &str, payload: &str)
    -> impl Future<Output = std::result::Result<(), DeliveryFailure>> + Send;
}

/// When to retry and when to give up (each kind has its own: mail, webhooks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    /// A message older than this is given up at its next failure (webhooks: a day), however
    /// many attempts are left. None: only `max_attempts` counts.
    pub give_up_after: Option<Duration>,
    pub initial: Duration,
    pub max: Duration,
    /// Longest one delivery may take before another sender may claim the message again.
    pub lease: Duration,
    pub poll_interval: Duration,
}

impl RetryPolicy {
    /// The wait after failed attempt `attempt` (1-based): `initial · 2^(attempt-1)`, capped at
    /// `max`, then a random point in its upper half, so senders that failed together do not
    /// retry together.
    pub fn backoff(&self, attempt: i32, random: u32) -> Duration {
        let doublings = u32::try_from(attempt.saturating_sub(1)).unwrap_or(0).min(30);
        let full = self.initial.saturating_mul(1 << doublings).min(self.max);
        let fraction = f64::from(random) / f64::from(u32::MAX);
        full.div_f64(2.0).saturating_add(full.div_f64(2.0).mul_f64(fraction))
    }
}

impl RetryPolicy {
    /// Whether a message of `age` whose attempt `attempt` failed is given up rather than
    /// retried after `wait`: its attempts are used up, or the retry would come after its age
    /// budget (give up now rather than then).
    pub fn exhausted(&self, attempt: i32, age: Duration, wait: Duration) -> bool {
        u32::try_from(attempt).unwrap_or(u32::MAX) >= self.max_attempts
            || self.give_up_after.is_some_and(|budget| age.saturating_add(wait) > budget)
    }
}

/// What happened to a message, for whoever watches (tests, and later metrics).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboxEvent {
    Delivered {
        id: String,
        attempt: i32,
    },
    WillRetry {
        id: String,
        attempt: i32,
    },
    Dead {
        id: String,
        attempt: i32,
    },
    /// A request that mails a link to an address was handled in the background; `queued` says
    /// whether a mail was queued (false for an address without an account, unless
    /// `notify_unknown_addresses` sent it a note). In process only.
    LinkRequestHandled {
        queued: bool,
    },
    /// A webhook endpoint's circuit breaker opened on this replica: its rows wait, untried, for
    /// the cool-down, then one is tried as a probe. `endpoint` as the metrics label it.
    EndpointPaused {
        endpoint: String,
    },
    /// The breaker closed again: a delivery to the endpoint succeeded.
    EndpointResumed {
        endpoint: String,
    },
}

/// The replica's outbox handle: one wake-up per kind's sender, and the event feed. Cheap to
/// clone.
#[derive(Debug, Clone)]
pub struct Outbox {
    wakers: Arc<Mutex<HashMap<&'static str, Arc<Notify>>>>,
    events: broadcast::Sender<OutboxEvent>,
    /// How long each kind's dead messages are kept (`keep_dead_for`); a kind not listed keeps
    /// them.
    dead_retention: Arc<Mutex<HashMap<&'static str, Duration>>>,
}

impl Default for Outbox {
    fn default() -> Self {
        Self { wakers: Arc::default(), events: broadcast::channel(1024).0, dead_retention: Arc::default() }
    }
}

impl Outbox {
    /// The wake-up of `kind`'s sender (the same one on every call).
    pub(super) fn waker(&self, kind: &'static str) -> Arc<Notify> {
        let mut wakers = self.wakers.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(wakers.entry(kind).or_default())
    }

    /// Tells this replica's senders to look now (after a commit that queued something, or a
    /// test's move of the clock).
    pub fn wake(&self) {
        let wakers = self.wakers.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for waker in wakers.values() {
            waker.notify_one();
        }
    }

    /// Publishes `event` to this replica's watchers.
    pub(super) fn requested(&self, event: OutboxEvent) {
        let _ = self.events.send(event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<OutboxEvent> {
        self.events.subscribe()
    }

    /// Keeps `kind`'s dead messages for `retention` after they were given up; the sweep
    /// (`Services::sweep_expired`) deletes older ones.
    pub fn keep_dead_for(&self, kind: &'static str, retention: Duration) {
        let mut kept = self.dead_retention.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        kept.insert(kind, retention);
    }

    fn dead_retention(&self) -> Vec<(&'static str, Duration)> {
        let kept = self.dead_retention.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        kept.iter().map(|(kind, retention)| (*kind, *retention)).collect()
    }
}

impl Services {
    /// This replica's outbox (wake it, watch what it delivers).
    pub fn outbox(&self) -> &Outbox {
        &self.inner.outbox
    }

    /// Delivers `deliverer`'s kind of messages under `policy` until dropped. Each round claims
    /// what is due and delivers it; a round that claimed anything goes again at once (the next
    /// round finds nothing due when every claimed message failed into a backoff).
    pub async fn run_outbox(&self, deliverer: impl Deliverer, policy: RetryPolicy) {
        let wake = self.inner.outbox.waker(deliverer.kind());
        loop {
            match self.outbox_round(&deliverer, &policy).await {
                // Something was claimed: go again at once — a full batch may have more behind
                // it, and a delivered webhook may have let the next event of its user through.
                Ok(n) if n > 0 => continue,
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err, kind = deliverer.kind(), "outbox round failed"),
            }
            let _ = tokio::time::timeout(policy.poll_interval, wake.notified()).await;
        }
    }

    /// Deletes the dead messages of every kind past its retention (`Outbox::keep_dead_for`), a
    /// bounded batch per statement; returns how many went. Waiting messages are never touched.
    pub(super) async fn sweep_dead_outbox(&self) -> Result<u64> {
        let now = self.inner.clock.now();
        let mut deleted = 0;
        for (kind, retention) in self.inner.outbox.dead_retention() {
            let retention = chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX);
            let Some(before) = now.checked_sub_signed(retention) else { continue };
            deleted += self.inner.store.delete_dead_outbox_before(kind, before).await?;
        }
        Ok(deleted)
    }

    /// Claims and delivers one batch; returns how many were claimed.
    async fn outbox_round(&self, deliverer: &impl Deliverer, policy: &RetryPolicy) -> Result<usize> {
        let lease = chrono::Duration::from_std(policy.lease).unwrap_or(chrono::Duration::minutes(5));
        let claimed =
            self.inner.store.claim_outbox(deliverer.kind(), None, self.inner.clock.now(), lease, CLAIM_BATCH).await?;
        let count = claimed.len();
        for message in claimed {
            self.deliver_claimed(deliverer, policy, message).await?;
        }
        Ok(count)
    }

    /// Delivers one claimed message and records the outcome (gone, retried later or dead);
    /// publishes it to the event feed and returns it.
    pub(super) async fn deliver_claimed(
        &self,
        deliverer: &impl Deliverer,
        policy: &RetryPolicy,
        message: ClaimedMessage,
    ) -> Result<OutboxEvent> {
        let (id, attempt) = (message.id.clone(), message.attempt);
        let event = match deliverer.deliver(&message.id, &message.payload).await {
            Ok(()) => {
                self.inner.store.complete_outbox(&id).await?;
                tracing::info!(kind = deliverer.kind(), %id, attempt, "outbox message delivered");
                OutboxEvent::Delivered { id, attempt }
            }
            Err(failure) => {
                self.delivery_failed(deliverer.kind(), policy, (id, attempt, message.created_at), failure).await?
            }
        };
        let _ = self.inner.outbox.events.send(event.clone());
        Ok(event)
    }

    async fn delivery_failed(
        &self,
        kind: &'static str,
        policy: &RetryPolicy,
        (id, attempt, created_at): (String, i32, chrono::DateTime<chrono::Utc>),
        failure: DeliveryFailure,
    ) -> Result<OutboxEvent> {
        let now = self.inner.clock.now();
        let wait = policy.backoff(attempt, random_u32());
        let last = u32::try_from(attempt).unwrap_or(u32::MAX) >= policy.max_attempts;
        // Past its age budget once the next wait is over: give up now rather than then.
        let too_old = policy
            .give_up_after
            .is_some_and(|budget| (now - created_at).to_std().unwrap_or_default().saturating_add(wait) > budget);
        if failure.permanent || last || too_old {
            self.inner.store.bury_outbox(&id, attempt, now, &failure.detail).await?;
            tracing::error!(
                kind, %id, attempt, permanent = failure.permanent, error = %failure.detail,
                "outbox message given up: kept in the outbox marked dead"
            );
            return Ok(OutboxEvent::Dead { id, attempt });
        }
        let next = now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::hours(1));
        self.inner.store.retry_outbox(&id, attempt, next, &failure.detail).await?;
        tracing::warn!(kind, %id, attempt, retry_in_secs = wait.as_secs(), error = %failure.detail, "outbox delivery failed; will retry");
        Ok(OutboxEvent::WillRetry { id, attempt })
    }
}

/// Jitter only: a failing random source means no jitter, not no retry.
fn random_u32() -> u32 {
    use aws_lc_rs::rand::SecureRandom;
    let mut bytes = [0u8; 4];
    match aws_lc_rs::rand::SystemRandom::new().fill(&mut bytes) {
        Ok(()) => u32::from_le_bytes(bytes),
        Err(_) => u32::MAX,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_and_stays_in_the_upper_half() {
        let policy = RetryPolicy {
            max_attempts: 10,
            give_up_after: None,
            initial: Duration::from_secs(10),
            max: Duration::from_secs(100),
            lease: Duration::from_secs(60),
            poll_interval: Duration::from_secs(5),
        };
        assert_eq!(policy.backoff(1, u32::MAX), Duration::from_secs(10));
        assert_eq!(policy.backoff(1, 0), Duration::from_secs(5));
        assert_eq!(policy.backoff(2, u32::MAX), Duration::from_secs(20));
        assert_eq!(policy.backoff(3, u32::MAX), Duration::from_secs(40));
        assert_eq!(policy.backoff(5, u32::MAX), Duration::from_secs(100));
        assert_eq!(policy.backoff(i32::MAX, 0), Duration::from_secs(50));
    }

    #[test]
    fn a_message_is_given_up_after_its_attempts_or_its_age_budget() {
        let day = Duration::from_secs(86_400);
        let policy = RetryPolicy {
            max_attempts: 40,
            give_up_after: Some(day),
            initial: Duration::from_secs(5),
            max: Duration::from_secs(3600),
            lease: Duration::from_secs(60),
            poll_interval: Duration::from_secs(1),
        };
        let hour = Duration::from_secs(3600);
        assert!(!policy.exhausted(1, Duration::ZERO, Duration::from_secs(5)));
        assert!(!policy.exhausted(20, day - hour, hour), "exactly at the budget is still tried");
        assert!(policy.exhausted(20, day - hour, hour + Duration::from_secs(1)), "past the budget");
        assert!(policy.exhausted(40, Duration::ZERO, Duration::from_secs(5)), "attempts used up");
        assert!(!RetryPolicy { give_up_after: None, ..policy }.exhausted(39, day * 30, hour));
    }
}
