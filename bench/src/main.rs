//! `keyward-bench`: Keyward's hot paths on this machine, each as throughput, p50/p99, server CPU
//! per operation and peak memory, and as ratios to a no-op call (GetSession refusing a malformed
//! token) on the same server in the same run, so a shared, noisy machine still gives comparable
//! numbers. The server runs in this process on 127.0.0.1; every scenario runs for a fixed time.
//!
//!     scripts/bench [--seconds 3] [--concurrency 16] [--database-url postgres://…] [--json out.json] [--fail-on-miss]
//!
//! Scenarios, in order: the in-process argon2 ceiling (the server's parameters and
//! `hash_workers` threads, on the same `CpuPool`), the no-op, GetSession by session token and by
//! access token, Login, passkey sign-in, passkey registration, the login storm (GetSession
//! latency idle, then while 32 callers saturate the hash pool with Logins), the no-op again
//! (averaged with the first), and the hostile scenario (floods against the default abuse
//! protection, `hostile.rs`). `--import-users N` runs the Auth.js import instead (`import.rs`).

#![allow(clippy::print_stdout)] // a benchmark's report is its output

mod hostile;
mod import;
mod measure;
mod passkey;
mod report;

/// What `tests/it/passkey_authenticator.rs` (compiled in by `passkey.rs`) expects of its crate.
mod common {
    pub const PASSKEY_ORIGIN: &str = crate::passkey::ORIGIN;
}

use std::{path::PathBuf, sync::Arc, time::Duration};

use clap::Parser;
use keyward::{
    App, Config,
    crypto::{CpuPool, PasswordHasher},
    domain::{Password, PasswordPolicy},
    pb::{GetSessionRequest, LoginRequest, RegisterRequest, auth_service_client::AuthServiceClient},
};
use tonic::{Request, transport::Channel};

use measure::Outcome;
use report::{BackendKind, Measured, Memory, Report};

#[derive(Parser)]
struct Args {
    /// Seconds per scenario.
    #[arg(long, default_value_t = 3)]
    seconds: u64,
    /// Concurrent callers per throughput scenario.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Login callers in the storm and the argon2 ceiling (enough to keep the hash pool full).
    #[arg(long, default_value_t = 32)]
    storm_callers: usize,
    /// A PostgreSQL server URL: the run creates a fresh database there and drops it afterwards.
    /// Default: a fresh SQLite file in a temporary directory.
    #[arg(long)]
    database_url: Option<String>,
    /// GetSession cache TTL in milliseconds (0 disables it); default: the server's default.
    #[arg(long)]
    session_cache_ttl_ms: Option<u64>,
    /// Hashing threads for the server and the ceiling (default: the server's, one per core).
    #[arg(long)]
    hash_workers: Option<usize>,
    /// Hashing threads at normal OS priority instead of the default lowest (to compare).
    #[arg(long)]
    hash_normal_priority: bool,
    /// Keep Prometheus metrics (a `metrics_listen` on 127.0.0.1), to measure what they cost.
    #[arg(long)]
    metrics: bool,
    /// Also write the report as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Exit non-zero when any target of the performance issue is missed.
    #[arg(long)]
    fail_on_miss: bool,
    /// Exit non-zero when GetSession (session token) falls below this fraction of the no-op.
    #[arg(long)]
    min_get_session_ratio: Option<f64>,
    /// Turn off the per-client-address budgets in the hostile scenario (as behind an edge that
    /// does its own).
    #[arg(long)]
    no_client_budgets: bool,
    /// Skip the hostile scenario.
    #[arg(long)]
    no_hostile: bool,
    /// Calls per second each flood sends in the hostile scenario (open loop; 0 = as fast as
    /// answers come back).
    #[arg(long, default_value_t = 2000)]
    flood_rate: u32,
    /// Instead of the full run: one scenario alone, for a profiler (`passkey-sign-in`,
    /// `passkey-registration`, `access-token`, `session-token`), on a server with cheap argon2
    /// parameters (nothing measured hashes). Prints `measuring` before and `measured` after it,
    /// with an idle second either side, so `callgrind_control -z` / `-d` can bracket it.
    #[arg(long)]
    only: Option<String>,
    /// Instead of the RPC scenarios: `keyward import authjs` throughput for this many synthetic
    /// users (into `--database-url`, or a fresh SQLite file).
    #[arg(long)]
    import_users: Option<usize>,
}

const PASSWORD: &str = "violet-otter-lamp-93";
/// GetSession callers in latency scenarios: few, so the figures are service time, not queueing.
const LATENCY_CALLERS: usize = 4;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(users) = args.import_users {
        return import::run(users, args.database_url).await;
    }
    let dir = tempfile::tempdir()?;
    let database = match &args.database_url {
        Some(url) => Some(FreshDatabase::create(url).await?),
        None => None,
    };
    if let Some(only) = &args.only {
        let result = profile_one(&args, only, dir.path(), database.as_ref().map(|d| d.url.clone())).await;
        if let Some(database) = database {
            database.drop().await?;
        }
        return result;
    }
    let result = bench(&args, dir.path(), database.as_ref().map(|d| d.url.clone())).await;
    if let Some(database) = database {
        database.drop().await?;
    }
    let report = result?;
    report.print();
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)?)?;
        println!("\nJSON written to {}", path.display());
    }
    if let Some(min) = args.min_get_session_ratio
        && report.ratios.session_token_to_noop < min
    {
        anyhow::bail!("GetSession/no-op ratio {:.3} is below {min}", report.ratios.session_token_to_noop);
    }
    let missed = report.missed();
    if args.fail_on_miss && !missed.is_empty() {
        let names: Vec<_> = missed.iter().map(|t| t.measure).collect();
        anyhow::bail!("missed targets: {}", names.join("; "));
    }
    Ok(())
}

async fn bench(args: &Args, data_dir: &std::path::Path, database_url: Option<String>) -> anyhow::Result<Report> {
    let backend = if database_url.is_some() { BackendKind::Postgres } else { BackendKind::Sqlite };
    let base = Config {
        master_key: database_url.as_ref().map(|_| throwaway_master_key()),
        listen: "127.0.0.1:0".parse()?,
        data_dir: data_dir.to_path_buf(),
        database_url,
        log: "error".into(),
        rp_id: "localhost".into(),
        rp_origins: vec![passkey::ORIGIN.into()],
        // The scenarios register accounts and use the session Register gives.
        require_email_verification: false,
        ..Config::default()
    };
    let base = Config {
        session_cache_ttl_ms: args.session_cache_ttl_ms.unwrap_or(base.session_cache_ttl_ms),
        hash_workers: args.hash_workers.or(base.hash_workers),
        hash_low_priority: !args.hash_normal_priority,
        metrics_listen: args.metrics.then(|| std::net::SocketAddr::from(([127, 0, 0, 1], 0))),
        ..base
    };
    let duration = Duration::from_secs(args.seconds);
    // Many callers from one address measure the paths themselves: the abuse protection that
    // would (rightly) refuse them is off for this server.
    let config = Config {
        rate_limits: keyward::config::RateLimits { enabled: false, ..Default::default() },
        failed_sign_in_free_attempts: 100,
        ..base.clone()
    };
    let hash_workers = config.hash_workers();
    let server = Bench::start(config.clone(), "bench-latency").await?;
    let idle_kib = measure::status_kib("VmRSS");
    println!(
        "keyward-bench: {backend:?}, {} s per scenario, {} callers, metrics {}",
        args.seconds,
        args.concurrency,
        if args.metrics { "on" } else { "off" }
    );

    // On the server's own hash pool: the same threads, priority and argon2 work areas that Login
    // uses (a second pool would also hold a second set of work areas, and freeing them moves
    // glibc's mmap threshold up, which showed as 35 MiB of extra peak RSS).
    let ceiling = argon2_ceiling(&config, server.app.services().cpu_pool(), args.storm_callers, duration).await?;
    ceiling.print();
    let signed_in = server.register("bench-main").await?;
    // The baseline: GetSession on the same path doing no work (a malformed token is refused
    // before any lookup or cryptography): gRPC + routing + logging + handler.
    let noop_call = |mut auth: AuthServiceClient<Channel>| async move {
        let refused =
            auth.get_session(bearer("not-a-token")).await.is_err_and(|s| s.code() == tonic::Code::Unauthenticated);
        (auth, refused)
    };
    let clients = |n: usize| (0..n).map(|_| AuthServiceClient::new(server.channel.clone())).collect::<Vec<_>>();
    // Warm-up (connections, runtime threads, page cache), not counted.
    measure::run("warm-up", Duration::from_secs(1), clients(args.concurrency), noop_call).await;
    let noop_before =
        measure::run("no-op (GetSession, malformed token)", duration, clients(args.concurrency), noop_call).await;
    noop_before.print();
    let session_token =
        get_session("GetSession (session token)", &server, &signed_in.0, args.concurrency, duration).await;
    session_token.print();
    let access_token =
        get_session("GetSession (access token)", &server, &signed_in.1, args.concurrency, duration).await;
    access_token.print();
    let login = logins("Login (argon2id, server parameters)", &server, "bench-main", args.concurrency, duration).await;
    login.print();

    let sign_in_accounts = server.register_many("bench-signin", args.concurrency).await?;
    let passkey_sign_in = passkey::sign_in_scenario(&server.channel, &sign_in_accounts, duration).await?;
    passkey_sign_in.print();
    // Enough accounts for registration at 3 × the sign-in pace (at least 500/s, the target),
    // each taking the server's cap.
    let per_account = config.max_passkeys_per_user;
    let pace = passkey_sign_in.per_second.max(500.0) * 3.0;
    let wanted = (pace * duration.as_secs_f64() / per_account as f64).ceil() as usize;
    let accounts = server.register_many("bench-register", wanted.max(args.concurrency)).await?;
    let passkey_registration =
        passkey::registration_scenario(&server.channel, accounts, args.concurrency, per_account, duration).await?;
    passkey_registration.print();

    let storm_idle = get_session_latency("storm: GetSession idle", &server, duration).await;
    storm_idle.print();
    let storm = {
        let storming = {
            let channel = Channel::from_shared(server.url.clone())?.connect().await?;
            let auth = AuthServiceClient::new(channel);
            let callers = args.storm_callers;
            tokio::spawn(async move {
                let states = (0..callers).map(|_| auth.clone()).collect();
                measure::run("storm: Login", duration + Duration::from_millis(500), states, |mut auth| async move {
                    let ok = auth.login(login_request("bench-main")).await.is_ok();
                    (auth, ok)
                })
                .await
            })
        };
        // Measure once the storm has filled the hash pool: every worker busy and more queued.
        let pool = Arc::clone(server.app.services().cpu_pool());
        while pool.jobs_in_flight() <= hash_workers {
            tokio::task::yield_now().await;
        }
        let during = get_session_latency("storm: GetSession during a login storm", &server, duration).await;
        let logins = storming.await?;
        logins.print();
        during
    };
    storm.print();
    let noop_after = measure::run("no-op, after", duration, clients(args.concurrency), noop_call).await;
    noop_after.print();
    let noop = Outcome {
        name: "no-op (GetSession, malformed token), mean of before and after".into(),
        per_second: f64::midpoint(noop_before.per_second, noop_after.per_second),
        ..noop_before
    };
    server.app.shutdown().await?;
    // The peak over every scenario of the one server (the hostile scenario starts a second
    // server in this process, with hash workers of its own, so it comes after the reading).
    let peak_kib = measure::status_kib("VmHWM");

    let hostile = if args.no_hostile {
        None
    } else {
        // A server of its own: a fresh SQLite file in a directory of its own (on PostgreSQL the
        // same database, with an account of its own).
        let data_dir = base.data_dir.join("hostile");
        std::fs::create_dir_all(&data_dir)?;
        let config = Config {
            rate_limits: keyward::config::RateLimits { enabled: !args.no_client_budgets, ..Default::default() },
            data_dir,
            ..base
        };
        let server = Bench::start(config, "bench-hostile").await?;
        let hostile = hostile::run(&server, duration, args.flood_rate).await?;
        server.app.shutdown().await?;
        Some(hostile)
    };
    let budget_kib = idle_kib + hash_workers as u64 * u64::from(config.argon2_memory_kib) + 16 * 1024;
    let measured = Measured {
        noop,
        session_token,
        access_token,
        login,
        ceiling,
        passkey_sign_in,
        passkey_registration,
        storm_idle,
        storm,
        others: Vec::new(),
    };
    let memory = Memory { idle_kib, peak_kib, budget_kib };
    Ok(Report::new(backend, args.seconds, args.concurrency, hash_workers, measured, memory, hostile))
}

/// One scenario alone, bracketed for a profiler (see `--only`).
async fn profile_one(
    args: &Args,
    only: &str,
    data_dir: &std::path::Path,
    database_url: Option<String>,
) -> anyhow::Result<()> {
    let config = Config {
        listen: "127.0.0.1:0".parse()?,
        data_dir: data_dir.to_path_buf(),
        master_key: database_url.as_ref().map(|_| throwaway_master_key()),
        database_url,
        log: "error".into(),
        rp_origins: vec![passkey::ORIGIN.into()],
        rate_limits: keyward::config::RateLimits { enabled: false, ..Default::default() },
        argon2_memory_kib: 64,
        argon2_iterations: 1,
        require_email_verification: false,
        ..Config::default()
    };
    let duration = Duration::from_secs(args.seconds);
    let server = Bench::start(config.clone(), "profile").await?;
    let tokens = server.register_many("profile", args.concurrency).await?;
    let signed_in = server.register("profile-main").await?;
    let bracket = || async {
        // A pause a person (or a script) attaching `callgrind_control -z`/`-d` can act in: the
        // profiler's trigger is outside this process, so no event here marks it.
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    let outcome = match only {
        "passkey-sign-in" => {
            // Set up (passkeys registered) before the bracket: the scenario does it first.
            let announce = || async {
                bracket().await;
                println!("measuring");
            };
            let run = passkey::sign_in_scenario_bracketed(&server.channel, &tokens, duration, announce);
            run.await?
        }
        "passkey-registration" => {
            bracket().await;
            println!("measuring");
            let run = passkey::registration_scenario(&server.channel, tokens, args.concurrency, 1000, duration);
            run.await?
        }
        "access-token" | "session-token" => {
            let token = if only == "access-token" { &signed_in.1 } else { &signed_in.0 };
            get_session("warm-up", &server, token, args.concurrency, Duration::from_millis(200)).await;
            bracket().await;
            println!("measuring");
            get_session(only, &server, token, args.concurrency, duration).await
        }
        other => anyhow::bail!("--only {other}: not a scenario"),
    };
    println!("measured");
    bracket().await;
    outcome.print();
    server.app.shutdown().await?;
    Ok(())
}

/// argon2id verifications per second on `pool` (the server's `hash_workers` threads) with the
/// server's parameters, kept full by `callers` — what Login could reach if everything but the
/// hash were free.
async fn argon2_ceiling(
    config: &Config,
    pool: &Arc<CpuPool>,
    callers: usize,
    duration: Duration,
) -> anyhow::Result<Outcome> {
    let hasher = PasswordHasher::new(Arc::clone(pool), config.argon2())?;
    let policy = PasswordPolicy { min_chars: config.password_min_chars, max_chars: config.password_max_chars };
    let stored = hasher.hash(Password::parse_existing("password", PASSWORD, policy)?).await?;
    let states = (0..callers).map(|_| (hasher.clone(), stored.clone())).collect();
    let outcome = measure::run(
        "argon2id ceiling (in process, hash_workers threads)",
        duration,
        states,
        move |(h, s)| async move {
            let ok = match Password::parse_existing("password", PASSWORD, policy) {
                Ok(password) => h.verify(password, Some(s.clone())).await.is_ok_and(|v| v.matches),
                Err(_) => false,
            };
            ((h, s), ok)
        },
    )
    .await;
    Ok(outcome)
}

/// GetSession with `token` from `callers` callers.
async fn get_session(name: &str, server: &Bench, token: &str, callers: usize, duration: Duration) -> Outcome {
    let token: Arc<str> = token.into();
    let states = (0..callers).map(|_| (AuthServiceClient::new(server.channel.clone()), Arc::clone(&token))).collect();
    measure::run(name, duration, states, |(mut auth, token)| async move {
        let ok = auth.get_session(bearer(&token)).await.is_ok();
        ((auth, token), ok)
    })
    .await
}

/// GetSession latency with the session token from `LATENCY_CALLERS` callers.
pub async fn get_session_latency(name: &str, server: &Bench, duration: Duration) -> Outcome {
    get_session(name, server, &server.session_token, LATENCY_CALLERS, duration).await
}

/// Logins with the right password for the account `who` from `callers` callers.
async fn logins(name: &str, server: &Bench, who: &'static str, callers: usize, duration: Duration) -> Outcome {
    let states = (0..callers).map(|_| AuthServiceClient::new(server.channel.clone())).collect();
    measure::run(name, duration, states, move |mut auth| async move {
        let ok = auth.login(login_request(who)).await.is_ok();
        (auth, ok)
    })
    .await
}

fn email(who: &str) -> String {
    format!("{who}@example.com")
}

fn login_request(who: &str) -> LoginRequest {
    LoginRequest { email: email(who), password: PASSWORD.into() }
}

fn bearer(token: &str) -> Request<GetSessionRequest> {
    let mut request = Request::new(GetSessionRequest::default());
    if let Ok(value) = format!("Bearer {token}").parse() {
        request.metadata_mut().insert("authorization", value);
    }
    request
}

/// A server under test, a channel to it, and a signed-in user's session token.
pub struct Bench {
    app: keyward::RunningApp,
    url: String,
    channel: Channel,
    session_token: String,
}

impl Bench {
    /// Starts a server on `config` and signs `who` up for the latency scenarios.
    async fn start(config: Config, who: &str) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind(config.listen).await?;
        let app = App::spawn(config, listener).await?;
        let url = format!("http://{}", app.local_addr());
        let channel = Channel::from_shared(url.clone())?.connect().await?;
        let mut bench = Self { app, url, channel, session_token: String::new() };
        bench.session_token = bench.register(who).await?.0;
        Ok(bench)
    }

    /// Registers `who`@example.com; returns its session token and access token.
    async fn register(&self, who: &str) -> anyhow::Result<(String, String)> {
        self.register_owned(who.to_owned()).await
    }

    /// Registers `n` accounts `{prefix}-{i}` concurrently; returns their session tokens.
    async fn register_many(&self, prefix: &str, n: usize) -> anyhow::Result<Vec<String>> {
        let mut tokens = Vec::with_capacity(n);
        for chunk in (0..n).collect::<Vec<_>>().chunks(16) {
            let registrations = chunk.iter().map(|i| self.register_owned(format!("{prefix}-{i}")));
            for result in futures_join_all(registrations).await {
                tokens.push(result?.0);
            }
        }
        Ok(tokens)
    }

    fn register_owned(&self, who: String) -> impl Future<Output = anyhow::Result<(String, String)>> + Send + use<> {
        let channel = self.channel.clone();
        async move {
            let request = RegisterRequest { email: email(&who), password: PASSWORD.into(), name: String::new() };
            let signed_in = AuthServiceClient::new(channel)
                .register(request)
                .await?
                .into_inner()
                .signed_in
                .ok_or_else(|| anyhow::anyhow!("no session"))?;
            Ok((signed_in.session_token, signed_in.access_token.map(|t| t.token).unwrap_or_default()))
        }
    }
}

/// Runs futures concurrently on the runtime and collects their results in order.
async fn futures_join_all<T: Send + 'static>(
    futures: impl Iterator<Item = impl Future<Output = T> + Send + 'static>,
) -> Vec<T> {
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut results = Vec::with_capacity(handles.len());
    for handle in handles {
        if let Ok(result) = handle.await {
            results.push(result);
        }
    }
    results
}

/// A master key for a database that lives for one run (PostgreSQL needs one configured; SQLite
/// generates its own): 32 bytes from two v4 UUIDs (the OS CSPRNG), in base64.
fn throwaway_master_key() -> keyward::config::Secret {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    bytes[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    bytes[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    keyward::config::Secret::new(base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// A database of its own on a PostgreSQL server, dropped after the run.
struct FreshDatabase {
    admin: String,
    name: String,
    url: String,
}

impl FreshDatabase {
    async fn create(admin: &str) -> anyhow::Result<Self> {
        use sea_orm::ConnectionTrait;
        anyhow::ensure!(admin.starts_with("postgres"), "--database-url must be a postgres:// URL");
        let name = format!("keyward_bench_{}", uuid::Uuid::new_v4().simple());
        let conn = sea_orm::Database::connect(admin).await?;
        conn.execute_unprepared(&format!("CREATE DATABASE {name}")).await?;
        conn.close().await?;
        let mut url = url::Url::parse(admin)?;
        url.set_path(&name);
        Ok(Self { admin: admin.to_owned(), name, url: url.to_string() })
    }

    async fn drop(self) -> anyhow::Result<()> {
        use sea_orm::ConnectionTrait;
        let conn = sea_orm::Database::connect(&self.admin).await?;
        conn.execute_unprepared(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)).await?;
        conn.close().await?;
        Ok(())
    }
}
