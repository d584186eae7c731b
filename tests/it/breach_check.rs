//! The breached-password check against a k-anonymity range server this test starts (real HTTP,
//! Have I Been Pwned's `/range/{first five hex digits of SHA-1}` protocol): a listed password is
//! refused (PASSWORD_TOO_COMMON on the field, nothing written) by Register and ChangePassword;
//! only the prefix leaves Keyward, with `Add-Padding: true`; a padding line (count 0) is no hit;
//! a range server that fails or hangs does not stop anyone (failing open, within the timeout);
//! a caller over its budget never reaches the range server.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use aws_lc_rs::digest;
use axum::{
    Router,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    routing::get,
};
use keyward::{
    config::{RateBudget, RateLimits},
    pb,
};
use tonic::Code;

use crate::common::{Backend, PASSWORD, TestServer, bearer, reason, register, violations};

const BREACHED: &str = "correct-horse-battery-staple-1";
const PADDED: &str = "amber-quokka-fjord-velvet-81";
const FRESH: &str = "saffron-glacier-motet-4417";

/// How the range server answers.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Answer,
    Fail,
    Hang,
}

/// One range request as the server saw it: the path's last segment and `Add-Padding`.
type Seen = (String, Option<String>);

#[derive(Clone)]
struct RangeServer {
    bodies: Arc<HashMap<String, String>>,
    seen: Arc<Mutex<Vec<Seen>>>,
    mode: Arc<Mutex<Mode>>,
}

fn sha1_hex(password: &str) -> String {
    digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, password.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

impl RangeServer {
    /// Lists BREACHED (count 42) and PADDED only as padding (count 0), each among decoys.
    async fn start() -> (Self, SocketAddr) {
        let mut bodies = HashMap::new();
        let (breached, padded) = (sha1_hex(BREACHED), sha1_hex(PADDED));
        bodies.insert(
            breached[..5].to_owned(),
            format!("00000A1B2C3D4E5F60718293A4B5C6D7E8F:3\r\n{}:42\r\n", &breached[5..]),
        );
        bodies
            .insert(padded[..5].to_owned(), format!("{}:0\r\nFFFFFA1B2C3D4E5F60718293A4B5C6D7E8F:0\r\n", &padded[5..]));
        let server = Self { bodies: Arc::new(bodies), seen: Arc::default(), mode: Arc::new(Mutex::new(Mode::Answer)) };
        let app = Router::new().route("/range/{prefix}", get(range)).with_state(server.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (server, addr)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn set_mode(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }
}

async fn range(
    State(server): State<RangeServer>,
    Path(prefix): Path<String>,
    headers: HeaderMap,
) -> (StatusCode, String) {
    let padding = headers.get("add-padding").and_then(|value| value.to_str().ok()).map(str::to_owned);
    server.seen.lock().unwrap().push((prefix.clone(), padding));
    let mode = *server.mode.lock().unwrap();
    match mode {
        Mode::Answer => (StatusCode::OK, server.bodies.get(&prefix).cloned().unwrap_or_default()),
        Mode::Fail => (StatusCode::SERVICE_UNAVAILABLE, String::new()),
        Mode::Hang => std::future::pending().await,
    }
}

async fn server_checking(addr: SocketAddr, tweak: impl FnOnce(&mut keyward::config::Config)) -> TestServer {
    TestServer::start_with(Backend::Sqlite, |config| {
        config.password.breach_check_url = Some(format!("http://{addr}/range/"));
        config.password.breach_check_timeout_ms = 300;
        tweak(config);
    })
    .await
}

fn register_request(email: &str, password: &str) -> pb::RegisterRequest {
    pb::RegisterRequest { email: email.into(), password: password.into(), name: String::new() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn breached_passwords_are_refused_by_prefix_only() {
    let (range_server, addr) = RangeServer::start().await;
    let server = server_checking(addr, |_| {}).await;
    let mut auth = server.auth().await;
    let store = server.app.services().store().clone();

    let before = store.row_counts().await.unwrap();
    let refused = auth.register(register_request("ada@example.com", BREACHED)).await.unwrap_err();
    assert_eq!((refused.code(), reason(&refused).as_str()), (Code::InvalidArgument, "PASSWORD_TOO_COMMON"));
    assert!(violations(&refused)["password"].contains("breach"), "{:?}", violations(&refused));
    assert_eq!(store.row_counts().await.unwrap(), before, "nothing written");
    // Only the five-digit prefix left Keyward, and padding was asked for.
    assert_eq!(range_server.seen(), [(sha1_hex(BREACHED)[..5].to_owned(), Some("true".to_owned()))]);

    // A suffix present only as padding (count 0) is no hit; an unlisted one neither.
    auth.register(register_request("grace@example.com", PADDED)).await.unwrap();
    let me = register(&mut auth, "alan@example.com").await;
    assert_eq!(range_server.seen().len(), 3);
    assert!(range_server.seen().iter().all(|(prefix, _)| prefix.len() == 5), "never more than the prefix");

    // ChangePassword checks the new password the same way (after the current one).
    let change = |new: &str| {
        bearer(
            pb::ChangePasswordRequest { current_password: PASSWORD.into(), new_password: new.into() },
            &me.session_token,
        )
    };
    let refused = auth.change_password(change(BREACHED)).await.unwrap_err();
    assert_eq!(reason(&refused), "PASSWORD_TOO_COMMON");
    assert!(violations(&refused).contains_key("new_password"));
    auth.change_password(change(FRESH)).await.unwrap();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_or_hanging_range_server_does_not_stop_a_sign_up() {
    let (range_server, addr) = RangeServer::start().await;
    let server = server_checking(addr, |_| {}).await;
    let mut auth = server.auth().await;

    range_server.set_mode(Mode::Fail);
    auth.register(register_request("ada@example.com", BREACHED)).await.expect("fails open on an error answer");

    range_server.set_mode(Mode::Hang);
    let started = Instant::now();
    auth.register(register_request("grace@example.com", BREACHED)).await.expect("fails open on a timeout");
    let waited = started.elapsed();
    eprintln!("a hanging range server cost the sign-up {waited:?} (timeout 300 ms)");
    assert!(waited >= Duration::from_millis(300) && waited < Duration::from_secs(5), "{waited:?}");
    assert_eq!(range_server.seen().len(), 2);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_over_its_budget_never_reaches_the_range_server() {
    let (range_server, addr) = RangeServer::start().await;
    let server = server_checking(addr, |config| {
        config.rate_limits =
            RateLimits { enabled: true, register: RateBudget { per_minute: 1, burst: 1 }, ..RateLimits::default() };
    })
    .await;
    let mut auth = server.auth().await;
    auth.register(register_request("ada@example.com", FRESH)).await.unwrap();
    let refused = auth.register(register_request("grace@example.com", FRESH)).await.unwrap_err();
    assert_eq!((refused.code(), reason(&refused).as_str()), (Code::ResourceExhausted, "RATE_LIMITED"));
    assert_eq!(range_server.seen().len(), 1, "the refused call made no outbound request");
    server.stop().await;
}
