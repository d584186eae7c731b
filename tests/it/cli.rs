//! The `keyward` binary itself: migrate (and status creating nothing), a bad setting stopping
//! start-up with one clear line, the start-up line, and serve shutting down cleanly on SIGTERM.

use std::{
    io::{BufRead, BufReader, Lines},
    path::Path,
    process::{Child, ChildStderr, Command, Stdio},
};

pub(crate) fn keyward() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_keyward"));
    // The test's own environment must not leak settings into the child.
    for (key, _) in std::env::vars() {
        if key.starts_with("KEYWARD_") || key == "DATABASE_URL" {
            command.env_remove(key);
        }
    }
    command
}

#[test]
fn migrate_status_up_down() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let output = keyward().args(args).arg("--data-dir").arg(dir.path()).output().unwrap();
        assert!(output.status.success(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).unwrap()
    };
    let steps = crate::common::migration_steps();
    let status = run(&["migrate", "status"]);
    assert_eq!(status.lines().filter(|l| l.starts_with("pending")).count(), steps, "{status}");
    run(&["migrate", "up"]);
    assert!(dir.path().join("keyward.db").exists(), "migrate up creates the database");
    let status = run(&["migrate", "status"]);
    assert_eq!(status.lines().filter(|l| l.starts_with("applied")).count(), steps, "{status}");
    run(&["migrate", "down", "--steps", "2"]);
    let status = run(&["migrate", "status"]);
    assert_eq!(status.lines().filter(|l| l.starts_with("pending")).count(), 2, "{status}");
}

#[test]
fn migrate_status_creates_no_data_dir() {
    let parent = tempfile::tempdir().unwrap();
    let data_dir = parent.path().join("not-yet");
    let output = keyward().args(["migrate", "status", "--data-dir"]).arg(&data_dir).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let status = String::from_utf8(output.stdout).unwrap();
    use keyward_migrations::MigratorTrait;
    let known = keyward_migrations::Migrator::migrations().len();
    assert_eq!(status.lines().filter(|l| l.starts_with("pending")).count(), known, "{status}");
    assert!(!data_dir.exists(), "migrate status created {}", data_dir.display());
}

#[test]
fn a_bad_setting_stops_start_up_with_one_line_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    for (key, value, setting) in [
        ("KEYWARD_ARGON2_ITERATIONS", "many", "argon2_iterations"),
        ("KEYWARD_CORS_ALLOWED_ORIGINS", "https://ok.example,https://bad.example/path", "cors_allowed_origins"),
        ("KEYWARD_LISTEN", "not-an-address", "listen"),
        ("KEYWARD_ACCESS_TOKEN_TTL_SECS", "1", "access_token_ttl_secs"),
        // A provider without the app's callback URL.
        ("KEYWARD_OAUTH__GITHUB__CLIENT_ID", "Iv1.abc", "oauth.redirect_uris"),
        ("KEYWARD_OAUTH__REDIRECT_URIS", "http://app.example.com/cb", "oauth.redirect_uris"),
    ] {
        let output = keyward().args(["serve", "--data-dir"]).arg(dir.path()).env(key, value).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{key}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(setting), "{key}: {stderr}");
    }
}

/// A `keyward serve` child on a free port with its own data dir, past its "keyward is serving"
/// line; `env` (given the port) adds settings.
pub(crate) struct Serving {
    child: Child,
    pub port: u16,
    pub ready: String,
    /// The log lines before the "serving" one.
    pub before: Vec<String>,
    lines: Lines<BufReader<ChildStderr>>,
}

impl Serving {
    pub fn start(dir: &Path, env: impl FnOnce(u16) -> Vec<(&'static str, String)>) -> Self {
        Self::start_with(dir, "127.0.0.1", &[], env)
    }

    /// `keyward serve --listen <host>:<free port>` with `args` before `serve`, reading its log
    /// (stderr).
    pub fn start_with(
        dir: &Path,
        host: &str,
        args: &[&str],
        env: impl FnOnce(u16) -> Vec<(&'static str, String)>,
    ) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut child = keyward()
            .args(args)
            .args(["serve", "--listen", &format!("{host}:{port}"), "--data-dir"])
            .arg(dir)
            .envs(env(port))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Readiness is the "serving" log line, not time.
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let mut before = Vec::new();
        let ready = lines.by_ref().map_while(Result::ok).find(|line| {
            let found = line.contains("keyward is serving");
            if !found {
                before.push(line.clone());
            }
            found
        });
        Self { child, port, ready: ready.expect("the server never said it was serving"), before, lines }
    }

    /// Keeps reading the log on a thread of its own, so a chatty server (TRACE) never blocks on
    /// a full pipe while the test calls it.
    pub fn follow(self) -> Following {
        let (lines_tx, lines) = std::sync::mpsc::channel();
        let source = self.lines;
        let reader = std::thread::spawn(move || {
            for line in source.map_while(Result::ok) {
                if lines_tx.send(line).is_err() {
                    break;
                }
            }
        });
        Following { child: self.child, port: self.port, lines, reader }
    }

    /// SIGTERM; asserts a clean exit and returns what it logged after the serving line.
    pub fn stop(mut self) -> Vec<String> {
        let killed = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        assert!(killed.success());
        let rest: Vec<String> = self.lines.map_while(Result::ok).collect();
        let status = self.child.wait().unwrap();
        assert!(status.success(), "clean exit after SIGTERM, not {status:?}: {rest:?}");
        rest
    }
}

#[test]
fn serve_answers_then_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let serving = Serving::start(dir.path(), |_| vec![("KEYWARD_LOG_FORMAT", "json".into())]);
    assert!(serde_json::from_str::<serde_json::Value>(&serving.ready).is_ok(), "JSON log lines");

    let body = reqwest::blocking_get(&format!("http://127.0.0.1:{}/healthz", serving.port));
    assert_eq!(body.trim(), "ok");
    assert!(dir.path().join("keyward.db").exists(), "SQLite file in the data dir");

    let rest = serving.stop();
    assert!(rest.iter().any(|line| line.contains("shutting down")), "{rest:?}");
}

#[test]
fn start_up_line_names_the_signin_url_and_passkey_settings_without_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    // Text logs into a pipe, as under systemd or a container runtime: no ANSI colour codes.
    let serving = Serving::start(dir.path(), |port| {
        vec![
            ("KEYWARD_LOG_FORMAT", "text".into()),
            ("KEYWARD_RP_ORIGINS", format!("http://localhost:{port},http://localhost:3000")),
        ]
    });
    let (port, ready) = (serving.port, serving.ready.clone());
    serving.stop();

    assert!(!ready.contains('\u{1b}'), "colour codes in piped output: {ready:?}");
    for expected in [
        format!("signin=http://localhost:{port}/signin"),
        "rp_id=localhost".to_owned(),
        format!("http://localhost:{port}, http://localhost:3000"),
    ] {
        assert!(ready.contains(&expected), "{expected} missing from {ready}");
    }
}

/// A `Serving` whose log a thread reads (see `Serving::follow`).
pub(crate) struct Following {
    child: Child,
    pub port: u16,
    lines: std::sync::mpsc::Receiver<String>,
    reader: std::thread::JoinHandle<()>,
}

impl Following {
    /// The log up to and including the first line `found` accepts: the server's own events are
    /// what a test waits on.
    pub fn lines_until(&mut self, found: impl Fn(&str) -> bool) -> Vec<String> {
        let mut read = Vec::new();
        while let Ok(line) = self.lines.recv() {
            let done = found(&line);
            read.push(line);
            if done {
                return read;
            }
        }
        panic!("the server stopped logging before the awaited line: {read:?}");
    }

    /// SIGTERM; asserts a clean exit and returns the rest of the log.
    pub fn stop(mut self) -> Vec<String> {
        let killed = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        assert!(killed.success());
        let status = self.child.wait().unwrap();
        self.reader.join().unwrap();
        let rest: Vec<String> = self.lines.try_iter().collect();
        assert!(status.success(), "clean exit after SIGTERM, not {status:?}: {rest:?}");
        rest
    }
}

pub(crate) fn reqwest_get(url: &str) -> String {
    reqwest::blocking_get(url)
}

mod reqwest {
    /// A one-off GET from a plain thread (this test is synchronous).
    pub fn blocking_get(url: &str) -> String {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async { ::reqwest::get(url).await.unwrap().text().await.unwrap() })
    }
}
