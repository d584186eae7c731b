//! `keyward-bench`: throughput of Keyward's hot paths on this machine, reported as ratios to a
//! no-op call (GetSession refusing a malformed token) on the same server in the same run, so a shared,
//! noisy machine still gives comparable numbers. Traffic goes to 127.0.0.1 only; every scenario
//! runs for a fixed time and stops.
//!
//!     cargo run --release -p keyward-bench -- [--seconds 3] [--concurrency 16] [--min-get-session-ratio 0.2]
//!
//! The RPC scenarios end with the hostile one: GetSession latency (p50/p99) idle, and again while
//! one client floods Login with wrong passwords and another floods StartPasskeyLogin
//! (`--flood-rate` calls/s each, open loop), with the default abuse protection (or
//! `--no-client-budgets`, as behind an edge that does its own).
//!
//!     cargo run --release -p keyward-bench -- --import-users 100000 [--database-url postgres://…]

#![allow(clippy::print_stdout)] // a benchmark's report is its output

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use clap::Parser;
use keyward::{
    App, Config,
    pb::{GetSessionRequest, LoginRequest, RegisterRequest, auth_service_client::AuthServiceClient},
};
use tonic::{Request, transport::Channel};

#[derive(Parser)]
struct Args {
    /// Seconds per scenario.
    #[arg(long, default_value_t = 3)]
    seconds: u64,
    /// Concurrent callers per scenario.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Database URL; default: a fresh SQLite file in a temporary directory.
    #[arg(long)]
    database_url: Option<String>,
    /// GetSession cache TTL in milliseconds (0 disables it); default: the server's default.
    #[arg(long)]
    session_cache_ttl_ms: Option<u64>,
    /// Exit non-zero when GetSession throughput falls below this fraction of the no-op's.
    #[arg(long)]
    min_get_session_ratio: Option<f64>,
    /// Turn off the per-client-address budgets for the run (as with an edge doing its own).
    #[arg(long)]
    no_client_budgets: bool,
    /// Skip the throughput scenarios; run only the hostile one.
    #[arg(long)]
    hostile_only: bool,
    /// Calls per second each flood sends in the hostile scenario (open loop: an attacker's rate
    /// does not depend on how fast it is answered; 0 = as fast as answers come back).
    #[arg(long, default_value_t = 2000)]
    flood_rate: u32,
    /// Instead of the RPC scenarios: `keyward import authjs` throughput for this many synthetic
    /// users (into `--database-url`, or a fresh SQLite file).
    #[arg(long)]
    import_users: Option<usize>,
}

mod import;

const PASSWORD: &str = "violet-otter-lamp-93";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(users) = args.import_users {
        return import::run(users, args.database_url).await;
    }
    let dir = tempfile::tempdir()?;
    let base = Config {
        listen: "127.0.0.1:0".parse()?,
        data_dir: dir.path().to_path_buf(),
        database_url: args.database_url.clone(),
        log: "error".into(),
        ..Config::default()
    };
    let base = Config { session_cache_ttl_ms: args.session_cache_ttl_ms.unwrap_or(base.session_cache_ttl_ms), ..base };
    let duration = Duration::from_secs(args.seconds);

    if !args.hostile_only {
        // 16 callers from one address on one account measure the paths themselves: the abuse
        // protection that would (rightly) refuse them is off for this server.
        let config = Config {
            rate_limits: keyward::config::RateLimits { enabled: false, ..Default::default() },
            failed_sign_in_free_attempts: 100,
            ..base.clone()
        };
        let server = Bench::start(config, "bench-throughput@example.com").await?;
        throughput(&args, &server, duration).await?;
        server.app.shutdown().await?;
    }
    // The hostile scenario runs against the defaults (or without client budgets, as behind an edge).
    let config = Config {
        rate_limits: keyward::config::RateLimits { enabled: !args.no_client_budgets, ..Default::default() },
        ..base
    };
    let server = Bench::start(config, "bench-hostile@example.com").await?;
    hostile(&server, duration, args.flood_rate).await;
    server.app.shutdown().await?;
    Ok(())
}

/// A server under test, a channel to it, and a signed-in user's tokens.
struct Bench {
    app: keyward::RunningApp,
    url: String,
    channel: Channel,
    session_token: Arc<String>,
    access_token: Arc<String>,
}

impl Bench {
    async fn start(config: Config, email: &str) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind(config.listen).await?;
        let app = App::spawn(config, listener).await?;
        let url = format!("http://{}", app.local_addr());
        let channel = Channel::from_shared(url.clone())?.connect().await?;
        let signed_in = AuthServiceClient::new(channel.clone())
            .register(RegisterRequest { email: email.into(), password: PASSWORD.into(), name: String::new() })
            .await?
            .into_inner()
            .signed_in
            .ok_or_else(|| anyhow::anyhow!("no session"))?;
        Ok(Self {
            app,
            url,
            channel,
            session_token: Arc::new(signed_in.session_token),
            access_token: Arc::new(signed_in.access_token.map(|t| t.token).unwrap_or_default()),
        })
    }
}

/// The throughput scenarios, as ratios to the no-op.
async fn throughput(args: &Args, server: &Bench, duration: Duration) -> anyhow::Result<()> {
    let Bench { channel, session_token, access_token, .. } = server;
    // The baseline is GetSession on the same path doing no work: a malformed token is refused
    // before any lookup or cryptography, so it costs exactly gRPC + routing + logging + handler.
    // (grpc.health.v1 Check is no baseline: it reads statuses behind an async lock.)
    let auth_for_noop = AuthServiceClient::new(channel.clone());
    let noop_call = move || {
        let mut auth = auth_for_noop.clone();
        async move { auth.get_session(bearer("not-a-token")).await.is_err_and(|s| s.code() == tonic::Code::Unauthenticated) }
    };
    // Warm-up (connections, runtime threads, page cache), not counted; the baseline is measured
    // before and after the other scenarios and averaged, so drift during the run cancels out.
    run("warm-up (not counted)", Duration::from_secs(1), args.concurrency, noop_call.clone()).await;
    let noop_before =
        run("no-op (GetSession, malformed token), before", duration, args.concurrency, noop_call.clone()).await;
    let by_session = {
        let (auth, token) = (AuthServiceClient::new(channel.clone()), Arc::clone(session_token));
        run("GetSession (session token)", duration, args.concurrency, move || {
            let (mut auth, token) = (auth.clone(), Arc::clone(&token));
            async move { auth.get_session(bearer(&token)).await.is_ok() }
        })
        .await
    };
    let by_jwt = {
        let (auth, token) = (AuthServiceClient::new(channel.clone()), Arc::clone(access_token));
        run("GetSession (access token)", duration, args.concurrency, move || {
            let (mut auth, token) = (auth.clone(), Arc::clone(&token));
            async move { auth.get_session(bearer(&token)).await.is_ok() }
        })
        .await
    };
    let login = {
        let auth = AuthServiceClient::new(channel.clone());
        run("Login (argon2id, OWASP parameters)", duration, args.concurrency, move || {
            let mut auth = auth.clone();
            async move {
                auth.login(LoginRequest { email: "bench-throughput@example.com".into(), password: PASSWORD.into() })
                    .await
                    .is_ok()
            }
        })
        .await
    };

    let noop_after = run("no-op (GetSession, malformed token), after", duration, args.concurrency, noop_call).await;
    let noop = f64::midpoint(noop_before, noop_after);

    let ratio = |x: f64| x / noop;
    println!("\nratios to the no-op RPC in this run:");
    println!("  GetSession (session token) {:.3}", ratio(by_session));
    println!("  GetSession (access token)  {:.3}", ratio(by_jwt));
    println!("  Login                      {:.4}", ratio(login));

    if let Some(min) = args.min_get_session_ratio
        && ratio(by_session) < min
    {
        anyhow::bail!("GetSession/no-op ratio {:.3} is below the target {min}", ratio(by_session));
    }
    Ok(())
}

fn bearer(token: &str) -> Request<GetSessionRequest> {
    let mut request = Request::new(GetSessionRequest::default());
    if let Ok(value) = format!("Bearer {token}").parse() {
        request.metadata_mut().insert("authorization", value);
    }
    request
}

/// Runs `call` from `concurrency` tasks for `duration`; prints and returns successful calls/s.
async fn run<F, Fut>(name: &str, duration: Duration, concurrency: usize, call: F) -> f64
where
    F: Fn() -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (call, stop, ok, failed) = (call.clone(), Arc::clone(&stop), Arc::clone(&ok), Arc::clone(&failed));
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let counter = if call().await { &ok } else { &failed };
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    tokio::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        let _ = worker.await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let per_second = ok.load(Ordering::Relaxed) as f64 / elapsed;
    println!(
        "{name:38} {per_second:>10.0} calls/s  ({} ok, {} refused or failed)",
        ok.load(Ordering::Relaxed),
        failed.load(Ordering::Relaxed)
    );
    per_second
}

/// Callers measuring GetSession latency: few, so the figures are service time, not queueing.
const LATENCY_CALLERS: usize = 4;
/// Tasks in each flood.
const FLOODERS: usize = 16;

/// GetSession latency idle and under two floods (wrong-password Logins on unknown emails, and
/// anonymous StartPasskeyLogin), each flood on its own connection (its own client).
async fn hostile(server: &Bench, duration: Duration, flood_rate: u32) {
    let Bench { channel, url, session_token, .. } = server;
    let rate = if flood_rate == 0 { "as fast as answered".to_owned() } else { format!("{flood_rate} calls/s each") };
    println!("\nhostile scenario: GetSession latency, {LATENCY_CALLERS} callers; floods at {rate}");
    let idle = latencies(channel, session_token, duration).await;
    report("idle", &idle);
    let stop = Arc::new(AtomicBool::new(false));
    let mut floods = Vec::new();
    let outcomes = Arc::new(std::sync::Mutex::new(std::collections::BTreeMap::<String, u64>::new()));
    for flood in ["login", "passkey"] {
        // Each flood has its own connection, as a separate client would.
        let Ok(flood_channel) = Channel::from_shared(url.clone()).map(|e| e.connect_lazy()) else { continue };
        for task in 0..FLOODERS {
            let (stop, outcomes, flood_channel) = (Arc::clone(&stop), Arc::clone(&outcomes), flood_channel.clone());
            floods.push(tokio::spawn(async move {
                let mut auth = AuthServiceClient::new(flood_channel.clone());
                let mut passkeys = keyward::pb::passkey_service_client::PasskeyServiceClient::new(flood_channel);
                let mut n = 0u64;
                // Each of the FLOODERS tasks sends its share of the flood's rate.
                let mut pace = (flood_rate > 0).then(|| {
                    let period = Duration::from_secs_f64(FLOODERS as f64 / f64::from(flood_rate));
                    let mut interval = tokio::time::interval(period);
                    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
                    interval
                });
                while !stop.load(Ordering::Relaxed) {
                    if let Some(pace) = pace.as_mut() {
                        pace.tick().await;
                    }
                    n += 1;
                    let outcome = if flood == "login" {
                        let email = format!("guess{task}-{n}@example.com");
                        auth.login(LoginRequest { email, password: "wrong-password-0".into() }).await.map(drop)
                    } else {
                        passkeys.start_passkey_login(keyward::pb::StartPasskeyLoginRequest::default()).await.map(drop)
                    };
                    let label = match outcome {
                        Ok(()) => format!("{flood}: OK"),
                        Err(status) => format!("{flood}: {:?}", status.code()),
                    };
                    *outcomes.lock().unwrap_or_else(std::sync::PoisonError::into_inner).entry(label).or_default() += 1;
                }
            }));
        }
    }
    let attacked = latencies(channel, session_token, duration).await;
    stop.store(true, Ordering::Relaxed);
    for flood in floods {
        let _ = flood.await;
    }
    report("under attack", &attacked);
    let outcomes = outcomes.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    for (label, count) in outcomes.iter() {
        println!("    flood answers  {label:28} {count:>8}");
    }
    let p = |v: &[Duration], q: f64| percentile(v, q).as_secs_f64();
    println!(
        "  under attack / idle: p50 {:.2}x, p99 {:.2}x",
        p(&attacked, 0.5) / p(&idle, 0.5).max(f64::MIN_POSITIVE),
        p(&attacked, 0.99) / p(&idle, 0.99).max(f64::MIN_POSITIVE)
    );
}

/// Per-call GetSession latencies from `LATENCY_CALLERS` callers for `duration`.
async fn latencies(channel: &Channel, session_token: &Arc<String>, duration: Duration) -> Vec<Duration> {
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..LATENCY_CALLERS)
        .map(|_| {
            let (mut auth, token, stop) =
                (AuthServiceClient::new(channel.clone()), Arc::clone(session_token), Arc::clone(&stop));
            tokio::spawn(async move {
                let mut seen = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let started = Instant::now();
                    if auth.get_session(bearer(&token)).await.is_ok() {
                        seen.push(started.elapsed());
                    }
                }
                seen
            })
        })
        .collect();
    tokio::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for worker in workers {
        all.extend(worker.await.unwrap_or_default());
    }
    all.sort();
    all
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn report(name: &str, sorted: &[Duration]) {
    println!(
        "  GetSession {name:13} p50 {:>8.3} ms   p99 {:>8.3} ms   ({} calls)",
        percentile(sorted, 0.5).as_secs_f64() * 1e3,
        percentile(sorted, 0.99).as_secs_f64() * 1e3,
        sorted.len()
    );
}
