//! The per-request "budget spent" marker: costly work on a caller's behalf — a job on the hashing
//! pool (argon2, zxcvbn) or a call to another server — may start only after the request spent a
//! budget. Every RPC runs in a scope (`request_scope`, opened by the RPC layer); a budget check
//! that passes marks it (`spent`); the pool and the outbound HTTP client ask `require` first.
//! This is how "every anonymous entry point spends a budget before doing work" (OWASP ASVS 5
//! V2.4.1, NIST SP 800-63B-4 §3.2.2) is checked rather than hoped for: a path that reaches the
//! pool before its budget is refused in debug builds (so every test that takes it fails, and
//! `tests/it/work_budget.rs` drives each such RPC), and logged at ERROR in release builds, where
//! refusing a user over a bookkeeping slip would be worse than the slip.
//!
//! Work outside a request (the import, start-up, background senders) is not a caller's and is
//! not checked; nor is a task a request spawns (task-locals do not follow `tokio::spawn`), so
//! costly work belongs on the request's own task.

use std::cell::Cell;

use crate::error::{Error, Result};

tokio::task_local! {
    static SPENT: Cell<bool>;
}

/// Runs `future` as one request: nothing spent yet.
pub fn request_scope<F: Future>(future: F) -> impl Future<Output = F::Output> {
    SPENT.scope(Cell::new(false), future)
}

/// Records that this request spent a budget (a per-client bucket passed, or a single-use row
/// that one paid for was taken). Outside a request: nothing to record.
pub fn spent() {
    let _ = SPENT.try_with(|spent| spent.set(true));
}

/// Whether `work` may start: outside a request, or after `spent`. Else an error in debug builds
/// (and an ERROR log line in any build).
pub fn require(work: &'static str) -> Result<()> {
    let Ok(spent) = SPENT.try_with(Cell::get) else { return Ok(()) };
    if spent {
        return Ok(());
    }
    tracing::error!(work, "costly work before any budget was spent: a missing throttle");
    if cfg!(debug_assertions) { Err(Error::internal(format_args!("{work} before a budget was spent"))) } else { Ok(()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn work_in_a_request_waits_for_a_budget() {
        assert!(require("hashing").is_ok(), "outside a request nothing is checked");
        let refused = request_scope(async { require("hashing") }).await;
        assert!(refused.is_err() == cfg!(debug_assertions), "{refused:?}");
        let allowed = request_scope(async {
            spent();
            require("hashing")
        })
        .await;
        assert!(allowed.is_ok(), "{allowed:?}");
        let fresh = request_scope(async { require("hashing") }).await;
        assert!(fresh.is_err() == cfg!(debug_assertions), "each request starts unspent: {fresh:?}");
    }
}
