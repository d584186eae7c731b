//! A database outage answers UNAVAILABLE quickly and recovers without a restart. A TCP proxy in
//! the test process sits between Keyward and the local PostgreSQL; the test flips it between
//! pass (forward bytes), hang (hold every connection open, forward nothing, accept new ones
//! and say nothing) and drop (close every connection, refuse new ones), and back to pass.

use std::time::{Duration, Instant};

use keyward::pb::{self, auth_service_client::AuthServiceClient};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::watch,
};
use tonic::{Code, Status};
use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient};
use tonic_types::StatusExt;

use crate::common::{
    Backend, PASSWORD, TestDb, TestServer, get_session, login, postgres_url, reason, register, test_config,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Pass,
    Hang,
    Drop,
}

/// The proxy: a listener on 127.0.0.1 forwarding to `upstream` as `mode` says.
struct Proxy {
    port: u16,
    mode: watch::Sender<Mode>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    async fn start(upstream: std::net::SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (mode, watching) = watch::channel(Mode::Pass);
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else { return };
                let watching = watching.clone();
                tokio::spawn(async move {
                    if *watching.borrow() == Mode::Drop {
                        return; // refuse: close at once
                    }
                    let Ok(server) = TcpStream::connect(upstream).await else { return };
                    let (client_read, client_write) = client.into_split();
                    let (server_read, server_write) = server.into_split();
                    tokio::join!(
                        pipe(client_read, server_write, watching.clone()),
                        pipe(server_read, client_write, watching)
                    );
                });
            }
        });
        Self { port, mode, task }
    }

    fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Copies `from` to `to` while the mode is Pass; holds still while it is Hang; ends (closing
/// both halves) on Drop.
async fn pipe(
    mut from: impl AsyncReadExt + Unpin,
    mut to: impl AsyncWriteExt + Unpin,
    mut mode: watch::Receiver<Mode>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let current = *mode.borrow_and_update();
        match current {
            Mode::Drop => return,
            Mode::Hang => {
                if mode.changed().await.is_err() {
                    return;
                }
            }
            Mode::Pass => {
                tokio::select! {
                    read = from.read(&mut buf) => match read {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            // Bytes read just as the mode flipped are held back with the rest.
                            while *mode.borrow() == Mode::Hang {
                                if mode.changed().await.is_err() { return; }
                            }
                            if *mode.borrow() == Mode::Drop || to.write_all(&buf[..n]).await.is_err() {
                                return;
                            }
                        }
                    },
                    changed = mode.changed() => if changed.is_err() { return },
                }
            }
        }
    }
}

/// The answer during an outage: UNAVAILABLE, reason UNAVAILABLE, RetryInfo; and how long it took.
async fn assert_unavailable(what: &str, call: impl std::future::Future<Output = Result<(), Status>>) -> Duration {
    let started = Instant::now();
    let err = call.await.expect_err(what);
    let took = started.elapsed();
    assert_eq!((err.code(), reason(&err).as_str()), (Code::Unavailable, "UNAVAILABLE"), "{what}: {err:?}");
    assert!(err.get_details_retry_info().is_some(), "{what}: RetryInfo");
    took
}

async fn health(channel: &mut HealthClient<tonic::transport::Channel>) -> ServingStatus {
    let answer = channel.check(HealthCheckRequest { service: String::new() }).await.unwrap().into_inner();
    ServingStatus::try_from(answer.status).unwrap()
}

/// Waits (bounded) for the health service to report `wanted`: an event, not a sleep.
async fn wait_for_health(channel: &mut HealthClient<tonic::transport::Channel>, wanted: ServingStatus) {
    let started = Instant::now();
    let mut seen = None;
    for _ in 0..600 {
        let status = health(channel).await;
        if status == wanted {
            return;
        }
        seen = Some(status);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("health never became {wanted:?} in {:?} (still {seen:?})", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_down_or_hanging_answers_unavailable_and_recovers() {
    let Some(admin) = postgres_url() else {
        eprintln!("TEST_DATABASE_URL is not set: this test needs PostgreSQL and cannot run here");
        return;
    };
    let db = TestDb::create(Backend::Postgres).await;
    let upstream_url = url::Url::parse(&admin).unwrap();
    let upstream = tokio::net::lookup_host((upstream_url.host_str().unwrap(), upstream_url.port().unwrap_or(5432)))
        .await
        .unwrap()
        .next()
        .unwrap();
    let proxy = Proxy::start(upstream).await;
    let mut through_proxy = url::Url::parse(&db.url).unwrap();
    through_proxy.set_port(Some(proxy.port)).unwrap();
    let mut config = test_config(&db);
    config.database_url = Some(through_proxy.to_string());
    config.database_timeout_ms = 1000;
    config.session_cache_ttl_ms = 0; // every GetSession reads the database
    let server = TestServer::start_on(db, config).await;
    let mut auth = server.auth().await;
    let mut health_client =
        HealthClient::new(tonic::transport::Channel::from_shared(server.base_url()).unwrap().connect().await.unwrap());
    let http = reqwest::Client::new();
    let healthz = format!("{}/healthz", server.base_url());

    // Pass: acknowledged writes.
    let first = register(&mut auth, "before@example.com").await;
    assert_eq!(health(&mut health_client).await, ServingStatus::Serving);

    let calls = |auth: AuthServiceClient<tonic::transport::Channel>, token: String| async move {
        let mut timings = Vec::new();
        let mut a = auth.clone();
        timings.push(assert_unavailable("GetSession", async { get_session(&mut a, &token).await.map(drop) }).await);
        let mut a = auth.clone();
        timings.push(
            assert_unavailable("Login", async { login(&mut a, "before@example.com", PASSWORD).await.map(drop) }).await,
        );
        let mut a = auth.clone();
        let register =
            pb::RegisterRequest { email: "during@example.com".into(), password: PASSWORD.into(), name: String::new() };
        timings.push(assert_unavailable("Register", async { a.register(register).await.map(drop) }).await);
        timings
    };

    for mode in [Mode::Hang, Mode::Drop] {
        proxy.set(mode);
        let timings = calls(auth.clone(), first.session_token.clone()).await;
        eprintln!("{mode:?}: answered UNAVAILABLE after {timings:?}");
        // A generous bound that still tells "a timeout of about a second" from "waited for sqlx's
        // 30 s" or "hung until the client gave up".
        assert!(timings.iter().all(|took| *took < Duration::from_secs(5)), "{mode:?}: {timings:?}");
        wait_for_health(&mut health_client, ServingStatus::NotServing).await;
        let answer = http.get(&healthz).send().await.unwrap();
        assert_eq!(answer.status(), reqwest::StatusCode::SERVICE_UNAVAILABLE);
        let body = answer.text().await.unwrap();
        assert!(body.starts_with("unavailable: the database"), "{body}");
    }

    // Pass again: recovery without a restart.
    proxy.set(Mode::Pass);
    wait_for_health(&mut health_client, ServingStatus::Serving).await;
    assert_eq!(http.get(&healthz).send().await.unwrap().status(), reqwest::StatusCode::OK);
    login(&mut auth, "before@example.com", PASSWORD).await.unwrap();
    register(&mut auth, "after@example.com").await;
    get_session(&mut auth, &first.session_token).await.unwrap();

    // Every acknowledged write is there; the refused registration is not.
    let store = server.app.services().store().clone();
    for (email, present) in [("before@example.com", true), ("after@example.com", true), ("during@example.com", false)] {
        assert_eq!(store.find_user_by_email(email).await.unwrap().is_some(), present, "{email}");
    }
    server.stop().await;
}
