//! `keyward import authjs` end to end: source databases built with the real Auth.js adapter code
//! (pg-adapter) or the Prisma schema's SQL, imported by the real binary into SQLite and
//! PostgreSQL targets, then a real Keyward on the imported data: bcrypt users sign in (and are
//! re-hashed to argon2id), the GitHub account is listed, an imported session token works with
//! GetSession (but is never recent enough for a factor change, and a token that was not random
//! is refused), an Auth.js passkey completes a discoverable sign-in; a second import changes
//! nothing; `--dry-run` writes nothing; bad rows are reported and the good ones imported.

mod sources;

use std::{collections::HashMap, process::Command};

use keyward::{
    config::{GitHubConfig, OAuthConfig},
    pb::{self, o_auth_service_client::OAuthServiceClient},
    store::Store,
};
use sea_orm::{ConnectionTrait, Database, DbBackend, FromQueryResult, JsonValue, Statement};
use tonic::Code;

use self::sources::{CAROL, CAROL_PASSWORD, DAN_PASSWORD, ERIN, seed_pg_adapter, seed_prisma};
use crate::{
    common::{
        Backend, TestDb, TestServer, bearer, both_backends, get_session, login, postgres_url, reason, test_config,
    },
    passkey_authenticator::TestPasskey,
    passkeys::{add_passkey, passkey_login, passkeys},
};

both_backends!(pg_adapter_source, prisma_sqlite_source);

/// The binary's summary: per table, [created, updated, skipped, failed].
struct Summary {
    output: String,
    counts: HashMap<String, [u64; 4]>,
}

impl Summary {
    fn of(&self, table: &str) -> [u64; 4] {
        self.counts[table]
    }
}

/// Runs `keyward import authjs --from SOURCE ARGS` against the target database `target`.
fn import(target: &TestDb, source: &str, args: &[&str]) -> Summary {
    let mut command = Command::new(env!("CARGO_BIN_EXE_keyward"));
    for (key, _) in std::env::vars() {
        if key.starts_with("KEYWARD_") || key == "DATABASE_URL" {
            command.env_remove(key);
        }
    }
    let output = command
        .args(["--data-dir"])
        .arg(&target.data_dir)
        .args(["import", "authjs", "--from", source])
        .args(args)
        .env("DATABASE_URL", &target.url)
        .envs(target.master_key().map(|key| ("KEYWARD_MASTER_KEY", key)))
        .env("KEYWARD_LOG", "warn")
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(output.status.success(), "import failed: {stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    let counts = stdout
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let numbers: Vec<u64> = fields.get(1..)?.iter().filter_map(|f| f.parse().ok()).collect();
            (fields.len() == 5 && numbers.len() == 4)
                .then(|| (fields[0].to_owned(), [numbers[0], numbers[1], numbers[2], numbers[3]]))
        })
        .collect();
    Summary { output: stdout, counts }
}

/// Every row of the target's import tables, to show a dry run changed nothing.
async fn dump(url: &str) -> Vec<JsonValue> {
    let db = Database::connect(url).await.unwrap();
    let backend = db.get_database_backend();
    let mut rows = Vec::new();
    for (table, order) in
        [("users", "id"), ("accounts", "id"), ("authenticators", "id"), ("sessions", "id"), ("audit_events", "id")]
    {
        let sql = format!("SELECT * FROM {table} ORDER BY {order}");
        rows.extend(JsonValue::find_by_statement(Statement::from_string(backend, sql)).all(&db).await.unwrap());
    }
    db.close().await.unwrap();
    rows
}

/// True when the target has no Keyward tables (a fresh SQLite target: not even a file).
async fn target_is_untouched(target: &TestDb) -> bool {
    if target.url.starts_with("sqlite:") {
        return !target.data_dir.join("keyward.db").exists();
    }
    let db = Database::connect(&target.url).await.unwrap();
    let statement = Statement::from_string(
        DbBackend::Postgres,
        "SELECT COUNT(*)::bigint AS n FROM information_schema.tables WHERE table_schema = current_schema()",
    );
    let n: i64 = db.query_one_raw(statement).await.unwrap().unwrap().try_get("", "n").unwrap();
    db.close().await.unwrap();
    n == 0
}

/// Whether every provider token in the target's `accounts` is sealed under the master key (and
/// there is at least one).
async fn provider_tokens_are_sealed(url: &str) -> bool {
    let db = Database::connect(url).await.unwrap();
    let statement =
        Statement::from_string(db.get_database_backend(), "SELECT access_token, refresh_token FROM accounts");
    let rows = db.query_all_raw(statement).await.unwrap();
    db.close().await.unwrap();
    let tokens: Vec<String> = rows
        .iter()
        .flat_map(|row| {
            ["access_token", "refresh_token"].map(|column| row.try_get::<Option<String>>("", column).unwrap())
        })
        .flatten()
        .collect();
    !tokens.is_empty() && tokens.iter().all(|token| token.starts_with("kw1:"))
}

/// A server on the imported target, with GitHub configured (so the OAuth service runs).
async fn serve(target: TestDb) -> TestServer {
    let mut config = test_config(&target);
    config.oauth = OAuthConfig {
        redirect_uris: vec!["https://app.example.com/api/auth/callback/github".into()],
        github: Some(GitHubConfig {
            client_id: "Iv1.test".into(),
            client_secret: "secret".into(),
            ..GitHubConfig::default()
        }),
        ..OAuthConfig::default()
    };
    TestServer::start_on(target, config).await
}

async fn stored_hash(server: &TestServer, user_id: &str) -> Option<String> {
    server.app.services().store().find_user(user_id).await.unwrap().unwrap().password_hash
}

/// The SQL adapter layout, built by @auth/pg-adapter (PostgreSQL source), into `target`.
async fn pg_adapter_source(target: Backend) {
    if postgres_url().is_none() {
        eprintln!("TEST_DATABASE_URL is not set: the @auth/pg-adapter source needs PostgreSQL");
        return;
    }
    let source = TestDb::create(Backend::Postgres).await;
    let seed = seed_pg_adapter(&source.url);
    let target = TestDb::create(target).await;

    // A dry run on a fresh target reads and reports everything and creates nothing at all.
    let dry = import(&target, &source.url, &["--dry-run"]);
    assert!(dry.output.contains("SQL adapter layout"), "{}", dry.output);
    assert!(dry.output.contains("dry run: nothing was written"));
    assert_eq!(dry.of("users"), [6, 0, 0, 3], "{}", dry.output);
    assert!(target_is_untouched(&target).await, "a dry run wrote to the target");

    let first = import(&target, &source.url, &[]);
    let out = &first.output;
    assert_eq!(first.of("users"), [6, 0, 0, 3], "{out}");
    assert_eq!(first.of("accounts"), [1, 0, 0, 1], "{out}");
    assert!(provider_tokens_are_sealed(&target.url).await, "imported provider tokens are stored in clear");
    assert_eq!(first.of("sessions"), [2, 0, 1, 2], "{out}");
    assert_eq!(first.of("verification_tokens"), [0, 0, 2, 0], "{out}");
    // Bad rows are named by their source id; nothing secret (no token, no address) is printed.
    let no_email = seed.user_id("noEmail");
    for expected in [
        format!("users {no_email}: failed: no email address"),
        format!(
            "users {}: failed: its email address is the same as user {}'s",
            seed.user_id("dup1"),
            seed.user_id("dup2")
        ),
        format!("users {}: imported without: its password (bcrypt cost 16", seed.user_id("costly")),
        format!("users {}: imported without: its password (not a bcrypt or argon2 hash", seed.user_id("unsupported")),
        format!("its user {no_email} was not imported"),
        "failed: its token is not a shape Keyward accepts".to_owned(),
    ] {
        assert!(out.contains(&expected), "missing {expected:?} in:\n{out}");
    }
    assert!(!out.contains(&seed.session("adaCustom")) && !out.contains("dup@example.com"), "{out}");

    let server = serve(target).await;
    let mut auth = server.auth().await;
    let ada = seed.user_id("ada");
    // bcrypt ($2b$ from bcryptjs) signs in with the original password, then is argon2id.
    assert!(stored_hash(&server, &ada).await.unwrap().starts_with("$2b$10$"));
    let status = login(&mut auth, "ada@example.com", "violet-otter-lamp-94").await.unwrap_err();
    assert_eq!((status.code(), reason(&status).as_str()), (Code::Unauthenticated, "INVALID_CREDENTIALS"));
    let signed_in = login(&mut auth, "ADA@example.com", &seed.password("ada")).await.unwrap();
    assert_eq!(signed_in.user.as_ref().unwrap().id, ada, "the original id is kept");
    assert!(stored_hash(&server, &ada).await.unwrap().starts_with("$argon2id$"), "re-hashed on first sign-in");
    login(&mut auth, "ada@example.com", &seed.password("ada")).await.unwrap();
    // $2a$ and $2y$ too; bcrypt's 72-byte limit as bcrypt has it.
    login(&mut auth, "grace@example.com", &seed.password("grace")).await.unwrap();
    login(&mut auth, "php@example.com", &seed.password("php")).await.unwrap();
    let long = seed.password("long");
    let first_72_bytes = &long[..72];
    login(&mut auth, "long@example.com", &format!("{first_72_bytes}-another-tail")).await.unwrap();
    // Rows imported without a password: nothing signs in with one.
    for email in ["costly@example.com", "unsupported@example.com"] {
        let status = login(&mut auth, email, "violet-otter-lamp-93").await.unwrap_err();
        assert_eq!(reason(&status), "INVALID_CREDENTIALS");
    }

    // Live Auth.js sessions keep working: a UUID token and a 64-hex one; the expired one is gone.
    let session = get_session(&mut auth, &seed.session("adaLive")).await.unwrap();
    assert_eq!(session.user.unwrap().email, "ada@example.com");
    let session = get_session(&mut auth, &seed.session("graceHex")).await.unwrap();
    assert_eq!(session.user.unwrap().id, seed.user_id("grace"));
    for gone in ["adaExpired", "adaCustom"] {
        let status = get_session(&mut auth, &seed.session(gone)).await.unwrap_err();
        assert_eq!(reason(&status), "SESSION_INVALID", "{gone}");
    }
    // The GitHub account is listed.
    let mut oauth = OAuthServiceClient::connect(server.base_url()).await.unwrap();
    let linked = oauth
        .list_linked_accounts(bearer(pb::ListLinkedAccountsRequest::default(), &seed.session("adaLive")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(linked.accounts.len(), 1);
    assert_eq!(
        (linked.accounts[0].provider.as_str(), linked.accounts[0].provider_account_id.as_str()),
        ("github", "583231")
    );

    // A second run changes nothing, and keeps the argon2id hash Keyward made.
    let store = server.app.services().store().clone();
    let before = store.row_counts().await.unwrap();
    let second = import(&server.db, &source.url, &[]);
    for table in ["users", "accounts", "passkeys", "sessions"] {
        let [created, updated, _, _] = second.of(table);
        assert_eq!((created, updated), (0, 0), "{table}: {}", second.output);
    }
    assert_eq!(second.of("users"), [0, 0, 6, 3]);
    assert_eq!(store.row_counts().await.unwrap(), before);
    assert!(stored_hash(&server, &ada).await.unwrap().starts_with("$argon2id$"));

    // The source moves on; a dry run sees it and writes nothing.
    let source_db = Database::connect(&source.url).await.unwrap();
    source_db.execute_unprepared("UPDATE users SET name = 'Ada King' WHERE email = 'Ada@Example.com'").await.unwrap();
    source_db
        .execute_unprepared("INSERT INTO users (name, email) VALUES ('Newcomer', 'new@example.com')")
        .await
        .unwrap();
    source_db.close().await.unwrap();
    let dumped = dump(&server.db.url).await;
    let dry = import(&server.db, &source.url, &["--dry-run"]);
    assert_eq!(dry.of("users"), [1, 1, 5, 3], "{}", dry.output);
    assert_eq!(dump(&server.db.url).await, dumped, "a dry run changed the target");
    let applied = import(&server.db, &source.url, &[]);
    assert_eq!(applied.of("users"), [1, 1, 5, 3], "{}", applied.output);
    assert_eq!(store.find_user(&ada).await.unwrap().unwrap().name.as_deref(), Some("Ada King"));
    server.stop().await;
}

/// The Prisma layout on SQLite (integer-millisecond times, cuid ids) into `target`, with a
/// passkey registered through Auth.js.
async fn prisma_sqlite_source(target: Backend) {
    let source = TestDb::create(Backend::Sqlite).await;
    let source_url = format!("sqlite://{}?mode=rwc", source.data_dir.join("authjs.db").display());
    let mut seed = seed_prisma(Backend::Sqlite, &source_url).await;
    let from = format!("file:{}", source.data_dir.join("authjs.db").display());
    let target = TestDb::create(target).await;
    let imported = import(&target, &from, &[]);
    check_prisma_import(&imported);
    assert!(imported.output.contains("Prisma adapter layout"), "{}", imported.output);
    check_prisma_target(target, &mut seed, &from).await;
}

/// The Prisma layout on PostgreSQL (`TIMESTAMP(3)`, no account or session ids) into SQLite.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prisma_postgres_source() {
    if postgres_url().is_none() {
        eprintln!("TEST_DATABASE_URL is not set: the PostgreSQL Prisma source cannot be built here");
        return;
    }
    let source = TestDb::create(Backend::Postgres).await;
    let mut seed = seed_prisma(Backend::Postgres, &source.url).await;
    let target = TestDb::create(Backend::Sqlite).await;
    // Prisma's URLs name the schema; the importer honours it.
    let from = format!("{}?schema=public", source.url);
    let imported = import(&target, &from, &[]);
    check_prisma_import(&imported);
    check_prisma_target(target, &mut seed, &from).await;
}

fn check_prisma_import(imported: &Summary) {
    let out = &imported.output;
    assert_eq!(imported.of("users"), [3, 0, 0, 0], "{out}");
    assert_eq!(imported.of("accounts"), [1, 0, 1, 0], "{out}");
    assert_eq!(imported.of("passkeys"), [1, 0, 0, 1], "{out}");
    // Carol's two live sessions with guessable tokens are refused, each with a line.
    assert_eq!(imported.of("sessions"), [1, 0, 1, 2], "{out}");
    assert_eq!(out.matches("failed: its token has too little entropy").count(), 2, "{out}");
    assert!(!out.contains(&"0".repeat(64)) && !out.contains("00000000-0000-4000"), "{out}");
    assert_eq!(imported.of("verification_tokens"), [0, 0, 1, 0], "{out}");
    assert!(out.contains("passkeys bWFsZm9ybWVkLWNyZWRlbnRpYWw=: failed: public key is not"), "{out}");
}

async fn check_prisma_target(target: TestDb, seed: &mut sources::PrismaSeed, from: &str) {
    let server = serve(target).await;
    let mut auth = server.auth().await;
    let mut passkey_client = passkeys(&server).await;

    // Erin's Auth.js passkey signs in discoverably: its user handle is Auth.js's random one.
    let signed_in =
        passkey_login(&mut passkey_client, &mut seed.erin_passkey, "").await.unwrap().into_inner().signed_in.unwrap();
    assert_eq!(signed_in.user.as_ref().unwrap().id, ERIN);
    let listed = passkey_client
        .list_passkeys(bearer(pb::ListPasskeysRequest::default(), &signed_in.session_token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.passkeys.len(), 1);

    // Carol: bcrypt sign-in, her imported session, and a new passkey on her cuid id.
    let carol = login(&mut auth, "carol@example.com", CAROL_PASSWORD).await.unwrap();
    assert_eq!(carol.user.as_ref().unwrap().id, CAROL);
    assert!(stored_hash(&server, CAROL).await.unwrap().starts_with("$argon2id$"));
    let session = get_session(&mut auth, &seed.carol_session).await.unwrap();
    assert_eq!(session.user.unwrap().id, CAROL);
    // Her imported session was never authenticated in Keyward: no factor change without a
    // re-authentication (its authentication time is the epoch).
    assert_eq!(session.session.unwrap().authenticate_time.unwrap().seconds, 0);
    let refused = passkey_client
        .start_passkey_registration(bearer(pb::StartPasskeyRegistrationRequest {}, &seed.carol_session))
        .await
        .unwrap_err();
    assert_eq!((refused.code(), reason(&refused).as_str()), (Code::FailedPrecondition, "REAUTHENTICATION_REQUIRED"));
    for token in &seed.low_entropy_sessions {
        let status = get_session(&mut auth, token).await.unwrap_err();
        assert_eq!(reason(&status), "SESSION_INVALID", "{token}");
    }
    let mut laptop = TestPasskey::new();
    add_passkey(&mut passkey_client, &mut laptop, &carol.session_token, "Laptop").await;
    let again = passkey_login(&mut passkey_client, &mut laptop, "").await.unwrap().into_inner().signed_in.unwrap();
    assert_eq!(again.user.unwrap().id, CAROL);
    // Dan: an argon2id PHC hash with other parameters, kept and upgraded.
    let dan_hash = server.app.services().store().find_user_by_email("dan@example.com").await.unwrap().unwrap();
    assert!(dan_hash.password_hash.as_deref().unwrap().starts_with("$argon2id$v=19$m=1024,t=1,p=1$"));
    login(&mut auth, "dan@example.com", DAN_PASSWORD).await.unwrap();

    // A second run changes nothing (the counter the sign-in moved stays).
    let store: Store = server.app.services().store().clone();
    let before = store.row_counts().await.unwrap();
    let second = import(&server.db, from, &[]);
    assert_eq!(second.of("users"), [0, 0, 3, 0], "{}", second.output);
    assert_eq!(second.of("passkeys"), [0, 0, 1, 1], "{}", second.output);
    assert_eq!(second.of("sessions"), [0, 0, 2, 2], "{}", second.output);
    assert_eq!(store.row_counts().await.unwrap(), before);
    server.stop().await;
}

/// The progress bar is drawn only when stderr is a terminal: piped, stderr stays empty; under a
/// pseudo-terminal (`script`), the bar's lines appear.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_bar_only_on_a_terminal() {
    let source = TestDb::create(Backend::Sqlite).await;
    let path = source.data_dir.join("authjs.db");
    seed_prisma(Backend::Sqlite, &format!("sqlite://{}?mode=rwc", path.display())).await;
    let target = TestDb::create(Backend::Sqlite).await;
    let binary = env!("CARGO_BIN_EXE_keyward");
    let args = ["--data-dir", target.data_dir.to_str().unwrap(), "import", "authjs", "--dry-run", "--from"];
    let from = format!("file:{}", path.display());
    let piped = Command::new(binary).args(args).arg(&from).env("KEYWARD_LOG", "warn").output().unwrap();
    assert!(piped.status.success());
    assert_eq!(String::from_utf8_lossy(&piped.stderr), "", "no progress output without a terminal");

    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("util-linux `script` is not installed: the terminal half of this test cannot run here");
        return;
    }
    let quoted: Vec<String> = std::iter::once(binary.to_owned())
        .chain(args.iter().map(|a| (*a).to_owned()))
        .chain([from])
        .map(|a| format!("'{}'", a.replace('\'', "'\\''")))
        .collect();
    let on_terminal = Command::new("script")
        .args(["-qec", &quoted.join(" "), "/dev/null"])
        .env("KEYWARD_LOG", "warn")
        .output()
        .unwrap();
    assert!(on_terminal.status.success());
    let screen = String::from_utf8_lossy(&on_terminal.stdout);
    assert!(screen.contains("users 3 rows"), "{screen}");
    assert!(screen.contains("passkeys 2 rows"), "{screen}");
}

/// A source that is not an Auth.js database stops the command with one line saying why, before
/// anything is written to the target.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unusable_sources_stop_with_one_line_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let not_authjs = dir.path().join("blog.db");
    let db = Database::connect(format!("sqlite://{}?mode=rwc", not_authjs.display())).await.unwrap();
    db.execute_unprepared("CREATE TABLE posts (id INTEGER PRIMARY KEY, title TEXT)").await.unwrap();
    db.close().await.unwrap();
    let target = TestDb::create(Backend::Sqlite).await;
    for (from, expected) in [
        ("mysql://root@127.0.0.1/app".to_owned(), "unsupported source database URL"),
        (format!("file:{}", dir.path().join("missing.db").display()), "no SQLite database at"),
        (format!("file:{}", not_authjs.display()), "no Auth.js user table found (looked for User, users, user)"),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_keyward"))
            .args(["--data-dir", target.data_dir.to_str().unwrap(), "import", "authjs", "--from", &from])
            .env("KEYWARD_LOG", "warn")
            .output()
            .unwrap();
        assert!(!output.status.success(), "{from}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(expected), "{from}: {stderr}");
        assert!(target_is_untouched(&target).await, "{from}: the target was written");
    }
}
