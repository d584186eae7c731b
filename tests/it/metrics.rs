//! `/metrics` (Prometheus text format, on `metrics_listen`, never on the public port) after a
//! known mix of calls: a registration, a sign-in that works, one with a wrong password, one a
//! client budget refuses, two session lookups and one webhook delivery to a receiver the test
//! runs. Each counter must move by exactly that much between two scrapes, and no label may carry
//! a user id or an email.

use std::{collections::HashMap, time::Duration};

use base64::Engine;
use keyward::{
    config::{RateBudget, RateLimits, WebhookConfig},
    pb,
    service::outbox::OutboxEvent,
};

use crate::common::{Backend, PASSWORD, TestServer, bearer, both_backends, login, reason, register};

both_backends!(counters_move_by_exactly_what_the_calls_did);

/// A webhook endpoint that answers 204 to every POST, on 127.0.0.1.
async fn start_receiver() -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook?token=not-a-label", listener.local_addr().unwrap());
    let app = axum::Router::new().route("/hook", axum::routing::post(|| async { http::StatusCode::NO_CONTENT }));
    (url, tokio::spawn(async move { axum::serve(listener, app).await.unwrap() }))
}

/// Every sample of a scrape: `name{labels}` → value.
async fn scrape(server: &TestServer) -> (HashMap<String, f64>, String) {
    let address = server.app.metrics_addr().expect("metrics are on");
    let response = reqwest::get(format!("http://{address}/metrics")).await.unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    let text = response.text().await.unwrap();
    let samples = text
        .lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').unwrap();
            (series.to_owned(), value.parse().unwrap())
        })
        .collect();
    (samples, text)
}

fn delta(before: &HashMap<String, f64>, after: &HashMap<String, f64>, series: &str) -> f64 {
    after.get(series).copied().unwrap_or(0.0) - before.get(series).copied().unwrap_or(0.0)
}

async fn counters_move_by_exactly_what_the_calls_did(backend: Backend) {
    let (hook_url, receiver) = start_receiver().await;
    let secrets = tempfile::tempdir().unwrap();
    let secret_file = secrets.path().join("hook.secret");
    std::fs::write(&secret_file, format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode([9u8; 32])))
        .unwrap();
    let server = TestServer::start_with(backend, |config| {
        config.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
        // Two logins per client, then RATE_LIMITED; registrations have their own budget.
        config.rate_limits = RateLimits { login: RateBudget { per_minute: 1, burst: 2 }, ..RateLimits::default() };
        // Both lookups within the cache's life, however slow the machine.
        config.session_cache_ttl_ms = 60_000;
        config.webhooks =
            vec![WebhookConfig { url: hook_url.clone(), events: vec!["user.created".into()], secret_file }];
    })
    .await;
    let public = reqwest::get(format!("{}/metrics", server.base_url())).await.unwrap();
    assert_eq!(public.status(), 404, "no metrics on the public port");

    let mut deliveries = server.app.services().outbox().subscribe();
    let (before, _) = scrape(&server).await;
    let mut auth = server.auth().await;
    let email = "metrics@example.com";
    let registered = register(&mut auth, email).await;
    login(&mut auth, email, PASSWORD).await.unwrap();
    let wrong = login(&mut auth, email, "not-the-password-at-all").await.unwrap_err();
    assert_eq!(reason(&wrong), "INVALID_CREDENTIALS");
    let refused = login(&mut auth, email, PASSWORD).await.unwrap_err();
    assert_eq!(reason(&refused), "RATE_LIMITED");
    for _ in 0..2 {
        auth.get_session(bearer(pb::GetSessionRequest::default(), &registered.session_token)).await.unwrap();
    }
    // The user.created webhook, delivered.
    loop {
        match tokio::time::timeout(Duration::from_secs(30), deliveries.recv()).await.unwrap().unwrap() {
            OutboxEvent::Delivered { .. } => break,
            OutboxEvent::WillRetry { .. }
            | OutboxEvent::Dead { .. }
            | OutboxEvent::EndpointPaused { .. }
            | OutboxEvent::EndpointResumed { .. } => panic!("the receiver answers 204"),
            OutboxEvent::LinkRequestHandled { .. } => {}
        }
    }
    let (after, text) = scrape(&server).await;

    let login_method = r#"method="keyward.v1.AuthService/Login""#;
    let endpoint = hook_url.split('?').next().unwrap();
    for (series, moved) in [
        (r#"keyward_sign_ins_total{method="password",result="ok"}"#.to_owned(), 1.0),
        (r#"keyward_sign_ins_total{method="password",result="invalid_credentials"}"#.to_owned(), 1.0),
        (r#"keyward_sign_ins_total{method="password",result="rate_limited"}"#.to_owned(), 1.0),
        (r#"keyward_throttle_refusals_total{budget="login"}"#.to_owned(), 1.0),
        (r#"keyward_throttle_refusals_total{budget="register"}"#.to_owned(), 0.0),
        (format!(r#"keyward_grpc_requests_total{{{login_method},code="OK"}}"#), 1.0),
        (format!(r#"keyward_grpc_requests_total{{{login_method},code="UNAUTHENTICATED"}}"#), 1.0),
        (format!(r#"keyward_grpc_requests_total{{{login_method},code="RESOURCE_EXHAUSTED"}}"#), 1.0),
        (format!(r#"keyward_grpc_request_duration_seconds_count{{{login_method},code="OK"}}"#), 1.0),
        (r#"keyward_grpc_requests_total{method="keyward.v1.AuthService/Register",code="OK"}"#.to_owned(), 1.0),
        (r#"keyward_grpc_requests_total{method="keyward.v1.AuthService/GetSession",code="OK"}"#.to_owned(), 2.0),
        (r#"keyward_session_cache_lookups_total{result="miss"}"#.to_owned(), 1.0),
        (r#"keyward_session_cache_lookups_total{result="hit"}"#.to_owned(), 1.0),
        (r#"keyward_outbox_deliveries_total{kind="webhook",result="delivered"}"#.to_owned(), 1.0),
        (format!(r#"keyward_webhook_deliveries_total{{endpoint="{endpoint}",result="delivered"}}"#), 1.0),
        // Register's guessability estimate and hash, one verification per checked login; the
        // refused login never queued.
        ("keyward_hash_pool_wait_seconds_count".to_owned(), 4.0),
    ] {
        assert_eq!(delta(&before, &after, &series), moved, "{series} in\n{text}");
    }
    for (series, value) in [
        (r#"keyward_outbox_messages{kind="webhook",state="waiting"}"#, 0.0),
        (r#"keyward_outbox_messages{kind="webhook",state="dead"}"#, 0.0),
        (r#"keyward_outbox_oldest_age_seconds{kind="webhook"}"#, 0.0),
        ("keyward_hash_pool_workers", 2.0),
        ("keyward_hash_pool_queue_depth", 0.0),
    ] {
        assert_eq!(after.get(series).copied(), Some(value), "{series} in\n{text}");
    }
    let pools: Vec<&String> =
        after.keys().filter(|series| series.starts_with("keyward_db_pool_max_connections")).collect();
    assert!(!pools.is_empty(), "database pools in\n{text}");
    assert!(after.keys().any(|series| series.starts_with("keyward_build_info{version=")), "{text}");
    let user_id = registered.user.unwrap().id;
    for private in [email, user_id.as_str(), "not-a-label"] {
        assert!(!text.contains(private), "{private} in the metrics:\n{text}");
    }
    receiver.abort();
    server.stop().await;
}
