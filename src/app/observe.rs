//! The server's metrics: the recorder (on when `metrics_listen` is set), the `/metrics` listener
//! apart from the public port, what is read at scrape time (pools, hashing queue, outbox
//! backlog), the once-a-second upkeep (pool wait probes, folding histogram samples), and the
//! outbox deliverer wrapper that counts delivery attempts.

use std::{net::SocketAddr, time::Duration};

use axum::{Router, extract::State, http::header, response::IntoResponse, routing::get};
use tokio::net::TcpListener;

use crate::{
    error::{Error, Result},
    metrics::{Metrics, RpcMethods},
    service::{
        Services,
        email::EMAIL_KIND,
        outbox::{Deliverer, DeliveryFailure},
        webhooks::webhook_endpoint,
    },
    store::WEBHOOK_KIND,
};

/// The outbox kinds whose backlog is reported.
const OUTBOX_KINDS: [&str; 2] = [EMAIL_KIND, WEBHOOK_KIND];

/// A recorder of this server's own when metrics are on.
pub(super) fn metrics(metrics_listen: Option<SocketAddr>, methods: RpcMethods) -> Metrics {
    match metrics_listen {
        Some(_) => Metrics::on(methods, env!("CARGO_PKG_VERSION")),
        None => Metrics::off(),
    }
}

/// Binds the metrics address (before the server says it is serving, so a bad address stops the
/// start).
pub(super) async fn bind(address: SocketAddr) -> Result<TcpListener> {
    TcpListener::bind(address)
        .await
        .map_err(|err| Error::Startup(format!("cannot listen for metrics on {address}: {err}")))
}

/// Serves `GET /metrics` on `listener` until the task is aborted.
pub(super) async fn serve(listener: TcpListener, services: Services, metrics: Metrics) {
    let router = Router::new().route("/metrics", get(scrape)).with_state((services, metrics));
    if let Err(err) = axum::serve(listener, router).await {
        tracing::error!(error = %err, "the metrics listener stopped");
    }
}

async fn scrape(State((services, metrics)): State<(Services, Metrics)>) -> impl IntoResponse {
    let (workers, waiting) = services.cpu_pool().occupancy();
    metrics.set_hash_pool(workers, waiting);
    for usage in services.store().pool_usage() {
        metrics.set_db_pool(usage.pool, usage.in_use, usage.idle, usage.max);
    }
    let now = services.clock().now();
    for kind in OUTBOX_KINDS {
        match services.store().outbox_backlog(kind).await {
            Ok(backlog) => {
                let age = backlog.oldest_waiting.and_then(|at| (now - at).to_std().ok()).unwrap_or_default();
                metrics.set_outbox(kind, backlog.counts.waiting, backlog.counts.dead, age);
            }
            // The gauges keep their last values; the scrape still answers.
            Err(err) => tracing::warn!(error = %err, kind, "reading the outbox backlog for metrics failed"),
        }
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], metrics.render().unwrap_or_default())
}

/// Once a second: time a connection from each database pool, and fold histogram samples into
/// their buckets so memory stays bounded however rarely anyone scrapes.
pub(super) async fn upkeep(services: Services, metrics: Metrics) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        for (pool, waited) in services.store().probe_pool_waits().await {
            metrics.db_pool_waited(pool, waited);
        }
        metrics.upkeep();
    }
}

/// A `Deliverer` that counts each attempt's result (`delivered`, `failed`: will be retried,
/// `refused`: given up at once) per outbox kind, and for webhooks per configured endpoint, and
/// gives each delivery a span of its own.
pub(super) struct Counted<D> {
    pub inner: D,
    pub metrics: Metrics,
}

impl<D: Deliverer> Deliverer for Counted<D> {
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }

    async fn deliver(&self, id: &str, payload: &str) -> std::result::Result<(), DeliveryFailure> {
        use tracing::Instrument;
        let kind = self.inner.kind();
        let span = tracing::info_span!("outbox.deliver", otel.kind = "client", kind);
        let result = self.inner.deliver(id, payload).instrument(span).await;
        let outcome = match &result {
            Ok(()) => "delivered",
            Err(failure) if failure.permanent => "refused",
            Err(_) => "failed",
        };
        self.metrics.outbox_delivery(kind, outcome);
        if kind == WEBHOOK_KIND {
            let endpoint = webhook_endpoint(payload).unwrap_or_else(|| "unknown".to_owned());
            self.metrics.webhook_delivery(&endpoint, outcome);
        }
        result
    }
}
