//! Running a scenario and measuring it: closed-loop callers for a fixed time, each call's
//! latency, and the process's CPU time and memory from `/proc`.
//!
//! The server runs inside this process, so the process's CPU time (`/proc/self/stat`: utime +
//! stime of every thread, dead ones included) is the server's plus the client's. The client is
//! kept cheap (tonic over one HTTP/2 connection; a software authenticator whose own cost is
//! calibrated on one thread and subtracted, see `passkey.rs`), so the figure is the server's to
//! within the client's few microseconds of gRPC encoding per call. In-process was chosen over a
//! child process so the bench needs no built `keyward` binary and no port or data-dir plumbing,
//! and `scripts/bench` stays one `cargo run`.

use std::{
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use serde::Serialize;

/// Linux's USER_HZ: `/proc/<pid>/stat` counts CPU time in 1/100 s on every architecture Linux
/// runs on (the kernel converts from its internal HZ).
const TICKS_PER_SECOND: f64 = 100.0;

/// What one scenario measured.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub name: String,
    pub callers: usize,
    pub ok: u64,
    pub failed: u64,
    pub seconds: f64,
    pub per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// CPU time of the whole process per successful operation.
    pub process_cpu_ms_per_op: f64,
    /// The client's share that was measured apart and subtracted (the software authenticator).
    pub client_cpu_ms_per_op: f64,
    /// `process_cpu_ms_per_op - client_cpu_ms_per_op`.
    pub server_cpu_ms_per_op: f64,
}

impl Outcome {
    /// Subtracts a client cost measured apart (per operation) from the process's CPU time.
    pub fn less_client_cost(mut self, client_cpu_ms_per_op: f64) -> Self {
        self.client_cpu_ms_per_op = client_cpu_ms_per_op;
        self.server_cpu_ms_per_op = (self.process_cpu_ms_per_op - client_cpu_ms_per_op).max(0.0);
        self
    }

    pub fn print(&self) {
        println!(
            "  {:44} {:>9.0}/s  p50 {:>7.3} ms  p99 {:>7.3} ms  cpu {:>6.3} ms/op  ({} ok, {} failed)",
            self.name, self.per_second, self.p50_ms, self.p99_ms, self.server_cpu_ms_per_op, self.ok, self.failed
        );
    }
}

/// Runs one caller per element of `states` for `duration`: each calls `call` in a loop, handing
/// its state in and getting it back with whether the call succeeded. Latencies are those of
/// successful calls.
pub async fn run<S, F, Fut>(name: &str, duration: Duration, states: Vec<S>, call: F) -> Outcome
where
    S: Send + 'static,
    F: Fn(S) -> Fut + Send + Sync + Clone + 'static,
    Fut: Future<Output = (S, bool)> + Send,
{
    let callers = states.len();
    let stop = Arc::new(AtomicBool::new(false));
    let cpu_before = process_cpu_seconds();
    let started = Instant::now();
    let workers: Vec<_> = states
        .into_iter()
        .map(|mut state| {
            let (call, stop) = (call.clone(), Arc::clone(&stop));
            tokio::spawn(async move {
                let (mut latencies, mut failed) = (Vec::with_capacity(4096), 0u64);
                while !stop.load(Ordering::Relaxed) {
                    let at = Instant::now();
                    let (next, ok) = call(state).await;
                    state = next;
                    if ok {
                        latencies.push(at.elapsed());
                    } else {
                        failed += 1;
                    }
                }
                (latencies, failed)
            })
        })
        .collect();
    tokio::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    let (mut latencies, mut failed) = (Vec::new(), 0);
    for worker in workers {
        if let Ok((seen, refused)) = worker.await {
            latencies.extend(seen);
            failed += refused;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let cpu = process_cpu_seconds() - cpu_before;
    latencies.sort_unstable();
    let ok = latencies.len() as u64;
    let process_cpu_ms_per_op = if ok == 0 { 0.0 } else { cpu * 1e3 / ok as f64 };
    Outcome {
        name: name.to_owned(),
        callers,
        ok,
        failed,
        seconds,
        per_second: ok as f64 / seconds,
        p50_ms: percentile(&latencies, 0.5).as_secs_f64() * 1e3,
        p99_ms: percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        process_cpu_ms_per_op,
        client_cpu_ms_per_op: 0.0,
        server_cpu_ms_per_op: process_cpu_ms_per_op,
    }
}

/// The `q` quantile of sorted latencies (nearest rank).
pub fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// CPU time (user + system) this process has used, all threads, in seconds.
pub fn process_cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return 0.0 };
    // The command name (field 2) is in parentheses and may hold spaces: count from after it.
    let Some(rest) = stat.rsplit_once(')').map(|(_, rest)| rest) else { return 0.0 };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state is field 3, so utime (14) and stime (15) are at 11 and 12 here.
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / TICKS_PER_SECOND
}

/// CPU time the calling OS thread has used, in seconds (`/proc/thread-self/schedstat`, ns).
pub fn thread_cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|ns| ns.parse::<f64>().ok()))
        .map_or(0.0, |ns| ns / 1e9)
}

/// A line of `/proc/self/status` in KiB (`VmRSS`, `VmHWM`).
pub fn status_kib(key: &str) -> u64 {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else { return 0 };
    status
        .lines()
        .find_map(|line| line.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|value| value.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}
