//! `keyward-bench`: throughput of Keyward's hot paths on this machine, reported as ratios to a
//! no-op call (GetSession refusing a malformed token) on the same server in the same run, so a shared,
//! noisy machine still gives comparable numbers. Traffic goes to 127.0.0.1 only; every scenario
//! runs for a fixed time and stops.
//!
//!     cargo run --release -p keyward-bench -- [--seconds 3] [--concurrency 16] [--min-get-session-ratio 0.2]
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
    let config = Config {
        listen: "127.0.0.1:0".parse()?,
        data_dir: dir.path().to_path_buf(),
        database_url: args.database_url.clone(),
        log: "warn".into(),
        ..Config::default()
    };
    let config =
        Config { session_cache_ttl_ms: args.session_cache_ttl_ms.unwrap_or(config.session_cache_ttl_ms), ..config };
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let app = App::spawn(config, listener).await?;
    let url = format!("http://{}", app.local_addr());
    let channel = Channel::from_shared(url)?.connect().await?;

    let mut auth = AuthServiceClient::new(channel.clone());
    let signed_in = auth
        .register(RegisterRequest { email: "bench@example.com".into(), password: PASSWORD.into(), name: String::new() })
        .await?
        .into_inner()
        .signed_in
        .ok_or_else(|| anyhow::anyhow!("no session"))?;
    let session_token = Arc::new(signed_in.session_token);
    let access_token = Arc::new(signed_in.access_token.map(|t| t.token).unwrap_or_default());
    let duration = Duration::from_secs(args.seconds);

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
        let (auth, token) = (AuthServiceClient::new(channel.clone()), Arc::clone(&session_token));
        run("GetSession (session token)", duration, args.concurrency, move || {
            let (mut auth, token) = (auth.clone(), Arc::clone(&token));
            async move { auth.get_session(bearer(&token)).await.is_ok() }
        })
        .await
    };
    let by_jwt = {
        let (auth, token) = (AuthServiceClient::new(channel.clone()), Arc::clone(&access_token));
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
                auth.login(LoginRequest { email: "bench@example.com".into(), password: PASSWORD.into() }).await.is_ok()
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
    app.shutdown().await?;

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
