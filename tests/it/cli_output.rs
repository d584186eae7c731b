//! What the `keyward` binary prints: a command's result alone on stdout (so
//! `KEY=$(keyward admin keys create …)` captures only the key), one start-up line for the
//! migrations unless `-v`, `--listen` with a host name, a typo in a setting answered with the
//! setting meant, a database that cannot be reached named with its host and the cause, and
//! `keyward healthcheck` (the container's HEALTHCHECK) telling a serving server from a stopped one.

use crate::cli::{Serving, keyward};

#[test]
fn admin_keys_create_prints_only_the_key_on_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let output = keyward()
        .args(["admin", "keys", "create", "--name", "ci", "--scope", "users:read", "--data-dir"])
        .arg(dir.path())
        .env("KEYWARD_LOG", "debug")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8(output.stdout).unwrap();
    let key = stdout.trim_end_matches('\n');
    assert!(key.starts_with("kw_") && !key.contains(char::is_whitespace), "stdout is the key alone: {stdout:?}");
    assert_eq!(stdout.lines().count(), 1, "{stdout:?}");
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("the only time the key is shown"), "the note goes to stderr: {stderr}");

    let listed = keyward().args(["admin", "keys", "list", "--data-dir"]).arg(dir.path()).output().unwrap();
    let listed = String::from_utf8(listed.stdout).unwrap();
    assert!(listed.contains("ci") && listed.contains("users:read"), "{listed}");
    assert!(!listed.contains("INFO") && !listed.contains("migration"), "no log lines on stdout: {listed}");
}

#[test]
fn migrations_are_one_line_unless_verbose() {
    let quiet_dir = tempfile::tempdir().unwrap();
    let quiet = Serving::start(quiet_dir.path(), |_| vec![]);
    let migration_lines: Vec<&String> =
        quiet.before.iter().filter(|line| line.to_lowercase().contains("migrat") || line.contains("schema")).collect();
    let steps = crate::common::migration_steps();
    assert_eq!(migration_lines.len(), 1, "{:#?}", quiet.before);
    assert!(migration_lines[0].contains(&format!("applied={steps}")), "{}", migration_lines[0]);
    assert!(migration_lines[0].contains("elapsed_ms="), "{}", migration_lines[0]);
    assert!(quiet.before.len() <= 3, "a short start: {:#?}", quiet.before);
    quiet.stop();

    let verbose_dir = tempfile::tempdir().unwrap();
    let verbose = Serving::start_with(verbose_dir.path(), "127.0.0.1", &["-v"], |_| vec![]);
    let migration_lines = verbose.before.iter().filter(|line| line.contains("migration")).count();
    assert!(migration_lines >= steps, "-v logs each step: {:#?}", verbose.before);
    verbose.stop();
}

#[test]
fn listen_accepts_a_host_name() {
    let dir = tempfile::tempdir().unwrap();
    let serving = Serving::start_with(dir.path(), "localhost", &[], |_| vec![]);
    let port = serving.port;
    assert!(serving.ready.contains(&format!("local_addr=127.0.0.1:{port}")), "{}", serving.ready);
    let health = crate::cli::reqwest_get(&format!("http://localhost:{port}/healthz"));
    assert_eq!(health.trim(), "ok");
    // The container HEALTHCHECK: the binary asks its own /healthz (0.0.0.0 → the loopback).
    let healthcheck =
        || keyward().arg("healthcheck").env("KEYWARD_LISTEN", format!("0.0.0.0:{port}")).output().unwrap();
    let healthy = healthcheck();
    assert!(healthy.status.success(), "{}", String::from_utf8_lossy(&healthy.stderr));
    serving.stop();
    assert!(!healthcheck().status.success(), "a stopped server is unhealthy");
}

/// A one-line failure on stderr, exit code `code`, for `keyward serve` with `env` and `args`.
fn failure(args: &[&str], env: &[(&str, &str)], code: i32) -> String {
    let dir = tempfile::tempdir().unwrap();
    let output =
        keyward().args(args).args(["serve", "--data-dir"]).arg(dir.path()).envs(env.iter().copied()).output().unwrap();
    assert_eq!(output.status.code(), Some(code), "{args:?} {env:?}: {}", String::from_utf8_lossy(&output.stderr));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    stderr
}

#[test]
fn a_typo_in_a_setting_names_the_setting_meant() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("keyward.toml");
    std::fs::write(&file, "rp_id = \"localhost\"\nrp_orgins = [\"http://localhost:3000\"]\n").unwrap();
    let stderr = failure(&["--config", file.to_str().unwrap()], &[], 2);
    assert!(stderr.contains("rp_orgins") && stderr.contains("did you mean `rp_origins`?"), "{stderr}");
    assert!(stderr.contains("keyward.toml"), "names the file: {stderr}");

    std::fs::write(&file, "[email]\nsmtp_ur = \"smtp://relay\"\n").unwrap();
    let stderr = failure(&["--config", file.to_str().unwrap()], &[], 2);
    assert!(stderr.contains("did you mean `email.smtp_url`?"), "{stderr}");

    let stderr = failure(&[], &[("KEYWARD_SESION_CACHE_TTL_MS", "0")], 2);
    assert!(stderr.contains("did you mean `KEYWARD_SESSION_CACHE_TTL_MS`?"), "{stderr}");

    let stderr = failure(&[], &[("KEYWARD_COMPLETELY_UNRELATED", "1")], 2);
    assert!(stderr.contains("unknown setting") && !stderr.contains("did you mean"), "{stderr}");
}

#[test]
fn an_unreachable_database_is_named_with_its_host_and_the_cause() {
    // A port nothing listens on: bound, then closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("postgres://keyward:hunter2-secret@127.0.0.1:{port}/keyward");
    let stderr =
        failure(&[], &[("KEYWARD_DATABASE_URL", &url), ("KEYWARD_MASTER_KEY", crate::common::TEST_MASTER_KEY)], 1);
    assert!(stderr.contains(&format!("PostgreSQL at 127.0.0.1:{port} (database keyward, user keyward)")), "{stderr}");
    assert!(stderr.to_lowercase().contains("connection refused"), "the cause: {stderr}");
    assert!(!stderr.contains("hunter2"), "never the password: {stderr}");
}
