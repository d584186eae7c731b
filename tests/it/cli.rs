//! The `keyward` binary itself: migrate, a bad setting stopping start-up with one clear line, and
//! serve shutting down cleanly on SIGTERM.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
};

fn keyward() -> Command {
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
    let status = run(&["migrate", "status"]);
    assert_eq!(status.lines().filter(|l| l.starts_with("pending")).count(), 9, "{status}");
    run(&["migrate", "up"]);
    let status = run(&["migrate", "status"]);
    assert_eq!(status.lines().filter(|l| l.starts_with("applied")).count(), 9, "{status}");
    run(&["migrate", "down", "--steps", "2"]);
    let status = run(&["migrate", "status"]);
    assert_eq!(status.lines().filter(|l| l.starts_with("pending")).count(), 2, "{status}");
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

#[test]
fn serve_answers_then_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = keyward()
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(dir.path())
        .env("KEYWARD_LOG_FORMAT", "json")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait for readiness: the "serving" log line.
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let ready = lines.by_ref().map_while(Result::ok).find(|line| line.contains("keyward is serving"));
    assert!(ready.is_some(), "the server never said it was serving");
    assert!(serde_json::from_str::<serde_json::Value>(&ready.unwrap()).is_ok(), "JSON log lines");

    let body = reqwest::blocking_get(&format!("http://127.0.0.1:{port}/healthz"));
    assert_eq!(body.trim(), "ok");
    assert!(dir.path().join("keyward.db").exists(), "SQLite file in the data dir");

    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(child.wait().unwrap().success(), "clean exit after SIGTERM");
    assert!(rest.iter().any(|line| line.contains("shutting down")), "{rest:?}");
}

mod reqwest {
    /// A one-off GET from a plain thread (this test is synchronous).
    pub fn blocking_get(url: &str) -> String {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async { ::reqwest::get(url).await.unwrap().text().await.unwrap() })
    }
}
