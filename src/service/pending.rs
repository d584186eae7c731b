//! The global cap on pending ceremonies. Counting every unexpired ceremony on every Start would
//! cost a scan of up to the cap itself per call (under a flood, exactly when it hurts), so this
//! replica keeps an estimate: a real count at most every `RECOUNT_INTERVAL` (one caller counts,
//! the others use the estimate meanwhile), plus the ceremonies it stored since. With N replicas
//! the cap can be passed by what the others stored within one interval; it bounds storage all
//! the same. The per-client cap is exact and lives in the insert itself (`store::ceremonies`).

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use chrono::{DateTime, Utc};

use crate::{
    error::{Error, Result},
    store::Store,
};

/// How stale the global count may get.
const RECOUNT_INTERVAL: Duration = Duration::from_secs(5);

/// Estimate of the pending ceremonies, and the caps.
#[derive(Debug, Clone)]
pub(super) struct PendingCeremonies {
    pub(super) global_cap: u64,
    pub(super) per_client_cap: u64,
    estimate: Arc<AtomicU64>,
    /// When the last real count ran, on the service clock (so tests can move it).
    counted_at: Arc<Mutex<Option<DateTime<Utc>>>>,
}

impl PendingCeremonies {
    pub(super) fn new(global_cap: u64, per_client_cap: u64) -> Self {
        Self { global_cap, per_client_cap, estimate: Arc::default(), counted_at: Arc::default() }
    }

    /// Refuses when the estimate has reached the global cap, recounting first when due.
    pub(super) async fn check(&self, store: &Store, now: DateTime<Utc>, ceremony_ttl: Duration) -> Result<()> {
        let due = {
            let mut counted_at = self.counted_at.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let due = counted_at.is_none_or(|at| (now - at).to_std().is_ok_and(|age| age >= RECOUNT_INTERVAL));
            if due {
                *counted_at = Some(now); // this caller counts; the others go on
            }
            due
        };
        if due {
            self.estimate.store(store.count_pending_ceremonies(now).await?, Ordering::SeqCst);
        }
        if self.estimate.load(Ordering::SeqCst) >= self.global_cap {
            tracing::warn!(cap = self.global_cap, "pending ceremonies at the global cap; refusing Start calls");
            // Ceremonies expire within their TTL; the estimate is recounted sooner.
            return Err(Error::TooManyCeremonies { retry_after: RECOUNT_INTERVAL.min(ceremony_ttl) });
        }
        Ok(())
    }

    /// One more ceremony stored by this replica.
    pub(super) fn stored(&self) {
        self.estimate.fetch_add(1, Ordering::SeqCst);
    }
}
