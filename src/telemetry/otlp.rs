//! OpenTelemetry trace export over OTLP (HTTP/protobuf or gRPC), set up from `TraceExport`. The
//! SDK reads the standard variables itself: the endpoint, headers, timeout and compression
//! (`OTEL_EXPORTER_OTLP_*`), the sampler (`OTEL_TRACES_SAMPLER`, parent-based always-on by
//! default, so a caller's sampled `traceparent` is followed) and batching (`OTEL_BSP_*`).

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, SpanExporter, WithExportConfig, WithTonicConfig};
use opentelemetry_sdk::{Resource, trace::SdkTracerProvider};
use tracing_subscriber::Registry;

use crate::config::{OtlpProtocol, TraceExport};

/// The batching tracer provider. For gRPC, build it inside the Tokio runtime: the exporter's
/// channel runs there.
pub(super) fn tracer_provider(export: &TraceExport) -> Result<SdkTracerProvider, String> {
    let exporter = match export.protocol {
        OtlpProtocol::HttpProtobuf => SpanExporter::builder().with_http().with_protocol(Protocol::HttpBinary).build(),
        OtlpProtocol::Grpc => {
            let builder = SpanExporter::builder().with_tonic();
            let builder = if export.tls {
                builder.with_tls_config(tonic::transport::ClientTlsConfig::new().with_webpki_roots())
            } else {
                builder
            };
            builder.build()
        }
    }
    .map_err(|err| format!("setting up the OTLP trace exporter: {err}"))?;
    let resource = Resource::builder()
        .with_service_name(export.service_name.clone())
        .with_attribute(opentelemetry::KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
        .build();
    Ok(SdkTracerProvider::builder().with_batch_exporter(exporter).with_resource(resource).build())
}

/// The tracing layer that turns spans into OpenTelemetry spans.
pub(super) fn layer(
    provider: &SdkTracerProvider,
) -> tracing_opentelemetry::OpenTelemetryLayer<Registry, opentelemetry_sdk::trace::Tracer> {
    tracing_opentelemetry::layer().with_tracer(provider.tracer("keyward")).with_threads(false).with_location(false)
}
