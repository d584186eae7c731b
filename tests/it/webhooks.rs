//! Webhooks against a real receiver: `tests/webhooks/receiver.mjs` (Node), which verifies every
//! delivery with the Standard Webhooks reference library (npm `standardwebhooks`) and checks that
//! a tampered copy fails. Events arrive signed and, per user, in order; a receiver that is down
//! gets every event after retries, across a Keyward restart; a delivery that keeps failing is
//! dead-lettered, listed by AdminService and retried from there; a redirect is not followed; two
//! replicas deliver each event once and in order; a metadata address or an unknown event stops
//! the start. Waiting is on the outbox's own event feed (each retry is made due by moving the
//! service clock, then waking the sender).

use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Child, Command, Stdio},
    time::Duration,
};

use base64::Engine;
use keyward::{
    App,
    config::WebhookConfig,
    domain::ApiScope,
    pb,
    service::{Services, outbox::OutboxEvent},
};
use serde_json::Value;
use tokio::sync::broadcast;

use crate::{
    admin::{admin, key},
    common::{Backend, PASSWORD, TestServer, bearer, both_backends, login, reason, register, test_config},
};

both_backends!(
    events_arrive_signed_and_in_order,
    a_receiver_that_is_down_gets_everything_in_order_after_retries_and_a_restart,
    deliveries_that_keep_failing_are_dead_lettered_listed_and_retried,
    a_redirect_is_not_followed,
    two_replicas_deliver_each_event_once_and_in_order,
);

/// The longest a test waits for one outbox event (a guard against a hang, not a delay).
const EVENT_WAIT: Duration = Duration::from_secs(30);

/// The receiver process, killed when dropped.
pub(crate) struct Receiver {
    child: Child,
    port: u16,
    pub(crate) secret: String,
    http: reqwest::Client,
}

impl Receiver {
    pub(crate) fn start() -> Self {
        Self::start_on(0, &new_secret())
    }

    /// On `port` (0: any), with `secret`.
    fn start_on(port: u16, secret: &str) -> Self {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/webhooks");
        assert!(
            dir.join("node_modules/standardwebhooks").is_dir(),
            "the webhook receiver is not installed: npm ci --prefix tests/webhooks (scripts/test does this)"
        );
        let mut child = Command::new("node")
            .arg(dir.join("receiver.mjs"))
            .arg(secret)
            .arg(port.to_string())
            .stdout(Stdio::piped())
            .spawn()
            .expect("node");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let ready: Value = serde_json::from_str(&line).unwrap_or_else(|_| panic!("receiver said {line:?}"));
        let port = u16::try_from(ready["port"].as_u64().unwrap()).unwrap();
        Self { child, port, secret: secret.to_owned(), http: reqwest::Client::new() }
    }

    /// A host name, not an IP literal, so deliveries go through Keyward's guarded resolver.
    pub(crate) fn url(&self) -> String {
        format!("http://localhost:{}/hook", self.port)
    }

    pub(crate) async fn set_mode(&self, mode: &str) {
        let url = format!("http://127.0.0.1:{}/control?mode={mode}", self.port);
        assert!(self.http.post(url).send().await.unwrap().status().is_success());
    }

    pub(crate) async fn received(&self) -> Value {
        let url = format!("http://127.0.0.1:{}/received", self.port);
        self.http.get(url).send().await.unwrap().json().await.unwrap()
    }

    /// The deliveries the receiver accepted (204), in arrival order.
    pub(crate) async fn accepted(&self) -> Vec<Value> {
        let received = self.received().await;
        received["deliveries"].as_array().unwrap().iter().filter(|d| d["answered"] == 204).cloned().collect()
    }

    /// Waits (bounded by `EVENT_WAIT`) until the receiver accepted `n` deliveries: the receiver
    /// answers once it has them.
    pub(crate) async fn wait_accepted(&self, n: usize) {
        let url = format!("http://127.0.0.1:{}/wait?accepted={n}", self.port);
        let answer = tokio::time::timeout(EVENT_WAIT, self.http.get(url).send()).await;
        let answer = answer.unwrap_or_else(|_| panic!("{n} accepted deliveries within {EVENT_WAIT:?}")).unwrap();
        assert!(answer.status().is_success());
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh Standard Webhooks secret.
pub(crate) fn new_secret() -> String {
    let mut random = [0u8; 32];
    aws_lc_rs::rand::fill(&mut random).unwrap();
    format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode(random))
}

/// `[[webhooks]]` to `url` with `secret`; retries due one second after a failure.
fn configure_endpoint(config: &mut keyward::Config, url: String, secret: &str, events: &[&str], max_attempts: u32) {
    let secret_file = config.data_dir.join("webhook.secret");
    std::fs::write(&secret_file, format!("{secret}\n")).unwrap();
    config.webhooks =
        vec![WebhookConfig { url, events: events.iter().map(|name| (*name).to_owned()).collect(), secret_file }];
    config.webhook_delivery.retry_initial_secs = 1;
    config.webhook_delivery.retry_max_secs = 1;
    config.webhook_delivery.max_attempts = max_attempts;
}

/// Retries due one second after a failure; `max_attempts` attempts.
fn configure(config: &mut keyward::Config, receiver: &Receiver, events: &[&str], max_attempts: u32) {
    configure_endpoint(config, receiver.url(), &receiver.secret, events, max_attempts);
}

async fn next_event(events: &mut broadcast::Receiver<OutboxEvent>) -> OutboxEvent {
    tokio::time::timeout(EVENT_WAIT, events.recv()).await.expect("an outbox event").expect("the event feed")
}

/// Collects events until `done` says so (or a Dead event, which no caller of this expects).
async fn until(events: &mut broadcast::Receiver<OutboxEvent>, mut done: impl FnMut(&OutboxEvent) -> bool) {
    loop {
        let event = next_event(events).await;
        assert!(!matches!(event, OutboxEvent::Dead { .. }), "unexpected {event:?}");
        if done(&event) {
            return;
        }
    }
}

/// Waits for `n` deliveries.
async fn delivered(events: &mut broadcast::Receiver<OutboxEvent>, n: usize) {
    let mut seen = 0;
    until(events, |event| {
        seen += usize::from(matches!(event, OutboxEvent::Delivered { .. }));
        seen == n
    })
    .await;
}

/// Waits for `n` failures of attempt `attempt` (each to be retried).
async fn failed(events: &mut broadcast::Receiver<OutboxEvent>, attempt: i32, n: usize) {
    let mut seen = 0;
    until(events, |event| {
        seen += usize::from(matches!(event, OutboxEvent::WillRetry { attempt: a, .. } if *a == attempt));
        seen == n
    })
    .await;
}

/// Moves time past the retry delay and wakes the sender.
fn retry_now(server: &TestServer, services: &Services) {
    server.clock.advance(Duration::from_secs(2));
    services.outbox().wake();
}

fn event_types(deliveries: &[Value], user_id: &str) -> Vec<String> {
    deliveries
        .iter()
        .filter(|d| d["event"]["data"]["user_id"] == user_id || d["event"]["data"]["id"] == user_id)
        .map(|d| d["event"]["type"].as_str().unwrap().to_owned())
        .collect()
}

async fn list_deliveries(server: &TestServer, key: &str, state: pb::WebhookDeliveryState) -> Vec<pb::WebhookDelivery> {
    let request = pb::ListWebhookDeliveriesRequest { state: state.into(), page_size: 100, ..Default::default() };
    admin(server).await.list_webhook_deliveries(bearer(request, key)).await.unwrap().into_inner().webhook_deliveries
}

async fn events_arrive_signed_and_in_order(backend: Backend) {
    let receiver = Receiver::start();
    let server = TestServer::start_with(backend, |config| configure(config, &receiver, &["*"], 10)).await;
    let services = server.app.services().clone();
    let mut events = services.outbox().subscribe();
    let mut auth = server.auth().await;

    let ada = register(&mut auth, "ada@example.com").await;
    let ada_id = ada.user.as_ref().unwrap().id.clone();
    let update = pb::UpdateUserRequest { name: "Ada L.".into() };
    auth.update_user(bearer(update, &ada.session_token)).await.unwrap();
    let second = login(&mut auth, "ada@example.com", PASSWORD).await.unwrap();
    auth.logout(bearer(pb::LogoutRequest {}, &second.session_token)).await.unwrap();
    // Not subscribed ("*" leaves out the opt-in signin.failed): nothing is even queued.
    assert!(login(&mut auth, "ada@example.com", "wrong-password-42").await.is_err());
    delivered(&mut events, 5).await;

    let accepted = receiver.accepted().await;
    assert_eq!(
        event_types(&accepted, &ada_id),
        ["user.created", "session.created", "user.updated", "session.created", "session.revoked"]
    );
    for delivery in &accepted {
        assert_eq!(delivery["verified"], true, "{delivery}");
        assert_eq!(delivery["tampered_verified"], false, "a tampered body must not verify: {delivery}");
        assert!(delivery["id"].as_str().unwrap().starts_with("msg_"), "{delivery}");
        assert!(delivery["event"]["timestamp"].is_string(), "{delivery}");
    }
    let created = &accepted[0]["event"];
    assert_eq!(created["data"]["email"], "ada@example.com");
    assert_eq!(accepted[4]["event"]["data"]["id"], second.session.as_ref().unwrap().id);
    // No secret in any body: not the session tokens, not a hash.
    let bodies = serde_json::to_string(&accepted).unwrap();
    for secret in [&ada.session_token, &second.session_token] {
        assert!(!bodies.contains(secret.as_str()));
    }
    assert!(!bodies.contains("argon2") && !bodies.contains("token"), "{bodies}");
    let root = key(&server, &[ApiScope::WebhooksManage]).await;
    assert!(list_deliveries(&server, &root, pb::WebhookDeliveryState::Waiting).await.is_empty());
    assert_eq!(receiver.received().await["deliveries"].as_array().unwrap().len(), 5, "each event once");
    server.stop().await;
}

async fn a_receiver_that_is_down_gets_everything_in_order_after_retries_and_a_restart(backend: Backend) {
    // Down: nothing listens on the receiver's port yet (it starts there later).
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let secret = new_secret();
    let url = format!("http://localhost:{port}/hook");
    let server = TestServer::start_with(backend, |config| configure_endpoint(config, url, &secret, &["*"], 10)).await;
    let services = server.app.services().clone();
    let mut events = services.outbox().subscribe();
    let mut auth = server.auth().await;
    let ada = register(&mut auth, "ada@example.com").await;
    let grace = register(&mut auth, "grace@example.com").await;
    let update = pb::UpdateUserRequest { name: "Ada L.".into() };
    auth.update_user(bearer(update, &ada.session_token)).await.unwrap();
    // Each user's first event fails; the later ones wait behind it (per-user order).
    failed(&mut events, 1, 2).await;
    retry_now(&server, &services);
    failed(&mut events, 2, 2).await;
    let key = key(&server, &[ApiScope::WebhooksManage]).await;
    let waiting = list_deliveries(&server, &key, pb::WebhookDeliveryState::Waiting).await;
    assert_eq!(waiting.len(), 5, "{waiting:?}");
    let tried: Vec<_> = waiting.iter().filter(|d| d.attempts == 2).collect();
    assert_eq!(tried.len(), 2, "only the heads were tried: {waiting:?}");
    assert!(tried.iter().all(|d| d.event_type == "user.created" && d.last_error.contains("error sending request")));

    // Keyward restarts while the receiver is still down; the events are rows, not memory.
    let TestServer { app, clock, config, db } = server;
    app.shutdown().await.unwrap();
    let receiver = Receiver::start_on(port, &secret);
    let listener = tokio::net::TcpListener::bind(config.listen).await.unwrap();
    let app = App::spawn_with_clock(config.clone(), listener, clock.clone()).await.unwrap();
    let server = TestServer { app, clock, config, db };
    let services = server.app.services().clone();
    let mut events = services.outbox().subscribe();
    retry_now(&server, &services);
    delivered(&mut events, 5).await;

    let accepted = receiver.accepted().await;
    let ada_id = ada.user.as_ref().unwrap().id.as_str();
    let grace_id = grace.user.as_ref().unwrap().id.as_str();
    assert_eq!(event_types(&accepted, ada_id), ["user.created", "session.created", "user.updated"]);
    assert_eq!(event_types(&accepted, grace_id), ["user.created", "session.created"]);
    assert!(accepted.iter().all(|d| d["verified"] == true && d["tampered_verified"] == false));
    assert_eq!(receiver.received().await["deliveries"].as_array().unwrap().len(), 5, "each event once");
    assert!(list_deliveries(&server, &key, pb::WebhookDeliveryState::Waiting).await.is_empty());
    server.stop().await;
}

async fn deliveries_that_keep_failing_are_dead_lettered_listed_and_retried(backend: Backend) {
    let receiver = Receiver::start();
    receiver.set_mode("fail").await;
    let events_wanted = ["user.created", "signin.failed"];
    let server = TestServer::start_with(backend, |config| configure(config, &receiver, &events_wanted, 2)).await;
    let services = server.app.services().clone();
    let mut events = services.outbox().subscribe();
    let mut auth = server.auth().await;
    let ada = register(&mut auth, "ada@example.com").await;
    // Opted in by name: a failed sign-in is an event too (for an unknown address, no user).
    assert!(login(&mut auth, "nobody@example.com", "wrong-password-42").await.is_err());
    failed(&mut events, 1, 2).await;
    retry_now(&server, &services);
    let mut dead = Vec::new();
    while dead.len() < 2 {
        match next_event(&mut events).await {
            OutboxEvent::Dead { id, attempt: 2 } => dead.push(id),
            other => panic!("unexpected {other:?}"),
        }
    }

    let key = key(&server, &[ApiScope::WebhooksManage]).await;
    let listed = list_deliveries(&server, &key, pb::WebhookDeliveryState::Dead).await;
    let mut types: Vec<&str> = listed.iter().map(|d| d.event_type.as_str()).collect();
    types.sort_unstable();
    assert_eq!(types, ["signin.failed", "user.created"]);
    for delivery in &listed {
        assert_eq!(delivery.state(), pb::WebhookDeliveryState::Dead);
        assert_eq!((delivery.attempts, delivery.last_error.as_str()), (2, "HTTP 503 Service Unavailable"));
        assert_eq!(delivery.endpoint_url, receiver.url());
        assert!(delivery.dead_time.is_some() && delivery.next_attempt_time.is_none());
    }
    let mut client = admin(&server).await;
    let by_type = pb::ListWebhookDeliveriesRequest {
        state: pb::WebhookDeliveryState::Dead.into(),
        event_type: "user.created".into(),
        ..Default::default()
    };
    let created = client.list_webhook_deliveries(bearer(by_type, &key)).await.unwrap().into_inner().webhook_deliveries;
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].user_id, ada.user.as_ref().unwrap().id);
    assert!(list_deliveries(&server, &key, pb::WebhookDeliveryState::Waiting).await.is_empty());

    // The receiver is back: an operator retries one; it goes at once, and is delivered.
    receiver.set_mode("accept").await;
    let retry = pb::RetryWebhookDeliveryRequest { delivery_id: created[0].id.clone() };
    client.retry_webhook_delivery(bearer(retry.clone(), &key)).await.unwrap();
    assert_eq!(next_event(&mut events).await, OutboxEvent::Delivered { id: created[0].id.clone(), attempt: 3 });
    let accepted = receiver.accepted().await;
    assert_eq!(accepted.len(), 1);
    assert_eq!(accepted[0]["event"]["type"], "user.created");
    assert_eq!(accepted[0]["verified"], true);
    // Every attempt was the same message: the id a receiver deduplicates on never changes.
    let received = receiver.received().await;
    let attempts: Vec<&Value> = received["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["event"]["type"] == "user.created")
        .map(|d| &d["id"])
        .collect();
    assert_eq!(attempts.len(), 3, "two failures, then the retry: {received}");
    assert!(attempts.iter().all(|id| *id == &accepted[0]["id"]), "{received}");
    let status = client.retry_webhook_delivery(bearer(retry, &key)).await.unwrap_err();
    assert_eq!(reason(&status), "WEBHOOK_DELIVERY_NOT_FOUND", "a delivered one is gone");
    let left = list_deliveries(&server, &key, pb::WebhookDeliveryState::Dead).await;
    assert_eq!(left.iter().map(|d| d.event_type.as_str()).collect::<Vec<_>>(), ["signin.failed"]);
    let auditor = crate::admin::key(&server, &[ApiScope::AuditRead]).await;
    let audit = pb::ListAuditEventsRequest { kind: "admin.webhook_delivery.retried".into(), ..Default::default() };
    let retried = client.list_audit_events(bearer(audit, &auditor)).await.unwrap().into_inner().audit_events;
    assert_eq!(retried.len(), 1, "the retry is audited with its key");
    assert!(retried[0].detail_json.contains(&created[0].id));
    server.stop().await;
}

async fn a_redirect_is_not_followed(backend: Backend) {
    let receiver = Receiver::start();
    receiver.set_mode("redirect").await;
    let server = TestServer::start_with(backend, |config| configure(config, &receiver, &["user.created"], 10)).await;
    let services = server.app.services().clone();
    let mut events = services.outbox().subscribe();
    let mut auth = server.auth().await;
    register(&mut auth, "ada@example.com").await;
    assert!(matches!(next_event(&mut events).await, OutboxEvent::WillRetry { attempt: 1, .. }));
    let key = key(&server, &[ApiScope::WebhooksManage]).await;
    let waiting = list_deliveries(&server, &key, pb::WebhookDeliveryState::Waiting).await;
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0].last_error, "HTTP 302 Found: redirects are not followed");
    let received = receiver.received().await;
    assert_eq!(received["followed_redirects"], 0, "{received}");
    assert_eq!(received["deliveries"].as_array().unwrap().len(), 1);
    server.stop().await;
}

async fn two_replicas_deliver_each_event_once_and_in_order(backend: Backend) {
    const USERS: usize = 8;
    let receiver = Receiver::start();
    let server = TestServer::start_with(backend, |config| configure(config, &receiver, &["*"], 10)).await;
    let replica = server.start_replica().await;
    let (one, two) = (server.app.services().clone(), replica.services().clone());
    let (mut events_one, mut events_two) = (one.outbox().subscribe(), two.outbox().subscribe());
    let mut auth_one = server.auth().await;
    let mut auth_two =
        keyward::pb::auth_service_client::AuthServiceClient::connect(format!("http://{}", replica.local_addr()))
            .await
            .unwrap();
    let mut ids = Vec::new();
    for n in 0..USERS {
        // Each user's events are written on both replicas, and both senders race for them.
        let signed_in = register(&mut auth_one, &format!("user{n}@example.com")).await;
        let update = pb::UpdateUserRequest { name: format!("User {n}") };
        auth_two.update_user(bearer(update, &signed_in.session_token)).await.unwrap();
        ids.push(signed_in.user.unwrap().id);
        one.outbox().wake();
        two.outbox().wake();
    }
    let mut delivered = Vec::new();
    while delivered.len() < USERS * 3 {
        let event = tokio::select! {
            event = next_event(&mut events_one) => event,
            event = next_event(&mut events_two) => event,
        };
        match event {
            OutboxEvent::Delivered { id, .. } => delivered.push(id),
            other => panic!("unexpected {other:?}"),
        }
    }
    delivered.sort();
    delivered.dedup();
    assert_eq!(delivered.len(), USERS * 3, "each event delivered by exactly one replica");
    let received = receiver.received().await;
    assert_eq!(received["deliveries"].as_array().unwrap().len(), USERS * 3, "nothing twice: {received}");
    let accepted = receiver.accepted().await;
    for id in &ids {
        assert_eq!(event_types(&accepted, id), ["user.created", "session.created", "user.updated"]);
    }
    replica.shutdown().await.unwrap();
    server.stop().await;
}

/// Starts a server with one `[[webhooks]]` entry; the error it stops with.
async fn start_error(url: &str, events: &[&str]) -> String {
    let db = crate::common::TestDb::create(Backend::Sqlite).await;
    let mut config = test_config(&db);
    let secret_file = db.data_dir.join("webhook.secret");
    std::fs::write(&secret_file, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    config.webhooks =
        vec![WebhookConfig { url: url.into(), events: events.iter().map(|e| (*e).to_owned()).collect(), secret_file }];
    let listener = tokio::net::TcpListener::bind(config.listen).await.unwrap();
    match App::spawn(config, listener).await {
        Ok(app) => panic!("started with {url} {events:?} ({:?})", app.local_addr()),
        Err(err) => err.to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_addresses_and_unknown_events_stop_the_start() {
    for url in [
        "https://169.254.169.254/latest/meta-data/",
        "https://[fd00:ec2::254]/",
        "http://100.100.100.200/",
        "https://[64:ff9b::a9fe:a9fe]/",
        "https://[2002:a9fe:a9fe::]/",
        "https://[::a9fe:a9fe]/",
        "http://0.0.0.0:8080/",
        "https://[::]/",
        "https://192.0.0.192/",
        "https://168.63.129.16/",
    ] {
        let error = start_error(url, &["user.created"]).await;
        assert!(error.contains("webhooks[0].url") && error.contains("metadata"), "{url}: {error}");
    }
    let error = start_error("https://hooks.example.com/", &["user.created", "user.exploded"]).await;
    assert!(error.contains("webhooks[0].events") && error.contains("\"user.exploded\""), "{error}");
    let error = start_error("http://hooks.example.com/", &["*"]).await;
    assert!(error.contains("must be https"), "{error}");
}
