//! `keyward-cluster-load`: the end-to-end test of Keyward on standard parts, driven by
//! `scripts/cluster test` against the cluster it started (HAProxy → 3 replicas → PgBouncer →
//! PostgreSQL primary + synchronous standby). Through the balancer's front port it runs a mixed
//! load (sign-ups, logins, GetSession, passkey sign-ins, revocations) and, in turn:
//!
//! 1. throughput with 1 replica in the balancer, then 3 (a ratio on this machine);
//! 2. `kill -9` of a replica mid-load: no idempotent call fails, every acknowledged sign-up
//!    exists afterwards;
//! 3. a session revoked through one replica is refused by every replica within 100 ms;
//! 4. failover mid-load — the primary stopped, the standby promoted, PgBouncer repointed: the
//!    only failures are UNAVAILABLE with RetryInfo, the service recovers without a restart, and
//!    every sign-up acknowledged before the failure (and after) still signs in.
//!
//! Prints the figures docs/scaling.md quotes and exits non-zero when a check fails.

#![allow(clippy::print_stdout)] // a test driver's report is its output

mod load;
mod retry;

/// What `tests/it/passkey_authenticator.rs` expects of its crate.
mod common {
    pub const PASSKEY_ORIGIN: &str = crate::load::ORIGIN;
}

#[allow(clippy::unwrap_used, clippy::expect_used, dead_code)]
#[path = "../../../tests/it/passkey_authenticator.rs"]
mod authenticator;

use std::{
    path::PathBuf,
    time::{Duration, Instant},
};

use clap::Parser;
use tokio::sync::watch;
use tonic::transport::{Channel, Endpoint};

use load::{Caller, Tally};

#[derive(Parser)]
struct Args {
    /// The balancer's front address.
    #[arg(long)]
    front: String,
    /// Each replica's own address (for the revocation check), in the balancer's order.
    #[arg(long, required = true)]
    replica: Vec<String>,
    /// The cluster script (`scripts/cluster`), for the faults.
    #[arg(long)]
    cluster: PathBuf,
    /// Concurrent callers.
    #[arg(long, default_value_t = 8)]
    callers: usize,
    /// Seconds of load per throughput measurement and around each fault.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
}

/// How fast a revocation must reach every replica.
const REVOCATION_BOUND: Duration = Duration::from_millis(100);
/// Revocations measured.
const REVOCATIONS: usize = 5;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let run = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let front = channel(&args.front).await?;
    let mut callers = Vec::new();
    for id in 0..args.callers {
        callers.push(Caller::new(id, &run, channel(&args.front).await?).await?);
    }
    let seconds = Duration::from_secs(args.seconds);
    let mut checks = Checks::default();
    let mut acknowledged = Vec::new();

    // 1. Throughput through the balancer: 1 replica in rotation, then all of them.
    cluster(&args, &["balance", "1"]).await?;
    let (returned, one) = timed_load(callers, seconds).await?;
    cluster(&args, &["balance", &args.replica.len().to_string()]).await?;
    let (returned, all) = timed_load(returned, seconds).await?;
    callers = returned;
    let (one_rate, all_rate) = (rate(&one, seconds), rate(&all, seconds));
    println!(
        "throughput (mixed calls/s through HAProxy): 1 replica {one_rate:.0}, {} replicas {all_rate:.0}, ratio {:.2}",
        args.replica.len(),
        all_rate / one_rate
    );
    acknowledged.extend(one.sign_ups.iter().chain(&all.sign_ups).cloned());

    // 2. kill -9 a replica a third of the way into the load.
    let victim = args.replica.len().to_string();
    let (returned, killed, kill_at) = load_with_fault(callers, seconds, &args, &["kill-replica", &victim]).await?;
    callers = returned;
    report("replica killed", &killed);
    let idempotent_failures: u64 =
        ["GetSession", "Login", "StartPasskeyLogin"].iter().map(|op| killed.failures(op)).sum();
    println!(
        "  idempotent calls failed: {idempotent_failures}; slowest call across the kill: {} ms (kill at +{} ms)",
        slowest(&killed).as_millis(),
        kill_at.0.as_millis()
    );
    checks.expect(idempotent_failures == 0, || {
        format!("{idempotent_failures} idempotent calls failed when a replica was killed")
    });
    acknowledged.extend(killed.sign_ups.iter().cloned());
    let lost = load::sign_in_all(&front, &acknowledged).await;
    println!("  acknowledged sign-ups so far: {}, lost: {}", acknowledged.len(), lost.len());
    checks.expect(lost.is_empty(), || format!("acknowledged sign-ups lost after the kill: {lost:?}"));
    cluster(&args, &["restart-replica", &victim]).await?;

    // 3. Revocation through one replica, refused by every replica.
    let slowest_revocation = revocations(&args).await?;
    println!("revocation seen by every replica within: {} ms (worst of {REVOCATIONS})", slowest_revocation.as_millis());
    checks.expect(slowest_revocation <= REVOCATION_BOUND, || {
        format!("a revocation took {} ms to reach every replica", slowest_revocation.as_millis())
    });

    // 4. Failover under load.
    let (_, failover, failover_at) = load_with_fault(callers, seconds * 2, &args, &["failover"]).await?;
    report("failover", &failover);
    let otherwise: u64 = failover.ops.values().map(|op| op.failed_otherwise).sum();
    checks.expect(otherwise == 0, || {
        format!("{otherwise} calls failed with something else than UNAVAILABLE + RetryInfo")
    });
    if let Some(at) = failover.first_write_after_mark {
        println!(
            "  first acknowledged sign-up {} ms after the primary was stopped",
            at.saturating_duration_since(failover_at.1).as_millis()
        );
    }
    checks.expect(failover.first_write_after_mark.is_some(), || {
        "no sign-up succeeded after the failover: the service did not recover".into()
    });
    acknowledged.extend(failover.sign_ups.iter().cloned());
    let before_failure = acknowledged.iter().filter(|account| account.at < failover_at.1).count();
    let lost = load::sign_in_all(&front, &acknowledged).await;
    println!(
        "acknowledged sign-ups: {} ({before_failure} before the primary was stopped), lost after the failover: {}",
        acknowledged.len(),
        lost.len()
    );
    checks.expect(lost.is_empty(), || format!("acknowledged sign-ups lost: {lost:?}"));
    checks.finish()
}

/// The checks of one run: how many held, and what each failed one says.
#[derive(Default)]
struct Checks {
    passed: usize,
    failed: Vec<String>,
}

impl Checks {
    fn expect(&mut self, held: bool, failure: impl FnOnce() -> String) {
        if held {
            self.passed += 1;
        } else {
            self.failed.push(failure());
        }
    }

    /// Prints the failures and a closing line in cargo's words (scripts/test adds it up).
    fn finish(self) -> anyhow::Result<()> {
        for failure in &self.failed {
            println!("FAILED: {failure}");
        }
        println!("cluster test result: {} passed; {} failed;", self.passed, self.failed.len());
        anyhow::ensure!(self.failed.is_empty(), "{} check(s) failed", self.failed.len());
        Ok(())
    }
}

async fn channel(address: &str) -> anyhow::Result<Channel> {
    Ok(Endpoint::from_shared(format!("http://{address}"))?
        .connect_timeout(Duration::from_secs(2))
        .tcp_nodelay(true)
        .connect()
        .await?)
}

/// Runs the cluster script with `arguments`.
async fn cluster(args: &Args, arguments: &[&str]) -> anyhow::Result<()> {
    let mut command = std::process::Command::new(&args.cluster);
    command.args(arguments);
    let status = tokio::task::spawn_blocking(move || command.status()).await??;
    anyhow::ensure!(status.success(), "scripts/cluster {} failed: {status}", arguments.join(" "));
    Ok(())
}

fn rate(tally: &Tally, duration: Duration) -> f64 {
    tally.calls() as f64 / duration.as_secs_f64()
}

fn slowest(tally: &Tally) -> Duration {
    tally.ops.values().map(|op| op.slowest).max().unwrap_or_default()
}

fn report(phase: &str, tally: &Tally) {
    println!("{phase}: {} calls", tally.calls());
    for (name, op) in &tally.ops {
        println!(
            "  {name:<20} ok {:>6}  failed {:?}  retried {}  slowest {} ms",
            op.ok,
            op.failed,
            op.retried_calls,
            op.slowest.as_millis()
        );
        for (code, message) in &op.otherwise_examples {
            println!("    {code} without RetryInfo, e.g.: {message}");
        }
    }
}

/// The load for `duration` (the duration is the event being measured).
async fn timed_load(callers: Vec<Caller>, duration: Duration) -> anyhow::Result<(Vec<Caller>, Tally)> {
    let (stop, _) = watch::channel(false);
    let (mark, _) = watch::channel(None);
    let tasks = load::run_all(callers, &stop, &mark).await;
    tokio::time::sleep(duration).await;
    stop.send_replace(true);
    load::collect(tasks).await
}

/// The load for `duration`, with `fault` run a third of the way in. Returns the instant the
/// fault started, from the load's start and as an `Instant`.
async fn load_with_fault(
    callers: Vec<Caller>,
    duration: Duration,
    args: &Args,
    fault: &[&str],
) -> anyhow::Result<(Vec<Caller>, Tally, (Duration, Instant))> {
    let (stop, _) = watch::channel(false);
    let (mark, _) = watch::channel(None);
    let started = Instant::now();
    let tasks = load::run_all(callers, &stop, &mark).await;
    // The load runs undisturbed for a while first: time is the event here.
    tokio::time::sleep(duration / 3).await;
    let fault_at = Instant::now();
    mark.send_replace(Some(fault_at));
    cluster(args, fault).await?;
    println!("{} took {} ms", fault.join(" "), fault_at.elapsed().as_millis());
    tokio::time::sleep(duration.saturating_sub(started.elapsed())).await;
    stop.send_replace(true);
    let (callers, tally) = load::collect(tasks).await?;
    Ok((callers, tally, (fault_at - started, fault_at)))
}

/// Signs in through the balancer, makes every replica cache the session, revokes it through
/// the first replica and measures until every replica refuses it; the worst of `REVOCATIONS`.
async fn revocations(args: &Args) -> anyhow::Result<Duration> {
    let mut replicas = Vec::new();
    for address in &args.replica {
        replicas.push(channel(address).await?);
    }
    let front = channel(&args.front).await?;
    let mut worst = Duration::ZERO;
    for attempt in 0..REVOCATIONS {
        let email = format!("revoke{attempt}-{}@cluster.test", uuid::Uuid::new_v4().simple());
        let mut auth = keyward::pb::auth_service_client::AuthServiceClient::new(front.clone());
        let request = keyward::pb::RegisterRequest { email, password: load::PASSWORD.into(), name: String::new() };
        let signed_in = auth.register(request).await?.into_inner().signed_in.unwrap_or_default();
        let (token, session_id) = (signed_in.session_token, signed_in.session.unwrap_or_default().id);
        for replica in &replicas {
            anyhow::ensure!(load::session_alive(replica, &token).await?, "a fresh session was refused");
        }
        let mut first = keyward::pb::auth_service_client::AuthServiceClient::new(replicas[0].clone());
        let mut revoke = tonic::Request::new(keyward::pb::RevokeSessionRequest { session_id });
        revoke.metadata_mut().insert("authorization", format!("Bearer {token}").parse()?);
        first.revoke_session(revoke).await?;
        let revoked_at = Instant::now();
        // Every replica is asked at once, each until it refuses (the end of the refusing call
        // is the instant counted), for at most 2 s: the answer changing is the event.
        let deadline = revoked_at + Duration::from_secs(2);
        let mut asking = tokio::task::JoinSet::new();
        for replica in &replicas {
            let (replica, token) = (replica.clone(), token.clone());
            asking.spawn(async move {
                while load::session_alive(&replica, &token).await? {
                    anyhow::ensure!(Instant::now() < deadline, "a revoked session was still accepted after 2 s");
                }
                Ok(revoked_at.elapsed())
            });
        }
        while let Some(refused_after) = asking.join_next().await {
            worst = worst.max(refused_after??);
        }
    }
    Ok(worst)
}
