//! Whether traces are exported, from the standard OpenTelemetry variables. Off unless an OTLP
//! endpoint is named (`OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) or
//! `OTEL_TRACES_EXPORTER=otlp`; `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none` turn them
//! off. The protocol is `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL` / `OTEL_EXPORTER_OTLP_PROTOCOL`
//! (`http/protobuf`, the specification's default, or `grpc`). Everything else — the endpoint,
//! headers, timeout, compression, sampler (`OTEL_TRACES_SAMPLER`), batching (`OTEL_BSP_*`),
//! resource attributes — the OpenTelemetry SDK reads itself, as the specification lays out.

use super::{ConfigError, validate::invalid};

/// How spans leave the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtlpProtocol {
    /// OTLP/HTTP with protobuf bodies (port 4318 by convention).
    HttpProtobuf,
    /// OTLP/gRPC (port 4317 by convention).
    Grpc,
}

/// Trace export, when it is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceExport {
    pub protocol: OtlpProtocol,
    /// `service.name`: `OTEL_SERVICE_NAME`, else `keyward`.
    pub service_name: String,
    /// The endpoint is `https://…` (gRPC then needs TLS set up; HTTP knows from the URL).
    pub tls: bool,
}

impl TraceExport {
    /// Reads the variables through `var` (the process environment, or a test's map).
    pub(super) fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Option<Self>, ConfigError> {
        let set = |name: &str| var(name).map(|value| value.trim().to_owned()).filter(|value| !value.is_empty());
        if set("OTEL_SDK_DISABLED").is_some_and(|value| value.eq_ignore_ascii_case("true")) {
            return Ok(None);
        }
        let exporter = set("OTEL_TRACES_EXPORTER");
        match exporter.as_deref() {
            Some("none") => return Ok(None),
            Some("otlp") | None => {}
            Some(other) => {
                return Err(invalid("OTEL_TRACES_EXPORTER", format!("`{other}` is not supported: use otlp or none")));
            }
        }
        let endpoint = set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").or_else(|| set("OTEL_EXPORTER_OTLP_ENDPOINT"));
        if endpoint.is_none() && exporter.is_none() {
            return Ok(None);
        }
        let (variable, protocol) = match set("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") {
            Some(protocol) => ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", Some(protocol)),
            None => ("OTEL_EXPORTER_OTLP_PROTOCOL", set("OTEL_EXPORTER_OTLP_PROTOCOL")),
        };
        let protocol = match protocol.as_deref() {
            None | Some("http/protobuf") => OtlpProtocol::HttpProtobuf,
            Some("grpc") => OtlpProtocol::Grpc,
            Some(other) => {
                return Err(invalid(variable, format!("`{other}` is not supported: use http/protobuf or grpc")));
            }
        };
        let service_name = set("OTEL_SERVICE_NAME").unwrap_or_else(|| "keyward".to_owned());
        let tls = endpoint.is_some_and(|endpoint| endpoint.to_ascii_lowercase().starts_with("https://"));
        Ok(Some(Self { protocol, service_name, tls }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(vars: &[(&str, &str)]) -> Result<Option<TraceExport>, ConfigError> {
        TraceExport::from_env(|name| vars.iter().find(|(key, _)| *key == name).map(|(_, value)| (*value).to_owned()))
    }

    #[test]
    fn off_unless_an_endpoint_or_the_exporter_is_named() {
        assert_eq!(from(&[]).unwrap(), None);
        assert_eq!(from(&[("OTEL_SERVICE_NAME", "x")]).unwrap(), None);
        let on = from(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")]).unwrap().unwrap();
        assert_eq!(
            on,
            TraceExport { protocol: OtlpProtocol::HttpProtobuf, service_name: "keyward".into(), tls: false }
        );
        assert!(from(&[("OTEL_TRACES_EXPORTER", "otlp")]).unwrap().is_some());
        let off = [("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"), ("OTEL_SDK_DISABLED", "true")];
        assert_eq!(from(&off).unwrap(), None);
        let none = [("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"), ("OTEL_TRACES_EXPORTER", "none")];
        assert_eq!(from(&none).unwrap(), None);
    }

    #[test]
    fn protocol_and_service_name() {
        let grpc = [
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "https://c:4317"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc"),
            ("OTEL_SERVICE_NAME", "id"),
        ];
        assert_eq!(
            from(&grpc).unwrap().unwrap(),
            TraceExport { protocol: OtlpProtocol::Grpc, service_name: "id".into(), tls: true }
        );
        let json = [("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"), ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")];
        assert_eq!(from(&json).unwrap_err().setting, "OTEL_EXPORTER_OTLP_PROTOCOL");
        assert_eq!(from(&[("OTEL_TRACES_EXPORTER", "zipkin")]).unwrap_err().setting, "OTEL_TRACES_EXPORTER");
    }
}
