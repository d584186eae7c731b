//! The run's report: every scenario's figures, the ratios within the run, the targets of the
//! performance issue checked against them, as a table on stdout and (with `--json`) a JSON file.

use serde::Serialize;

use crate::{hostile::Hostile, measure::Outcome};

/// Which database the run used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    Sqlite,
    Postgres,
}

/// Memory over the whole run.
#[derive(Debug, Serialize)]
pub struct Memory {
    /// VmRSS once the server was up, before any work.
    pub idle_kib: u64,
    /// VmHWM after the last scenario of the main server: the peak over all of them.
    pub peak_kib: u64,
    /// idle + hash workers × argon2 memory + 16 MiB.
    pub budget_kib: u64,
}

/// One target and whether this run met it.
#[derive(Debug, Serialize)]
pub struct Target {
    pub measure: &'static str,
    pub value: f64,
    /// `≥` or `≤`.
    pub relation: &'static str,
    pub target: f64,
    pub met: bool,
}

impl Target {
    fn at_least(measure: &'static str, value: f64, target: f64) -> Self {
        Self { measure, value, relation: "≥", target, met: value >= target }
    }
    fn at_most(measure: &'static str, value: f64, target: f64) -> Self {
        Self { measure, value, relation: "≤", target, met: value <= target }
    }
}

/// Ratios within the run.
#[derive(Debug, Serialize)]
pub struct Ratios {
    pub session_token_to_noop: f64,
    pub access_token_to_noop: f64,
    pub login_to_argon2_ceiling: f64,
    pub storm_p99_to_idle_p99: f64,
    pub storm_p50_to_idle_p50: f64,
}

/// Everything a run measured.
#[derive(Debug, Serialize)]
pub struct Report {
    pub backend: BackendKind,
    pub seconds_per_scenario: u64,
    pub callers: usize,
    pub hash_workers: usize,
    pub scenarios: Vec<Outcome>,
    pub ratios: Ratios,
    pub memory: Memory,
    pub targets: Vec<Target>,
    pub hostile: Option<Hostile>,
}

/// The scenarios a report is built from, by role.
pub struct Measured {
    pub noop: Outcome,
    pub session_token: Outcome,
    pub access_token: Outcome,
    pub login: Outcome,
    pub ceiling: Outcome,
    pub passkey_sign_in: Outcome,
    pub passkey_registration: Outcome,
    pub storm_idle: Outcome,
    pub storm: Outcome,
    pub others: Vec<Outcome>,
}

fn ratio(x: f64, y: f64) -> f64 {
    if y > 0.0 { x / y } else { 0.0 }
}

impl Report {
    pub fn new(
        backend: BackendKind,
        seconds_per_scenario: u64,
        callers: usize,
        hash_workers: usize,
        measured: Measured,
        memory: Memory,
        hostile: Option<Hostile>,
    ) -> Self {
        let m = measured;
        let ratios = Ratios {
            session_token_to_noop: ratio(m.session_token.per_second, m.noop.per_second),
            access_token_to_noop: ratio(m.access_token.per_second, m.noop.per_second),
            login_to_argon2_ceiling: ratio(m.login.per_second, m.ceiling.per_second),
            storm_p99_to_idle_p99: ratio(m.storm.p99_ms, m.storm_idle.p99_ms),
            storm_p50_to_idle_p50: ratio(m.storm.p50_ms, m.storm_idle.p50_ms),
        };
        let sqlite = backend == BackendKind::Sqlite;
        let mut targets = Vec::new();
        if sqlite {
            targets.push(Target::at_least("passkey sign-in, ceremonies/s", m.passkey_sign_in.per_second, 1000.0));
            targets.push(Target::at_most(
                "passkey sign-in, server CPU ms/ceremony",
                m.passkey_sign_in.server_cpu_ms_per_op,
                1.0,
            ));
            if m.passkey_sign_in.callers == 16 {
                targets.push(Target::at_most("passkey sign-in, p99 ms at 16 callers", m.passkey_sign_in.p99_ms, 20.0));
            }
            targets.push(Target::at_least("passkey registration, /s", m.passkey_registration.per_second, 500.0));
        } else {
            targets.push(Target::at_least("passkey sign-in, ceremonies/s", m.passkey_sign_in.per_second, 800.0));
        }
        targets.push(Target::at_least("GetSession access token / no-op", ratios.access_token_to_noop, 0.75));
        targets.push(Target::at_least("Login / argon2 ceiling", ratios.login_to_argon2_ceiling, 0.95));
        targets.push(Target::at_most("GetSession p99 storm / idle", ratios.storm_p99_to_idle_p99, 2.0));
        targets.push(Target::at_least(
            "GetSession session token / no-op",
            ratios.session_token_to_noop,
            if sqlite { 0.8 } else { 0.7 },
        ));
        targets.push(Target::at_most(
            "peak RSS, MiB",
            memory.peak_kib as f64 / 1024.0,
            memory.budget_kib as f64 / 1024.0,
        ));
        let mut scenarios = vec![
            m.noop,
            m.session_token,
            m.access_token,
            m.login,
            m.ceiling,
            m.passkey_sign_in,
            m.passkey_registration,
            m.storm_idle,
            m.storm,
        ];
        scenarios.extend(m.others);
        Self { backend, seconds_per_scenario, callers, hash_workers, scenarios, ratios, memory, targets, hostile }
    }

    pub fn missed(&self) -> Vec<&Target> {
        self.targets.iter().filter(|t| !t.met).collect()
    }

    /// The table: scenarios, ratios, memory, targets.
    pub fn print(&self) {
        println!(
            "\nkeyward-bench: {:?}, {} s per scenario, {} callers, {} hash workers",
            self.backend, self.seconds_per_scenario, self.callers, self.hash_workers
        );
        println!(
            "\n| scenario | callers | ops/s | p50 ms | p99 ms | server CPU ms/op | (process CPU ms/op) | failed |\n|---|---|---|---|---|---|---|---|"
        );
        let hostile = self.hostile.iter().flat_map(|h| [&h.idle, &h.attacked]);
        for s in self.scenarios.iter().chain(hostile) {
            println!(
                "| {} | {} | {:.0} | {:.3} | {:.3} | {:.3} | {:.3} | {} |",
                s.name,
                s.callers,
                s.per_second,
                s.p50_ms,
                s.p99_ms,
                s.server_cpu_ms_per_op,
                s.process_cpu_ms_per_op,
                s.failed
            );
        }
        let r = &self.ratios;
        println!("\nratios in this run:");
        println!("  GetSession (session token) / no-op   {:.3}", r.session_token_to_noop);
        println!("  GetSession (access token) / no-op    {:.3}", r.access_token_to_noop);
        println!("  Login / in-process argon2 ceiling    {:.3}", r.login_to_argon2_ceiling);
        println!(
            "  GetSession under login storm / idle  p50 {:.2}x, p99 {:.2}x",
            r.storm_p50_to_idle_p50, r.storm_p99_to_idle_p99
        );
        if let Some(h) = &self.hostile {
            println!(
                "  hostile floods / idle               p50 {:.2}x, p99 {:.2}x",
                ratio(h.attacked.p50_ms, h.idle.p50_ms),
                ratio(h.attacked.p99_ms, h.idle.p99_ms)
            );
            for (label, count) in &h.flood_answers {
                println!("    flood answers  {label:28} {count:>8}");
            }
        }
        let mem = &self.memory;
        println!(
            "\nmemory: idle {:.1} MiB, peak {:.1} MiB, budget {:.1} MiB",
            mem.idle_kib as f64 / 1024.0,
            mem.peak_kib as f64 / 1024.0,
            mem.budget_kib as f64 / 1024.0
        );
        println!("\n| target | this run | target | |\n|---|---|---|---|");
        for t in &self.targets {
            let verdict = if t.met { "met" } else { "MISSED" };
            println!("| {} | {:.3} | {} {} | {verdict} |", t.measure, t.value, t.relation, t.target);
        }
    }
}
