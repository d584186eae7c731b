//! Garbage is the caller's fault: random, truncated, oversized and mis-framed request bodies and
//! random metadata, sent to every RPC the descriptor set lists (so a new RPC is covered without
//! touching this file), over gRPC (HTTP/2) and grpc-web (HTTP/1.1). Never INTERNAL or UNKNOWN,
//! never a dropped connection, nothing written, and the server answers normally afterwards.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};
use keyward::pb;
use prost::Message;
use tonic::Code;

use crate::common::{Backend, PASSWORD, TestServer, login, register};

/// A small deterministic PRNG (xorshift64*): the same garbage on every run.
struct Garbage(u64);

impl Garbage {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap()
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }

    /// Visible ASCII, valid in a header value.
    fn text(&mut self, len: usize) -> String {
        (0..len).map(|_| char::from(b' ' + (self.next() % 95) as u8)).collect()
    }
}

/// `/keyward.v1.Service/Method` for every RPC in the descriptor set.
fn every_rpc() -> Vec<String> {
    let set = prost_types::FileDescriptorSet::decode(pb::FILE_DESCRIPTOR_SET).unwrap();
    let mut paths = Vec::new();
    for file in set.file {
        let package = file.package().to_owned();
        for service in &file.service {
            for method in &service.method {
                assert!(
                    !method.client_streaming(),
                    "{}: Keyward's RPCs take one request message (the envelope check relies on it)",
                    method.name()
                );
                paths.push(format!("/{package}.{}/{}", service.name(), method.name()));
            }
        }
    }
    paths
}

fn frame(flag: u8, declared_len: u32, payload: &[u8]) -> Vec<u8> {
    let mut body = vec![flag];
    body.extend_from_slice(&declared_len.to_be_bytes());
    body.extend_from_slice(payload);
    body
}

/// Bodies to try on every RPC: what is wrong with each, and the body.
fn bad_bodies(garbage: &mut Garbage, max_request_bytes: usize) -> Vec<(&'static str, Vec<u8>)> {
    let mut bodies = Vec::new();
    for _ in 0..6 {
        let len = 1 + garbage.below(200);
        let payload = garbage.bytes(len);
        bodies.push(("random payload", frame(0, len as u32, &payload)));
    }
    // A field that announces more bytes than follow: a protobuf truncated mid-field.
    bodies.push(("truncated message", frame(0, 4, &[0x0a, 0x20, b'a', b'b'])));
    for _ in 0..2 {
        let len = 8 + garbage.below(100);
        let payload = garbage.bytes(len);
        let cut = garbage.below(len);
        bodies.push(("truncated frame", frame(0, len as u32, &payload[..cut])));
    }
    bodies.push(("frame header cut short", vec![0, 0, 0]));
    bodies.push(("empty body", Vec::new()));
    bodies.push(("compressed flag without encoding", frame(1, 3, &[0x0a, 0x01, b'a'])));
    bodies.push(("invalid flag", frame(7, 0, &[])));
    bodies.push(("two frames", [frame(0, 0, &[]), frame(0, 0, &[])].concat()));
    bodies.push(("oversized declared length", frame(0, u32::MAX, &[0; 16])));
    let over = max_request_bytes + 1;
    bodies.push(("oversized message", frame(0, over as u32, &vec![b'x'; over])));
    bodies
}

/// Random metadata: odd values for headers Keyward reads, and random names.
fn random_metadata(garbage: &mut Garbage) -> Vec<(String, String)> {
    let mut headers = Vec::new();
    for name in ["authorization", "cookie", "user-agent", "x-forwarded-for", "grpc-timeout"] {
        if garbage.below(2) == 0 {
            let len = garbage.below(300);
            headers.push((name.to_owned(), garbage.text(len)));
        }
    }
    headers.push(("authorization".into(), format!("Bearer {}", garbage.text(60))));
    let name: String = (0..8).map(|_| char::from(b'a' + (garbage.next() % 26) as u8)).collect();
    let len = garbage.below(100);
    headers.push((format!("x-{name}"), garbage.text(len)));
    headers
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Transport {
    Grpc,
    GrpcWeb,
}

/// Sends one raw request and returns its grpc-status (from the headers of a trailers-only
/// answer, the HTTP/2 trailers, or the grpc-web trailer frame).
async fn send(
    client: &Client<HttpConnector, Full<Bytes>>,
    base_url: &str,
    transport: Transport,
    path: &str,
    body: Vec<u8>,
    metadata: &[(String, String)],
) -> Code {
    let content_type = match transport {
        Transport::Grpc => "application/grpc",
        Transport::GrpcWeb => "application/grpc-web+proto",
    };
    let mut request =
        http::Request::post(format!("{base_url}{path}")).header("content-type", content_type).header("te", "trailers");
    for (name, value) in metadata {
        request = request.header(name.as_str(), value.as_str());
    }
    let request = request.body(Full::new(Bytes::from(body))).unwrap();
    let response = client.request(request).await.unwrap_or_else(|err| panic!("{path}: connection failed: {err}"));
    let from_headers = response.headers().get("grpc-status").map(|v| v.to_str().unwrap().parse::<i32>().unwrap());
    let collected = response.into_body().collect().await.unwrap_or_else(|err| panic!("{path}: body failed: {err}"));
    let from_trailers =
        collected.trailers().and_then(|t| t.get("grpc-status")).map(|v| v.to_str().unwrap().parse::<i32>().unwrap());
    let body = collected.to_bytes();
    let from_web_trailer = || {
        // grpc-web: frames of flag(1) len(4) payload; the trailer frame has flag 0x80.
        let mut rest = &body[..];
        while rest.len() >= 5 {
            let len = u32::from_be_bytes(rest[1..5].try_into().unwrap()) as usize;
            let (head, payload) = (rest[0], &rest[5..5 + len]);
            if head & 0x80 != 0 {
                let text = String::from_utf8_lossy(payload);
                return text
                    .lines()
                    .find_map(|line| line.strip_prefix("grpc-status:").map(|v| v.trim().parse::<i32>().unwrap()));
            }
            rest = &rest[5 + len..];
        }
        None
    };
    let status = from_headers.or(from_trailers).or_else(from_web_trailer);
    Code::from_i32(status.unwrap_or_else(|| panic!("{path} ({transport:?}): no grpc-status in the answer")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_to_every_rpc_is_the_callers_fault() {
    let server = TestServer::start(Backend::Sqlite).await;
    let mut auth = server.auth().await;
    let signed_in = register(&mut auth, "fuzz@example.com").await;
    let store = server.app.services().store().clone();
    let before = store.row_counts().await.unwrap();

    let rpcs = every_rpc();
    assert!(rpcs.len() >= 20, "the descriptor set lists every RPC: {rpcs:?}");
    let grpc = Client::builder(TokioExecutor::new()).http2_only(true).build_http();
    let web = Client::builder(TokioExecutor::new()).build_http();
    let base_url = server.base_url();
    let mut garbage = Garbage(0x5eed_cafe_f00d_beef);
    let (mut calls, mut answered_ok) = (0, 0);
    for path in &rpcs {
        for (what, body) in bad_bodies(&mut garbage, server.config.max_request_bytes) {
            for transport in [Transport::Grpc, Transport::GrpcWeb] {
                let mut metadata = random_metadata(&mut garbage);
                if garbage.below(2) == 0 {
                    // Half the calls carry a real session: garbage from a signed-in caller too.
                    metadata.retain(|(name, _)| name != "authorization");
                    metadata.push(("authorization".into(), format!("Bearer {}", signed_in.session_token)));
                }
                let client = if transport == Transport::Grpc { &grpc } else { &web };
                let code = send(client, &base_url, transport, path, body.clone(), &metadata).await;
                calls += 1;
                assert!(
                    !matches!(code, Code::Internal | Code::Unknown),
                    "{path} ({transport:?}, {what}): answered {code:?}"
                );
                match what {
                    "random payload" => answered_ok += usize::from(code == Code::Ok),
                    "oversized message" | "oversized declared length" => {
                        assert_eq!(code, Code::OutOfRange, "{path} ({transport:?}, {what})");
                    }
                    _ => assert_eq!(code, Code::InvalidArgument, "{path} ({transport:?}, {what})"),
                }
            }
        }
    }
    eprintln!("{calls} garbage calls to {} RPCs, {answered_ok} random payloads happened to decode", rpcs.len());

    // Nothing was written: a random payload that decodes to a valid anonymous Start call may
    // create a ceremony (one per such answer), nothing else.
    let after = store.row_counts().await.unwrap();
    assert!(after.ceremonies - before.ceremonies <= answered_ok as u64);
    assert_eq!(
        (after.users, after.sessions, after.accounts, after.authenticators, after.audit_events),
        (before.users, before.sessions, before.accounts, before.authenticators, before.audit_events)
    );
    // And the server still answers normally.
    login(&mut auth, "fuzz@example.com", PASSWORD).await.unwrap();
    server.stop().await;
}
