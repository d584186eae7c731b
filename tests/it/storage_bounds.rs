//! Anonymous callers cannot grow storage without bound: pending ceremonies are capped per
//! client address and overall, expired rows and old audit events are swept (in batches), and
//! the SQLite WAL stays small and shrinks when the server is idle.

use std::{net::Ipv4Addr, time::Duration};

use keyward::{
    domain::ClientAddress,
    pb::{self, passkey_service_client::PasskeyServiceClient},
    service::RequestMeta,
};
use tonic::{Code, Request};
use tonic_types::StatusExt;

use crate::common::{Backend, TestServer, both_backends, reason, register};

both_backends!(pending_ceremonies_are_capped_per_client_and_overall, sweep_removes_expired_rows_and_old_audit_events);

fn start_from(client_ip: &str) -> Request<pb::StartPasskeyLoginRequest> {
    let mut request = Request::new(pb::StartPasskeyLoginRequest::default());
    request.metadata_mut().insert("x-forwarded-for", client_ip.parse().unwrap());
    request
}

async fn pending_ceremonies_are_capped_per_client_and_overall(backend: Backend) {
    let server = TestServer::start_with(backend, |config| {
        config.trusted_proxies = vec!["127.0.0.1".into()];
        config.max_pending_ceremonies_per_client = 3;
        config.max_pending_ceremonies = 5;
    })
    .await;
    let mut passkeys = PasskeyServiceClient::connect(server.base_url()).await.unwrap();
    let store = server.app.services().store().clone();
    for _ in 0..3 {
        passkeys.start_passkey_login(start_from("192.0.2.1")).await.unwrap();
    }
    let before = store.row_counts().await.unwrap();
    let err = passkeys.start_passkey_login(start_from("192.0.2.1")).await.unwrap_err();
    assert_eq!((err.code(), reason(&err).as_str()), (Code::ResourceExhausted, "TOO_MANY_CEREMONIES"));
    let retry = err.get_details_retry_info().and_then(|info| info.retry_delay).expect("RetryInfo");
    assert!(retry <= server.config.ceremony_ttl() && retry > Duration::ZERO, "{retry:?}");
    assert_eq!(store.row_counts().await.unwrap(), before, "the refused start wrote nothing");

    // Other clients still get ceremonies, up to the global cap.
    for _ in 0..2 {
        passkeys.start_passkey_login(start_from("192.0.2.2")).await.unwrap();
    }
    let err = passkeys.start_passkey_login(start_from("192.0.2.3")).await.unwrap_err();
    assert_eq!(reason(&err), "TOO_MANY_CEREMONIES", "the global cap holds for a fresh client too");
    assert_eq!(store.row_counts().await.unwrap().ceremonies, 5);

    // Expired ceremonies do not count, swept or not (the global estimate is recounted once
    // its few seconds are up, on the service clock).
    server.clock.advance(server.config.ceremony_ttl() + Duration::from_secs(1));
    passkeys.start_passkey_login(start_from("192.0.2.1")).await.unwrap();
    server.stop().await;
}

async fn sweep_removes_expired_rows_and_old_audit_events(backend: Backend) {
    let server = TestServer::start_with(backend, |config| {
        config.audit_retention_days = 90;
    })
    .await;
    let services = server.app.services().clone();
    let store = services.store().clone();
    register(&mut server.auth().await, "old@example.com").await; // an audit event, a session
    // More expired ceremonies than one sweep batch, from many addresses.
    let mut starts = Vec::new();
    for task in 0..5u8 {
        let services = services.clone();
        starts.push(tokio::spawn(async move {
            for i in 0..500u16 {
                let [hi, lo] = i.to_be_bytes();
                let meta = RequestMeta::new(None)
                    .with_client(Some(ClientAddress::new(Ipv4Addr::new(10, task, hi, lo).into())));
                services.start_passkey_login("", &meta).await.unwrap();
            }
        }));
    }
    for start in starts {
        start.await.unwrap();
    }
    assert_eq!(store.row_counts().await.unwrap().ceremonies, 2500);
    server.clock.advance(Duration::from_secs(91 * 24 * 3600));
    register(&mut server.auth().await, "new@example.com").await;
    let fresh = services.start_passkey_login("", &RequestMeta::new(None)).await.unwrap();
    let swept = services.sweep_expired().await.unwrap();
    let after = store.row_counts().await.unwrap();
    assert_eq!(after.ceremonies, 1, "only the unexpired ceremony is left");
    assert_eq!(after.sessions, 1, "the 91-day-old session expired");
    assert_eq!(after.audit_events, 1, "only the recent audit event is within the 90-day retention");
    assert!(swept >= 2500 + 2, "2500 ceremonies, a session, an audit event: {swept}");
    assert!(!fresh.ceremony_id.is_empty());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_wal_stays_bounded_and_shrinks_when_idle() {
    const STARTS: u32 = 20_000;
    let server = TestServer::start_with(Backend::Sqlite, |config| {
        config.max_pending_ceremonies = 1_000_000;
        config.sqlite_checkpoint_interval_secs = 1;
    })
    .await;
    let services = server.app.services().clone();
    let store = services.store().clone();
    let mut largest = 0;
    let mut starts = Vec::new();
    for task in 0..8u32 {
        let services = services.clone();
        starts.push(tokio::spawn(async move {
            for i in (task..STARTS).step_by(8) {
                let ip = Ipv4Addr::from(0x0a00_0000 + i);
                let meta = RequestMeta::new(None).with_client(Some(ClientAddress::new(ip.into())));
                services.start_passkey_login("", &meta).await.unwrap();
            }
        }));
    }
    while starts.iter().any(|start| !start.is_finished()) {
        largest = largest.max(store.wal_bytes().await.unwrap().unwrap());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for start in starts {
        start.await.unwrap();
    }
    assert_eq!(store.row_counts().await.unwrap().ceremonies, u64::from(STARTS));
    largest = largest.max(store.wal_bytes().await.unwrap().unwrap());
    assert!(largest < 64 * 1024 * 1024, "the WAL reached {largest} bytes");
    // Idle now: the periodic checkpoint truncates the WAL. Wait for that event (bounded).
    let mut shrunk = false;
    for _ in 0..600 {
        if store.wal_bytes().await.unwrap().unwrap() == 0 {
            shrunk = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(shrunk, "the WAL was not truncated after the load stopped (largest {largest} bytes)");
    eprintln!("largest WAL during {STARTS} starts: {largest} bytes; truncated when idle");
    server.stop().await;
}
