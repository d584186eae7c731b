//! Secrets at rest and in logs (issue 21 item 9), against the `keyward` binary: with the file
//! mail transport no log line at TRACE carries a mailed sign-in link or its token (the line names
//! the `.eml` path); the data dir is 0700, the database and each `.eml` file 0600, looser modes
//! left by an older start are tightened; the file transport on PostgreSQL is a WARN at start.

use std::{os::unix::fs::PermissionsExt, path::Path};

use keyward::pb::{
    self, auth_service_client::AuthServiceClient, verification_service_client::VerificationServiceClient,
};

use crate::{
    cli::{Serving, keyward},
    common::{Backend, TEST_MASTER_KEY, TestDb, postgres_url},
};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap_or_else(|err| panic!("{}: {err}", path.display())).permissions().mode() & 0o777
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

#[test]
fn a_mailed_link_is_never_logged_and_every_file_is_private() {
    let parent = tempfile::tempdir().unwrap();
    // A data dir that does not exist yet: Keyward creates it.
    let data_dir = parent.path().join("data");
    let serving = Serving::start(&data_dir, |_| {
        vec![("KEYWARD_LOG", "trace,sea_orm=trace,sqlx=trace".into()), ("KEYWARD_LOG_FORMAT", "text".into())]
    });
    let mut lines = serving.before.clone();
    let mut serving = serving.follow();
    let url = format!("http://127.0.0.1:{}", serving.port);
    runtime().block_on(async {
        let mut auth = AuthServiceClient::connect(url.clone()).await.unwrap();
        auth.register(pb::RegisterRequest {
            email: "ada@example.com".into(),
            password: "correct horse battery staple".into(),
            name: String::new(),
        })
        .await
        .unwrap();
        let mut verification = VerificationServiceClient::connect(url).await.unwrap();
        verification
            .send_magic_link(pb::SendMagicLinkRequest { email: "ada@example.com".into(), redirect_uri: String::new() })
            .await
            .unwrap();
    });
    // The mail's log line is the event to wait on.
    lines.extend(serving.lines_until(|line| line.contains("mail written to a file")));
    let written = lines.last().unwrap().clone();
    let outbox = data_dir.join("outbox");
    let eml_files: Vec<_> = std::fs::read_dir(&outbox)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "eml"))
        .collect();
    assert_eq!(eml_files.len(), 1, "{eml_files:?}");
    let eml = &eml_files[0];
    assert!(written.contains(&eml.display().to_string()), "the line names the file: {written}");

    // Quoted-printable undone where the link needed it.
    let text = std::fs::read_to_string(eml).unwrap().replace("=\r\n", "").replace("=3D", "=");
    let token = text.split("token=").nth(1).expect("a link with a token").split(['&', '"', ' ', '\r', '\n']).next();
    let token = token.unwrap().to_owned();
    assert!(token.len() >= 43, "{token}");
    lines.extend(serving.stop());
    let leaking: Vec<_> = lines.iter().filter(|line| line.contains(&token) || line.contains("signin?flow=")).collect();
    assert!(leaking.is_empty(), "the mailed token is in the log: {leaking:?}");
    assert!(lines.len() > 50, "the log was at TRACE: {} lines", lines.len());

    assert_eq!(mode(&data_dir), 0o700, "data dir");
    assert_eq!(mode(&data_dir.join("keyward.db")), 0o600, "database");
    for side in ["keyward.db-wal", "keyward.db-shm"] {
        if data_dir.join(side).exists() {
            assert_eq!(mode(&data_dir.join(side)), 0o600, "{side}");
        }
    }
    assert_eq!(mode(&data_dir.join("master.key")), 0o600, "master key");
    assert_eq!(mode(&outbox), 0o700, "outbox dir");
    assert_eq!(mode(eml), 0o600, ".eml file");
}

#[test]
fn looser_modes_from_an_earlier_start_are_tightened() {
    let parent = tempfile::tempdir().unwrap();
    let data_dir = parent.path().join("data");
    std::fs::create_dir(&data_dir).unwrap();
    std::fs::set_permissions(&data_dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let db = data_dir.join("keyward.db");
    std::fs::write(&db, b"").unwrap();
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();

    let output = keyward().args(["migrate", "up", "--data-dir"]).arg(&data_dir).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(mode(&data_dir), 0o700, "data dir");
    assert_eq!(mode(&db), 0o600, "database");
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.matches("tightened the mode").count(), 2, "{stderr}");
}

#[test]
fn the_file_transport_on_postgresql_is_a_warning_at_start() {
    if postgres_url().is_none() {
        eprintln!("TEST_DATABASE_URL is not set: this test needs PostgreSQL");
        return;
    }
    let db = runtime().block_on(TestDb::create(Backend::Postgres));
    let warning = "while the database is PostgreSQL";
    let serving = Serving::start(&db.data_dir, |_| {
        vec![("KEYWARD_DATABASE_URL", db.url.clone()), ("KEYWARD_MASTER_KEY", TEST_MASTER_KEY.into())]
    });
    let before = serving.before.clone();
    serving.stop();
    let warned: Vec<_> = before.iter().filter(|line| line.contains(warning)).collect();
    assert_eq!(warned.len(), 1, "{before:?}");
    assert!(warned[0].contains("WARN"), "{}", warned[0]);

    // On SQLite the same transport is the development default: no warning.
    let dir = tempfile::tempdir().unwrap();
    let serving = Serving::start(dir.path(), |_| Vec::new());
    let before = serving.before.clone();
    serving.stop();
    assert!(!before.iter().any(|line| line.contains(warning)), "{before:?}");
}
