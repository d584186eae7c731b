//! OpenTelemetry traces from the `keyward` binary to an OTLP receiver this test runs, over both
//! OTLP protocols (gRPC: the collector's own service; HTTP/protobuf: `POST /v1/traces`), set up
//! only by the standard `OTEL_*` variables. One Login sent with a W3C `traceparent` must arrive
//! as a server span named after the RPC, child of the caller's span, in the caller's trace, with
//! the call's request id — and under it database statement spans and the hashing pool's wait and
//! work spans.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Stdio},
    time::Duration,
};

use keyward::pb;
use opentelemetry_proto::tonic::{
    collector::trace::v1::{
        ExportTraceServiceRequest, ExportTraceServiceResponse,
        trace_service_server::{TraceService, TraceServiceServer},
    },
    common::v1::any_value::Value,
    trace::v1::{Span, span::SpanKind},
};
use prost::Message;
use tokio::sync::mpsc;

use crate::{cli::keyward, common::PASSWORD};

/// The caller's trace and span (W3C trace context, sampled).
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN_ID: &str = "00f067aa0ba902b7";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_is_one_trace_under_the_callers_traceparent_over_grpc() {
    let (endpoint, spans) = grpc_receiver().await;
    login_is_traced("grpc", &endpoint, spans).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_is_one_trace_under_the_callers_traceparent_over_http() {
    let (endpoint, spans) = http_receiver().await;
    login_is_traced("http/protobuf", &endpoint, spans).await;
}

struct Collector(mpsc::UnboundedSender<ExportTraceServiceRequest>);

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let _ = self.0.send(request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

/// The OTLP/gRPC trace service on 127.0.0.1.
async fn grpc_receiver() -> (String, mpsc::UnboundedReceiver<ExportTraceServiceRequest>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let (sender, received) = mpsc::unbounded_channel();
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(Collector(sender)))
            .serve_with_incoming(incoming),
    );
    (endpoint, received)
}

/// OTLP/HTTP: protobuf bodies POSTed to `/v1/traces`.
async fn http_receiver() -> (String, mpsc::UnboundedReceiver<ExportTraceServiceRequest>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let (sender, received) = mpsc::unbounded_channel();
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |body: bytes::Bytes| {
            let sender = sender.clone();
            async move {
                let request = ExportTraceServiceRequest::decode(body).unwrap();
                let _ = sender.send(request);
                ([("content-type", "application/x-protobuf")], ExportTraceServiceResponse::default().encode_to_vec())
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (endpoint, received)
}

/// `keyward serve` exporting to `endpoint`, past its "serving" line.
fn serve_traced(protocol: &str, endpoint: &str, data_dir: &std::path::Path) -> (Child, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = keyward()
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(data_dir)
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
        .env("OTEL_SERVICE_NAME", "keyward-under-test")
        // Batches leave every 100 ms rather than 5 s; the test waits on their arrival.
        .env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .env("KEYWARD_ARGON2_MEMORY_KIB", "256")
        .env("KEYWARD_ARGON2_ITERATIONS", "1")
        // The test registers and signs in at once.
        .env("KEYWARD_REQUIRE_EMAIL_VERIFICATION", "false")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let serving = lines.by_ref().map_while(Result::ok).any(|line| line.contains("keyward is serving"));
    assert!(serving, "keyward never said it was serving");
    // Keep draining the log so the child never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (child, port)
}

async fn login_is_traced(
    protocol: &str,
    endpoint: &str,
    mut received: mpsc::UnboundedReceiver<ExportTraceServiceRequest>,
) {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, port) = serve_traced(protocol, endpoint, dir.path());
    let mut auth =
        pb::auth_service_client::AuthServiceClient::connect(format!("http://127.0.0.1:{port}")).await.unwrap();
    crate::common::register(&mut auth, "traced@example.com").await;
    let mut login =
        tonic::Request::new(pb::LoginRequest { email: "traced@example.com".into(), password: PASSWORD.into() });
    login.metadata_mut().insert("traceparent", format!("00-{TRACE_ID}-{CALLER_SPAN_ID}-01").parse().unwrap());
    auth.login(login).await.unwrap();

    // Spans arrive in batches, in no particular order: gather the caller's trace until it holds
    // the RPC span and its children (the timeout is a guard against a hang, not a delay).
    let mut trace: Vec<Span> = Vec::new();
    let mut service_names = Vec::new();
    let complete = |trace: &[Span]| {
        let Some(rpc) = trace.iter().find(|span| span.name == "keyward.v1.AuthService/Login") else { return false };
        let under_rpc =
            |name: &str| trace.iter().any(|span| span.name.starts_with(name) && descends_from(trace, span, rpc));
        under_rpc("sea_orm.") && under_rpc("hash_pool.wait") && under_rpc("hash_pool.work")
    };
    while !complete(&trace) {
        let batch = tokio::time::timeout(Duration::from_secs(30), received.recv())
            .await
            .unwrap_or_else(|_| panic!("no complete trace within 30 s; got {:#?}", names(&trace)))
            .unwrap();
        for resource_spans in batch.resource_spans {
            if let Some(resource) = &resource_spans.resource {
                service_names.extend(resource.attributes.iter().filter(|a| a.key == "service.name").map(string_value));
            }
            for scope in resource_spans.scope_spans {
                trace.extend(scope.spans.into_iter().filter(|span| hex(&span.trace_id) == TRACE_ID));
            }
        }
    }
    let rpc = trace.iter().find(|span| span.name == "keyward.v1.AuthService/Login").unwrap();
    assert_eq!(hex(&rpc.parent_span_id), CALLER_SPAN_ID, "the caller's span is the parent");
    assert_eq!(rpc.kind, SpanKind::Server as i32);
    let attribute = |key: &str| rpc.attributes.iter().find(|a| a.key == key).map(string_value);
    assert_eq!(attribute("rpc.system").as_deref(), Some("grpc"));
    assert_eq!(attribute("rpc.method").as_deref(), Some("Login"));
    assert_eq!(attribute("request_id").map(|id| id.len()), Some(24), "the request id is on the span");
    let db = trace.iter().find(|span| span.name.starts_with("sea_orm.")).unwrap();
    assert!(db.attributes.iter().any(|a| a.key == "db.system"), "{db:?}");
    assert!(service_names.iter().all(|name| name == "keyward-under-test"), "{service_names:?}");
    assert!(!format!("{trace:?}").contains(PASSWORD), "no request bodies in spans");

    let stopped = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(stopped.success());
    assert!(child.wait().unwrap().success());
}

/// Whether `span` is `ancestor` or below it, following parent ids within `trace`.
fn descends_from(trace: &[Span], span: &Span, ancestor: &Span) -> bool {
    let mut current = span;
    for _ in 0..trace.len() {
        if current.span_id == ancestor.span_id {
            return true;
        }
        match trace.iter().find(|parent| parent.span_id == current.parent_span_id) {
            Some(parent) => current = parent,
            None => return false,
        }
    }
    false
}

fn names(trace: &[Span]) -> Vec<&str> {
    trace.iter().map(|span| span.name.as_str()).collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn string_value(attribute: &opentelemetry_proto::tonic::common::v1::KeyValue) -> String {
    match attribute.value.as_ref().and_then(|value| value.value.as_ref()) {
        Some(Value::StringValue(text)) => text.clone(),
        Some(Value::IntValue(number)) => number.to_string(),
        other => format!("{other:?}"),
    }
}
