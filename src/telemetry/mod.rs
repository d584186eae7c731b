//! Logs and traces: the tracing-subscriber setup (logs to stderr, so a command's result is alone
//! on stdout), OpenTelemetry trace export when the `OTEL_*` variables ask for it (`otlp.rs`), and
//! the per-RPC layer that gives every call its span, request id, log line and metrics (`rpc.rs`).
//! Request and response bodies are never logged or traced, so neither are passwords, tokens or
//! hashes.

mod otlp;
mod request_id;
mod rpc;

use std::io::IsTerminal;

use tracing_subscriber::{
    EnvFilter, Layer, Registry,
    filter::{LevelFilter, Targets},
    layer::SubscriberExt,
    util::SubscriberInitExt,
};

pub use request_id::RequestId;
pub use rpc::RpcLayer;

use crate::config::{Config, LogFormat};

/// What `init` installed that must be shut down at exit: the trace exporter, which flushes the
/// spans it still holds.
#[derive(Debug, Default)]
pub struct Telemetry {
    tracer_provider: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
}

impl Telemetry {
    /// Sends the spans still buffered and stops the exporter.
    pub fn shutdown(self) {
        if let Some(provider) = self.tracer_provider
            && let Err(err) = provider.shutdown()
        {
            tracing::warn!(error = %err, "flushing the last traces failed");
        }
    }
}

/// Installs the global subscriber (once per process; later calls install nothing). `verbose`
/// (`-v`) also logs each migration step. With trace export on, it must run inside the Tokio
/// runtime the exporter's gRPC client will use.
pub fn init(config: &Config, verbose: bool) -> Result<Telemetry, String> {
    // Colour codes only for a person at a terminal: piped into a file, journald or a log
    // collector they are noise.
    let ansi = std::io::stderr().is_terminal();
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_target(true).with_ansi(ansi);
    let fmt: Box<dyn Layer<Registry> + Send + Sync> = match config.log_format {
        LogFormat::Text => fmt.with_filter(log_filter(&config.log, verbose)).boxed(),
        LogFormat::Json => fmt.json().flatten_event(true).with_filter(log_filter(&config.log, verbose)).boxed(),
    };
    let mut layers = vec![fmt];
    let mut tracer_provider = None;
    if let Some(export) = &config.traces {
        let provider = otlp::tracer_provider(export)?;
        // Spans only (their log events ride along): Keyward's own and the database statements
        // sea-orm opens under them.
        let spans = Targets::new().with_target("keyward", LevelFilter::INFO).with_target("sea_orm", LevelFilter::INFO);
        layers.push(otlp::layer(&provider).with_filter(spans).boxed());
        tracer_provider = Some(provider);
    }
    let _already_set = tracing_subscriber::registry().with(layers).try_init();
    Ok(Telemetry { tracer_provider })
}

/// The log filter: the `log` setting, quieted where a dependency is chatty at `info` — sea-orm's
/// per-statement spans, and the migrator's line per migration (unless `verbose`; Keyward logs
/// one line with the count and time itself) — unless the setting names those targets itself.
fn log_filter(setting: &str, verbose: bool) -> EnvFilter {
    let mut filter = EnvFilter::try_new(setting).unwrap_or_else(|_| EnvFilter::new("info"));
    if !setting.contains("sea_orm") {
        let quiet = if verbose {
            ["sea_orm=warn", "sea_orm_migration=info"]
        } else {
            ["sea_orm=warn", "sea_orm_migration=warn"]
        };
        for directive in quiet {
            if let Ok(directive) = directive.parse() {
                filter = filter.add_directive(directive);
            }
        }
    }
    filter
}
