//! Retrying the RPCs that may be retried, the way docs/scaling.md tells tonic users to: tonic has
//! no retry policy of its own (gRPC's service-config retries are grpc-core's and grpc-java's), so
//! the caller repeats the call with a clone of the request. Retried: `UNAVAILABLE` — what a
//! balancer answers when the replica behind it died, and what Keyward answers, with RetryInfo,
//! when its database does not — and an answer cut off after it began (the replica died between
//! its headers and its trailers: tonic reports UNKNOWN, "missing grpc-status trailer"), which
//! gRPC's own retry policy counts as committed and never repeats. Only for RPCs whose repetition
//! is harmless (docs/scaling.md, "Which RPCs a client may retry").

use std::time::Duration;

use tonic::{Code, Status};
use tonic_types::StatusExt;

/// Attempts in all, as gRPC's service-config policy in the Python and TypeScript clients.
const MAX_ATTEMPTS: u32 = 5;
const FIRST_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// What one call came to: its answer, and how many times it was sent.
pub struct Retried<T> {
    pub result: Result<T, Status>,
    pub attempts: u32,
}

/// Sends `call` until it answers anything but UNAVAILABLE, at most `MAX_ATTEMPTS` times, waiting
/// in between with exponential backoff — or for the server's RetryInfo delay when it names one
/// that is shorter than the next backoff (Keyward's says 1 s, an upper bound of its own outage
/// check: the backoff is the shorter wait while a balancer moves the call elsewhere).
pub async fn idempotent<T, F, Fut>(mut call: F) -> Retried<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Status>>,
{
    let mut backoff = FIRST_BACKOFF;
    let mut attempts = 0;
    loop {
        attempts += 1;
        let result = call().await;
        match &result {
            Err(status) if is_retryable(status) && attempts < MAX_ATTEMPTS => {
                let hinted = status.get_details_retry_info().and_then(|info| info.retry_delay);
                // Waiting is the event here: the next attempt must not come at once.
                tokio::time::sleep(hinted.map_or(backoff, |hint| hint.min(backoff))).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
            _ => return Retried { result, attempts },
        }
    }
}

/// UNAVAILABLE, or an answer the balancer cut off after it began (no grpc-status at all).
fn is_retryable(status: &Status) -> bool {
    status.code() == Code::Unavailable
        || (status.code() == Code::Unknown && status.message().contains("missing grpc-status"))
}

/// A call sent once (an RPC that must not be repeated blindly).
pub async fn once<T>(call: impl Future<Output = Result<T, Status>>) -> Retried<T> {
    Retried { result: call.await, attempts: 1 }
}

/// Whether a failed call's status is the documented outage answer: UNAVAILABLE with RetryInfo.
pub fn is_outage_answer(status: &Status) -> bool {
    status.code() == Code::Unavailable && status.get_details_retry_info().is_some()
}
