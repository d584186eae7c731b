//! Test harness: a fresh database per test (SQLite file or PostgreSQL database), a real server
//! on 127.0.0.1:0, generated clients, and helpers to read ErrorInfo reasons.

use std::{collections::HashMap, net::SocketAddr, path::PathBuf};

use keyward::{
    App, Config, RunningApp,
    pb::{self, auth_service_client::AuthServiceClient},
    service::Clock,
};
use sea_orm::{ConnectionTrait, Database};
use tonic::{Request, Status, transport::Channel};
use tonic_types::StatusExt;

/// Runs `$test(backend)` on SQLite, and on PostgreSQL when TEST_DATABASE_URL is set.
macro_rules! both_backends {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(crate::common::Backend::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if crate::common::postgres_url().is_none() {
                    eprintln!("TEST_DATABASE_URL is not set: the PostgreSQL run of this test cannot happen here");
                    return;
                }
                super::$name(crate::common::Backend::Postgres).await;
            }
        }
    )+};
}
pub(crate) use both_backends;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub fn postgres_url() -> Option<String> {
    std::env::var("TEST_DATABASE_URL").ok().filter(|url| !url.is_empty())
}

/// A database that exists for one test and is dropped afterwards (even when the test panics).
pub struct TestDb {
    pub url: String,
    pub data_dir: PathBuf,
    _dir: tempfile::TempDir,
    postgres: Option<(String, String)>, // (admin url, database name)
}

impl TestDb {
    /// The master key a server on this database is configured with, when it is not the SQLite
    /// default's generated file.
    pub fn master_key(&self) -> Option<&'static str> {
        self.postgres.is_some().then_some(TEST_MASTER_KEY)
    }

    pub async fn create(backend: Backend) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().to_path_buf();
        match backend {
            Backend::Sqlite => {
                let url = format!("sqlite://{}?mode=rwc", data_dir.join("keyward.db").display());
                Self { url, data_dir, _dir: dir, postgres: None }
            }
            Backend::Postgres => {
                let admin = postgres_url().expect("TEST_DATABASE_URL");
                let name = format!("keyward_it_{}", uuid::Uuid::new_v4().simple());
                let conn = Database::connect(&admin).await.unwrap();
                conn.execute_unprepared(&format!("CREATE DATABASE {name}")).await.unwrap();
                conn.close().await.unwrap();
                let mut url = url::Url::parse(&admin).unwrap();
                url.set_path(&name);
                Self { url: url.to_string(), data_dir, _dir: dir, postgres: Some((admin, name)) }
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((admin, name)) = self.postgres.take() else { return };
        // Drop runs inside the test's runtime, which cannot block on async work: use a thread
        // with a runtime of its own. FORCE closes connections a failed test left open.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async {
                let conn = Database::connect(&admin).await.unwrap();
                conn.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await.unwrap();
                conn.close().await.unwrap();
            });
        })
        .join();
        if dropped.is_err() && !std::thread::panicking() {
            panic!("could not drop the test database");
        }
    }
}

/// The master key of test servers on PostgreSQL (on SQLite they generate `master.key` in the
/// data dir, as `keyward serve` does).
pub const TEST_MASTER_KEY: &str = "dGVzdC1tYXN0ZXIta2V5LW9mLTMyLWJ5dGVzLWxvbmc=";

/// A test configuration: cheap argon2 (tests about hashing cost set their own), the test's
/// database, an ephemeral port, no per-address budgets (every test calls from 127.0.0.1;
/// the throttle tests turn them on), and `require_email_verification` off so Register signs in
/// (the verification tests turn it on).
pub fn test_config(db: &TestDb) -> Config {
    Config {
        master_key: db.master_key().map(keyward::config::Secret::new),
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: db.data_dir.clone(),
        database_url: Some(db.url.clone()),
        database_max_connections: 5,
        argon2_memory_kib: 256,
        argon2_iterations: 1,
        hash_workers: Some(2),
        rp_origins: vec![PASSKEY_ORIGIN.into(), RELATED_ORIGIN.into()],
        rate_limits: keyward::config::RateLimits { enabled: false, ..Default::default() },
        require_email_verification: false,
        ..Config::default()
    }
}

/// A running server plus its database; dropping it shuts nothing down cleanly, so tests call
/// `stop` at the end.
pub struct TestServer {
    pub app: RunningApp,
    pub clock: Clock,
    pub config: Config,
    pub db: TestDb,
}

impl TestServer {
    pub async fn start(backend: Backend) -> Self {
        Self::start_with(backend, |_| {}).await
    }

    pub async fn start_with(backend: Backend, tweak: impl FnOnce(&mut Config)) -> Self {
        let db = TestDb::create(backend).await;
        let mut config = test_config(&db);
        tweak(&mut config);
        Self::start_on(db, config).await
    }

    pub async fn start_on(db: TestDb, config: Config) -> Self {
        let listener = tokio::net::TcpListener::bind(config.listen).await.unwrap();
        let clock = Clock::default();
        let app = App::spawn_with_clock(config.clone(), listener, clock.clone()).await.unwrap();
        Self { app, clock, config, db }
    }

    /// A second, independent server on the same database and configuration (another replica),
    /// on its own port and with its own process memory. Stop it with `shutdown()`.
    pub async fn start_replica(&self) -> RunningApp {
        self.start_replica_with(|_| {}).await
    }

    /// A replica whose configuration differs by `tweak` (e.g. a newer deployment's settings).
    pub async fn start_replica_with(&self, tweak: impl FnOnce(&mut Config)) -> RunningApp {
        let mut config = self.config.clone();
        tweak(&mut config);
        let listener = tokio::net::TcpListener::bind(config.listen).await.unwrap();
        App::spawn_with_clock(config, listener, self.clock.clone()).await.unwrap()
    }

    pub fn addr(&self) -> SocketAddr {
        self.app.local_addr()
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr())
    }

    pub async fn auth(&self) -> AuthServiceClient<Channel> {
        AuthServiceClient::connect(self.base_url()).await.unwrap()
    }

    pub async fn stop(self) {
        let TestServer { app, db, .. } = self;
        app.shutdown().await.unwrap();
        drop(db);
    }
}

/// A request carrying `authorization: Bearer <token>`.
pub fn bearer<T>(message: T, token: &str) -> Request<T> {
    let mut request = Request::new(message);
    request.metadata_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
}

/// The ErrorInfo reason of a status (panics when there is none: every Keyward error has one).
pub fn reason(status: &Status) -> String {
    status.get_details_error_info().unwrap_or_else(|| panic!("no ErrorInfo in {status:?}")).reason
}

/// The field violations of an INVALID_ARGUMENT status, field → description.
pub fn violations(status: &Status) -> HashMap<String, String> {
    status
        .get_details_bad_request()
        .map(|bad| bad.field_violations.into_iter().map(|v| (v.field, v.description)).collect())
        .unwrap_or_default()
}

pub const PASSWORD: &str = "violet-otter-lamp-93";
/// The web origin test passkey ceremonies run on (rp id "localhost").
pub const PASSKEY_ORIGIN: &str = "http://localhost:8080";
/// A second allowed origin on another host, for related-origin and rp-id tests.
pub const RELATED_ORIGIN: &str = "https://evil.localhost";

/// Registers `email` with the standard test password and returns what Register answered.
pub async fn register(client: &mut AuthServiceClient<Channel>, email: &str) -> pb::SignedIn {
    client
        .register(pb::RegisterRequest { email: email.into(), password: PASSWORD.into(), name: "Test User".into() })
        .await
        .unwrap()
        .into_inner()
        .signed_in
        .unwrap()
}

/// Registers `email` on a server with `require_email_verification`: the answer signs nobody in
/// (the account, if the address was free, is created after the answer, with its mailed link).
pub async fn register_unverified(client: &mut AuthServiceClient<Channel>, email: &str) {
    let answer = client
        .register(pb::RegisterRequest { email: email.into(), password: PASSWORD.into(), name: "Test User".into() })
        .await
        .unwrap();
    assert!(answer.metadata().get("set-cookie").is_none(), "no session cookie");
    assert_eq!(answer.into_inner().signed_in, None, "nobody is signed in before the address is proved");
}

pub async fn login(
    client: &mut AuthServiceClient<Channel>,
    email: &str,
    password: &str,
) -> Result<pb::SignedIn, Status> {
    Ok(client
        .login(pb::LoginRequest { email: email.into(), password: password.into() })
        .await?
        .into_inner()
        .signed_in
        .unwrap())
}

pub async fn get_session(
    client: &mut AuthServiceClient<Channel>,
    token: &str,
) -> Result<pb::GetSessionResponse, Status> {
    Ok(client.get_session(bearer(pb::GetSessionRequest::default(), token)).await?.into_inner())
}

/// How many migration steps Keyward has.
pub fn migration_steps() -> usize {
    use keyward_migrations::MigratorTrait;
    keyward_migrations::Migrator::migrations().len()
}

/// The default session cookie's name.
pub const COOKIE: &str = keyward::grpc::SESSION_COOKIE;

/// grpc-web over HTTP/1.1, as a browser speaks it.
pub type GrpcWeb = tonic_web::GrpcWebClientService<
    hyper_util::client::legacy::Client<
        hyper_util::client::legacy::connect::HttpConnector,
        tonic_web::GrpcWebCall<tonic::body::Body>,
    >,
>;

/// A grpc-web transport to `server` and the URI clients are made `with_origin` of.
pub fn grpc_web(server: &TestServer) -> (GrpcWeb, http::Uri) {
    let http1 = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .http2_only(false)
        .build_http();
    let transport = tower::ServiceBuilder::new().layer(tonic_web::GrpcWebClientLayer::new()).service(http1);
    (transport, server.base_url().parse().unwrap())
}

/// An AuthService client speaking grpc-web, as a browser does.
pub fn grpc_web_auth(server: &TestServer) -> AuthServiceClient<GrpcWeb> {
    let (transport, uri) = grpc_web(server);
    AuthServiceClient::with_origin(transport, uri)
}

/// A request as a browser page sends it: the session cookie (when given) and an `Origin`.
pub fn from_page<T>(message: T, origin: &str, cookie: Option<&str>) -> Request<T> {
    let mut request = Request::new(message);
    request.metadata_mut().insert("origin", origin.parse().unwrap());
    if let Some(token) = cookie {
        request.metadata_mut().insert("cookie", format!("theme=dark; {COOKIE}={token}").parse().unwrap());
    }
    request
}

/// The value `set-cookie` gives the session cookie (empty when it clears it).
pub fn session_cookie_value<T>(response: &tonic::Response<T>) -> String {
    let set_cookie = response.metadata().get("set-cookie").expect("a set-cookie").to_str().unwrap();
    let (name, rest) = set_cookie.split_once('=').unwrap();
    assert_eq!(name, COOKIE, "{set_cookie}");
    rest.split(';').next().unwrap().to_owned()
}

/// Runs the `keyward` binary with `args` against `db` (its data dir and URL), with `master_key`
/// as KEYWARD_MASTER_KEY when given, and none of the test process's own KEYWARD_* settings.
pub fn keyward_cli(db: &TestDb, master_key: Option<&str>, args: &[&str]) -> std::process::Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_keyward"));
    for (name, _) in std::env::vars().filter(|(name, _)| name.starts_with("KEYWARD_") || name == "DATABASE_URL") {
        command.env_remove(name);
    }
    command
        .args(args)
        .arg("--data-dir")
        .arg(&db.data_dir)
        .env("KEYWARD_DATABASE_URL", &db.url)
        .env("KEYWARD_LOG", "warn");
    if let Some(key) = master_key {
        command.env("KEYWARD_MASTER_KEY", key);
    }
    command.output().unwrap()
}

/// `keyward keys rotate ARGS` against `server`'s database; returns the new kid.
pub fn rotate_with_cli(server: &TestServer, args: &[&str]) -> String {
    let output = keyward_cli(&server.db, server.db.master_key(), &[&["keys", "rotate"], args].concat());
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.contains("published now, signs from"), "{stdout}");
    stdout.split_whitespace().nth(3).unwrap().trim_end_matches(':').to_owned()
}

/// Waits until this server's mail outbox is empty: factor changes queue a notice that the
/// sender then delivers and deletes, so a row count taken meanwhile would move by itself. Waits
/// on the sender's events (subscribed before the first look, so none is missed).
pub async fn mail_delivered(server: &TestServer) {
    let services = server.app.services();
    let mut events = services.outbox().subscribe();
    loop {
        let waiting = services.store().outbox_counts("email").await.unwrap().waiting;
        if waiting == 0 {
            return;
        }
        services.outbox().wake();
        tokio::time::timeout(std::time::Duration::from_secs(30), events.recv())
            .await
            .expect("the mail outbox never drained")
            .unwrap();
    }
}
