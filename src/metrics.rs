//! Prometheus metrics: one recorder per server — never the `metrics` crate's global one, so tests
//! run many servers in one process — and one typed method per thing measured, so every
//! instrumentation point is one line. Off by default (`metrics_listen` unset): a `Metrics` that is
//! off records nothing and costs one branch.
//!
//! Cardinality is bounded by construction: a label value is a gRPC method known at start (any
//! other path is `unknown`), a gRPC code, an `ErrorReason`, a budget or outbox kind, or a
//! configured webhook endpoint — never a user id, an email, an address or anything else a caller
//! chooses.

use std::{
    collections::HashMap,
    sync::{Arc, OnceLock},
    time::Duration,
};

use metrics::{Counter, Gauge, Histogram, Key, KeyName, Label, Level, Metadata, Recorder, SharedString, Unit};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder};

/// Bucket bounds of every `_seconds` histogram: 0.5 ms to 10 s (a cached GetSession is well under
/// a millisecond, a Login at OWASP's argon2 cost tens of milliseconds, a queued one more).
const SECONDS_BUCKETS: &[f64] = &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// gRPC status codes 0 (OK) to 16 (UNAUTHENTICATED).
const GRPC_CODES: usize = 17;

const METADATA: Metadata<'static> = Metadata::new("keyward", Level::INFO, Some(module_path!()));

/// Every metric's name, kind, unit and help text (the `# HELP` lines).
const DESCRIPTIONS: &[(&str, Kind, Option<Unit>, &str)] = &[
    ("keyward_build_info", Kind::Gauge, None, "Always 1; the labels say which build is running"),
    ("keyward_grpc_requests_total", Kind::Counter, None, "gRPC calls answered, by method and status code"),
    (
        "keyward_grpc_request_duration_seconds",
        Kind::Histogram,
        Some(Unit::Seconds),
        "Time to answer a gRPC call (to the response headers), by method and status code",
    ),
    (
        "keyward_sign_ins_total",
        Kind::Counter,
        None,
        "Sign-in attempts by method (password, passkey, oauth, magic_link) and result (ok, or the error reason)",
    ),
    ("keyward_throttle_refusals_total", Kind::Counter, None, "Calls refused by a per-client budget, by budget"),
    ("keyward_hash_pool_queue_depth", Kind::Gauge, None, "Password-hashing jobs waiting for a worker"),
    ("keyward_hash_pool_workers", Kind::Gauge, None, "Password-hashing worker threads"),
    (
        "keyward_hash_pool_wait_seconds",
        Kind::Histogram,
        Some(Unit::Seconds),
        "Time a hashing job waited in the queue before a worker took it",
    ),
    (
        "keyward_db_pool_connections",
        Kind::Gauge,
        None,
        "Database connections by pool (read, write) and state (in_use, idle)",
    ),
    ("keyward_db_pool_max_connections", Kind::Gauge, None, "Most connections each database pool may open"),
    (
        "keyward_db_pool_wait_seconds",
        Kind::Histogram,
        Some(Unit::Seconds),
        "Time a probe waited for a pooled connection (one probe per pool every second)",
    ),
    (
        "keyward_outbox_messages",
        Kind::Gauge,
        None,
        "Outbox rows by kind and state (waiting, dead), read at scrape time",
    ),
    (
        "keyward_outbox_oldest_age_seconds",
        Kind::Gauge,
        Some(Unit::Seconds),
        "Age of the oldest waiting outbox row by kind (0 when none waits)",
    ),
    ("keyward_outbox_deliveries_total", Kind::Counter, None, "Outbox delivery attempts by kind and result"),
    (
        "keyward_webhook_deliveries_total",
        Kind::Counter,
        None,
        "Webhook delivery attempts by configured endpoint and result",
    ),
    ("keyward_session_cache_lookups_total", Kind::Counter, None, "Session cache lookups by result (hit, miss)"),
];

#[derive(Debug, Clone, Copy)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// The gRPC methods this server serves: each known path has a fixed index and label value; any
/// other path is `unknown`. Built once from the descriptor sets at start.
#[derive(Debug, Clone, Default)]
pub struct RpcMethods {
    by_path: Arc<HashMap<String, usize>>,
    names: Arc<[SharedString]>,
}

/// One method of `RpcMethods` (or `unknown`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RpcMethod(usize);

impl RpcMethods {
    /// From full method names (`keyward.v1.AuthService/Login`).
    pub fn new(names: impl IntoIterator<Item = String>) -> Self {
        let mut names: Vec<SharedString> = names.into_iter().map(SharedString::from).collect();
        names.sort();
        names.dedup();
        let by_path = names.iter().enumerate().map(|(index, name)| (format!("/{name}"), index)).collect();
        names.push(SharedString::const_str("unknown"));
        Self { by_path: Arc::new(by_path), names: names.into() }
    }

    /// The method a request path names (`/keyward.v1.AuthService/Login`).
    pub fn lookup(&self, path: &str) -> RpcMethod {
        RpcMethod(self.by_path.get(path).copied().unwrap_or(self.names.len().saturating_sub(1)))
    }

    /// The method's full name (`keyward.v1.AuthService/Login`), or `unknown`.
    pub fn name(&self, method: RpcMethod) -> &str {
        self.names.get(method.0).map_or("unknown", |name| name)
    }
}

/// The recorder's handles, shared by every clone. Off: `inner` is None.
#[derive(Clone, Default)]
pub struct Metrics {
    inner: Option<Arc<Inner>>,
}

/// One method's count and latency for each gRPC code, made on first use.
type PerCode = [OnceLock<(Counter, Histogram)>; GRPC_CODES];

struct Inner {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    methods: RpcMethods,
    /// Per method and code, made on first use (most pairs never occur).
    rpc: Box<[PerCode]>,
    session_cache_hit: Counter,
    session_cache_miss: Counter,
    hash_wait: Histogram,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").field("on", &self.inner.is_some()).finish()
    }
}

impl Metrics {
    /// Metrics that record nothing.
    pub fn off() -> Self {
        Self::default()
    }

    /// A recorder of this server's own, for `methods`; `version` goes into `keyward_build_info`.
    pub fn on(methods: RpcMethods, version: &'static str) -> Self {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)
            // Non-empty, constant buckets: the builder cannot refuse them.
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        for (name, kind, unit, help) in DESCRIPTIONS {
            let key = KeyName::from_const_str(name);
            let help = SharedString::const_str(help);
            match kind {
                Kind::Counter => recorder.describe_counter(key, *unit, help),
                Kind::Gauge => recorder.describe_gauge(key, *unit, help),
                Kind::Histogram => recorder.describe_histogram(key, *unit, help),
            }
        }
        let counter = |name: &'static str, labels: Vec<Label>| {
            recorder.register_counter(&Key::from_parts(name, labels), &METADATA)
        };
        let session_cache_hit =
            counter("keyward_session_cache_lookups_total", vec![Label::from_static_parts("result", "hit")]);
        let session_cache_miss =
            counter("keyward_session_cache_lookups_total", vec![Label::from_static_parts("result", "miss")]);
        let hash_wait =
            recorder.register_histogram(&Key::from_static_name("keyward_hash_pool_wait_seconds"), &METADATA);
        recorder
            .register_gauge(
                &Key::from_parts("keyward_build_info", vec![Label::from_static_parts("version", version)]),
                &METADATA,
            )
            .set(1.0);
        let rpc = (0..methods.names.len()).map(|_| std::array::from_fn(|_| OnceLock::new())).collect();
        Self {
            inner: Some(Arc::new(Inner {
                recorder,
                handle,
                methods,
                rpc,
                session_cache_hit,
                session_cache_miss,
                hash_wait,
            })),
        }
    }

    pub fn is_on(&self) -> bool {
        self.inner.is_some()
    }

    /// One answered gRPC call: `code` is the numeric gRPC status, `elapsed` the time to answer.
    pub fn rpc_answered(&self, method: RpcMethod, code: i32, elapsed: Duration) {
        let Some(inner) = &self.inner else { return };
        let code = usize::try_from(code).ok().filter(|code| *code < GRPC_CODES).unwrap_or(2); // UNKNOWN
        let Some(slots) = inner.rpc.get(method.0) else { return };
        let (count, latency) = slots[code].get_or_init(|| {
            let labels = vec![
                Label::new("method", inner.methods.names[method.0].clone()),
                Label::from_static_parts("code", GRPC_CODE_NAMES[code]),
            ];
            let count = inner
                .recorder
                .register_counter(&Key::from_parts("keyward_grpc_requests_total", labels.clone()), &METADATA);
            let latency = inner
                .recorder
                .register_histogram(&Key::from_parts("keyward_grpc_request_duration_seconds", labels), &METADATA);
            (count, latency)
        });
        count.increment(1);
        latency.record(elapsed.as_secs_f64());
    }

    /// A sign-in attempt's answer: `method` from a fixed set, `result` `ok` or an error reason.
    pub fn sign_in(&self, method: &'static str, result: &str) {
        self.count("keyward_sign_ins_total", [("method", method.into()), ("result", result.to_owned().into())]);
    }

    /// A call refused by the per-client budget `budget`.
    pub fn throttle_refused(&self, budget: &'static str) {
        self.count("keyward_throttle_refusals_total", [("budget", budget.into())]);
    }

    /// A session cache lookup.
    pub fn session_cache_lookup(&self, hit: bool) {
        if let Some(inner) = &self.inner {
            if hit { &inner.session_cache_hit } else { &inner.session_cache_miss }.increment(1);
        }
    }

    /// The histogram of hashing-queue waits, for the pool to record into (a no-op when off).
    pub fn hash_pool_wait(&self) -> Histogram {
        self.inner.as_ref().map_or_else(Histogram::noop, |inner| inner.hash_wait.clone())
    }

    /// One delivery attempt of an outbox message of `kind`.
    pub fn outbox_delivery(&self, kind: &'static str, result: &'static str) {
        self.count("keyward_outbox_deliveries_total", [("kind", kind.into()), ("result", result.into())]);
    }

    /// One delivery attempt to a configured webhook endpoint.
    pub fn webhook_delivery(&self, endpoint: &str, result: &'static str) {
        self.count(
            "keyward_webhook_deliveries_total",
            [("endpoint", endpoint.to_owned().into()), ("result", result.into())],
        );
    }

    /// The hashing pool's state, read at scrape time.
    pub fn set_hash_pool(&self, workers: usize, waiting: usize) {
        self.gauge("keyward_hash_pool_workers", []).set(count_f64(workers));
        self.gauge("keyward_hash_pool_queue_depth", []).set(count_f64(waiting));
    }

    /// One database pool's connections, read at scrape time.
    pub fn set_db_pool(&self, pool: &'static str, in_use: usize, idle: usize, max: u32) {
        self.gauge("keyward_db_pool_connections", [("pool", pool.into()), ("state", "in_use".into())])
            .set(count_f64(in_use));
        self.gauge("keyward_db_pool_connections", [("pool", pool.into()), ("state", "idle".into())])
            .set(count_f64(idle));
        self.gauge("keyward_db_pool_max_connections", [("pool", pool.into())]).set(f64::from(max));
    }

    /// How long a probe of database pool `pool` waited for a connection.
    pub fn db_pool_waited(&self, pool: &'static str, waited: Duration) {
        if let Some(inner) = &self.inner {
            let key = Key::from_parts("keyward_db_pool_wait_seconds", vec![Label::from_static_parts("pool", pool)]);
            inner.recorder.register_histogram(&key, &METADATA).record(waited.as_secs_f64());
        }
    }

    /// The outbox backlog of `kind`, read at scrape time.
    pub fn set_outbox(&self, kind: &'static str, waiting: u64, dead: u64, oldest_waiting: Duration) {
        let messages = |state: &'static str| {
            self.gauge("keyward_outbox_messages", [("kind", kind.into()), ("state", state.into())])
        };
        messages("waiting").set(count_f64(waiting));
        messages("dead").set(count_f64(dead));
        self.gauge("keyward_outbox_oldest_age_seconds", [("kind", kind.into())]).set(oldest_waiting.as_secs_f64());
    }

    /// The Prometheus text exposition of everything recorded (None when off).
    pub fn render(&self) -> Option<String> {
        self.inner.as_ref().map(|inner| inner.handle.render())
    }

    /// Folds recorded histogram samples into their buckets, so memory stays bounded between
    /// scrapes (run every few seconds).
    pub fn upkeep(&self) {
        if let Some(inner) = &self.inner {
            inner.handle.run_upkeep();
        }
    }

    fn count<const N: usize>(&self, name: &'static str, labels: [(&'static str, SharedString); N]) {
        if let Some(inner) = &self.inner {
            let labels: Vec<Label> = labels.into_iter().map(|(key, value)| Label::new(key, value)).collect();
            inner.recorder.register_counter(&Key::from_parts(name, labels), &METADATA).increment(1);
        }
    }

    fn gauge<const N: usize>(&self, name: &'static str, labels: [(&'static str, SharedString); N]) -> Gauge {
        let Some(inner) = &self.inner else { return Gauge::noop() };
        let labels: Vec<Label> = labels.into_iter().map(|(key, value)| Label::new(key, value)).collect();
        inner.recorder.register_gauge(&Key::from_parts(name, labels), &METADATA)
    }
}

/// A count as a gauge value (exact below 2^53, far beyond any count here).
#[allow(clippy::cast_precision_loss)]
fn count_f64(count: impl TryInto<u64>) -> f64 {
    count.try_into().unwrap_or(u64::MAX) as f64
}

/// The gRPC code names, as label values (`code="UNAUTHENTICATED"`), indexed by code.
const GRPC_CODE_NAMES: [&str; GRPC_CODES] = [
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_paths_share_one_label_value() {
        let methods = RpcMethods::new(["keyward.v1.AuthService/Login".to_owned()]);
        let login = methods.lookup("/keyward.v1.AuthService/Login");
        assert_eq!(methods.name(login), "keyward.v1.AuthService/Login");
        let other = methods.lookup("/attacker.chosen/Path");
        assert_eq!(methods.name(other), "unknown");
        assert_eq!(other, methods.lookup("/another/one"));
    }

    #[test]
    fn off_records_nothing_and_renders_nothing() {
        let metrics = Metrics::off();
        metrics.rpc_answered(RpcMethod(0), 0, Duration::from_millis(1));
        metrics.sign_in("password", "ok");
        assert!(metrics.render().is_none());
    }

    #[test]
    fn counters_render_with_their_labels() {
        let methods = RpcMethods::new(["keyward.v1.AuthService/Login".to_owned()]);
        let metrics = Metrics::on(methods.clone(), "1.2.3");
        let login = methods.lookup("/keyward.v1.AuthService/Login");
        metrics.rpc_answered(login, 16, Duration::from_millis(3));
        metrics.rpc_answered(login, 16, Duration::from_millis(3));
        metrics.rpc_answered(methods.lookup("/nope"), 12, Duration::from_millis(1));
        metrics.throttle_refused("login");
        let text = metrics.render().unwrap();
        assert!(
            text.contains(
                r#"keyward_grpc_requests_total{method="keyward.v1.AuthService/Login",code="UNAUTHENTICATED"} 2"#
            ),
            "{text}"
        );
        assert!(text.contains(r#"keyward_grpc_requests_total{method="unknown",code="UNIMPLEMENTED"} 1"#), "{text}");
        assert!(text.contains(r#"keyward_throttle_refusals_total{budget="login"} 1"#), "{text}");
        assert!(text.contains(r#"keyward_build_info{version="1.2.3"} 1"#), "{text}");
        assert!(text.contains("keyward_grpc_request_duration_seconds_bucket{"), "histograms, not summaries: {text}");
    }
}
