//! One span, one request id, one log line and one set of metrics per gRPC call. The layer sits
//! inside grpc-web translation, so browser calls are counted like native ones. Latency is the
//! time to the response headers: for a unary call its answer (an error is "trailers-only", so its
//! code is in the headers; a success is OK), for a server stream its start.

use std::{
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Instant,
};

use opentelemetry::propagation::{Extractor, TextMapPropagator};
use tower::{Layer, Service};
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::RequestId;
use crate::metrics::{Metrics, RpcMethod, RpcMethods};

/// The calls that sign someone in, and the method label each counts under in
/// `keyward_sign_ins_total`.
const SIGN_INS: [(&str, &str); 4] = [
    ("/keyward.v1.AuthService/Login", "password"),
    ("/keyward.v1.PasskeyService/FinishPasskeyLogin", "passkey"),
    ("/keyward.v1.OAuthService/OAuthCallback", "oauth"),
    ("/keyward.v1.VerificationService/SignInWithMagicLink", "magic_link"),
];

/// gRPC codes that are the server's failure, not the caller's (OpenTelemetry's semantic
/// conventions for server spans): UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL,
/// UNAVAILABLE, DATA_LOSS.
const SERVER_ERRORS: [i32; 6] = [2, 4, 12, 13, 14, 15];

/// Wraps the gRPC routes (see the module doc).
#[derive(Debug, Clone)]
pub struct RpcLayer {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    methods: RpcMethods,
    metrics: Metrics,
    sign_ins: Vec<(RpcMethod, &'static str)>,
    /// Traces are exported: honour the caller's `traceparent` and add the RPC attributes.
    traced: bool,
}

impl RpcLayer {
    pub fn new(methods: RpcMethods, metrics: Metrics, traced: bool) -> Self {
        let sign_ins = SIGN_INS.iter().map(|(path, label)| (methods.lookup(path), *label)).collect();
        Self { shared: Arc::new(Shared { methods, metrics, sign_ins, traced }) }
    }
}

impl<S> Layer<S> for RpcLayer {
    type Service = Rpc<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Rpc { inner, shared: Arc::clone(&self.shared) }
    }
}

#[derive(Debug, Clone)]
pub struct Rpc<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for Rpc<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        let shared = Arc::clone(&self.shared);
        let method = shared.methods.lookup(request.uri().path());
        let request_id = RequestId::mint();
        let span = tracing::info_span!(
            "rpc",
            otel.name = shared.methods.name(method),
            otel.kind = "server",
            request_id = %request_id,
            otel.status_code = tracing::field::Empty,
        );
        if shared.traced {
            traced_span(&span, shared.methods.name(method), request.headers());
        }
        let started = Instant::now();
        let answer = span.in_scope(|| self.inner.call(request)).instrument(span.clone());
        // Each call starts with no budget spent (`crypto::work_budget`).
        Box::pin(request_id.scope(crate::crypto::work_budget::request_scope(async move {
            let response = answer.await;
            let elapsed = started.elapsed();
            if let Ok(response) = &response {
                let code = response
                    .headers()
                    .get("grpc-status")
                    .and_then(|value| value.to_str().ok())
                    .and_then(|value| value.parse::<i32>().ok())
                    .unwrap_or(0);
                shared.metrics.rpc_answered(method, code, elapsed);
                if let Some((_, sign_in)) = shared.sign_ins.iter().find(|(known, _)| *known == method) {
                    shared.metrics.sign_in(sign_in, &sign_in_result(code, response.headers()));
                }
                if shared.traced {
                    span.set_attribute("rpc.grpc.status_code", i64::from(code));
                    if SERVER_ERRORS.contains(&code) {
                        span.record("otel.status_code", "ERROR");
                    }
                }
                let latency_us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
                let method = shared.methods.name(method);
                let status = tonic::Code::from_i32(code);
                tracing::info!(target: "keyward::rpc", %method, ?status, latency_us, %request_id, "rpc");
            }
            response
        })))
    }
}

/// `ok`, or the answer's `ErrorInfo` reason in lower case (`invalid_credentials`,
/// `rate_limited`): a value of the published `ErrorReason` set, so the label stays bounded.
fn sign_in_result(code: i32, headers: &http::HeaderMap) -> String {
    if code == 0 {
        return "ok".to_owned();
    }
    crate::grpc::error_reason(headers).map_or_else(|| "unknown".to_owned(), |reason| reason.to_ascii_lowercase())
}

/// The caller's W3C `traceparent` becomes the span's parent, and the span gets OpenTelemetry's
/// RPC attributes.
fn traced_span(span: &tracing::Span, method: &str, headers: &http::HeaderMap) {
    if headers.contains_key("traceparent") {
        let parent = opentelemetry_sdk::propagation::TraceContextPropagator::new().extract(&HeaderExtractor(headers));
        let _ = span.set_parent(parent);
    }
    span.set_attribute("rpc.system", "grpc");
    if let Some((service, rpc)) = method.split_once('/') {
        span.set_attribute("rpc.service", service.to_owned());
        span.set_attribute("rpc.method", rpc.to_owned());
    }
}

struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}
