//! `keyward import better-auth` end to end: source databases built by better-auth itself
//! (tests/better-auth/seed.mjs: its migrations, its sign-up, sign-in and two-factor endpoints) on
//! SQLite and PostgreSQL, imported by the real binary, then a real Keyward on the imported data:
//! scrypt users sign in with the same password (and are re-hashed to argon2id), the signed
//! `better-auth.session_token` cookie works with GetSession (as a bearer token and as the
//! browser's cookie), imported sessions are never recent, accounts are linked, two-factor rows
//! are decrypted and reported; a re-run changes nothing; hostile rows are reported; a wrong
//! secret or a bad mapping file stops the import before anything is written.

use std::{path::Path, process::Command};

use keyward::pb::{self, o_auth_service_client::OAuthServiceClient};
use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};
use serde_json::Value as Json;
use tonic::Code;

use crate::{
    common::{
        Backend, TestDb, TestServer, bearer, both_backends, get_session, login, postgres_url, reason, test_config,
    },
    passkey_authenticator::TestPasskey,
    passkeys::{passkey_login, passkeys},
};

both_backends!(sqlite_source);

/// What the seed printed: users, the signed cookies and their raw tokens, the app secret.
struct Seed(Json);

impl Seed {
    fn user_id(&self, key: &str) -> String {
        self.0["users"][key]["id"].as_str().unwrap().to_owned()
    }

    fn password(&self, key: &str) -> String {
        self.0["users"][key]["password"].as_str().unwrap().to_owned()
    }

    fn cookie(&self, key: &str) -> String {
        self.0["cookies"][key].as_str().unwrap().to_owned()
    }

    fn token(&self, key: &str) -> String {
        self.0["tokens"][key].as_str().unwrap().to_owned()
    }

    fn secret(&self) -> String {
        self.0["secret"].as_str().unwrap().to_owned()
    }
}

/// Runs better-auth's seed against `url` (an empty PostgreSQL database, or a new SQLite file).
fn seed(url: &str) -> Seed {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/better-auth");
    assert!(
        dir.join("node_modules/better-auth").is_dir(),
        "the better-auth fixture is not installed: npm ci --prefix tests/better-auth (scripts/test does this)"
    );
    let output = Command::new("node").arg(dir.join("seed.mjs")).arg(url).output().expect("node");
    assert!(output.status.success(), "seed failed: {}", String::from_utf8_lossy(&output.stderr));
    Seed(serde_json::from_slice(&output.stdout).unwrap())
}

/// The binary's summary: per table, [created, updated, skipped, failed].
struct Summary {
    output: String,
    ok: bool,
    stderr: String,
}

impl Summary {
    fn of(&self, table: &str) -> [u64; 4] {
        self.output
            .lines()
            .find_map(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                let numbers: Vec<u64> = fields.get(1..)?.iter().filter_map(|f| f.parse().ok()).collect();
                (fields.len() == 5 && fields[0] == table && numbers.len() == 4)
                    .then(|| [numbers[0], numbers[1], numbers[2], numbers[3]])
            })
            .unwrap_or_else(|| panic!("no {table} line in:\n{}", self.output))
    }
}

/// Runs `keyward import better-auth --from SOURCE ARGS` against `target`.
fn import(target: &TestDb, source: &str, args: &[&str]) -> Summary {
    let mut command = Command::new(env!("CARGO_BIN_EXE_keyward"));
    for (key, _) in std::env::vars() {
        if key.starts_with("KEYWARD_") || key == "DATABASE_URL" || key == "BETTER_AUTH_SECRET" {
            command.env_remove(key);
        }
    }
    let output = command
        .args(["--data-dir"])
        .arg(&target.data_dir)
        .args(["import", "better-auth", "--from", source])
        .args(args)
        .env("DATABASE_URL", &target.url)
        .envs(target.master_key().map(|key| ("KEYWARD_MASTER_KEY", key)))
        .env("KEYWARD_LOG", "warn")
        .output()
        .unwrap();
    Summary {
        output: String::from_utf8(output.stdout).unwrap(),
        ok: output.status.success(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

/// Like `import`, asserting success.
fn imported(target: &TestDb, source: &str, args: &[&str]) -> Summary {
    let summary = import(target, source, args);
    assert!(summary.ok, "import failed: {}\n{}", summary.output, summary.stderr);
    summary
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

/// The sessions' `authenticated_at` in seconds since the epoch, for `user_id`.
async fn authenticated_at(url: &str, user_id: &str) -> Vec<i64> {
    let db = Database::connect(url).await.unwrap();
    let backend = db.get_database_backend();
    let sql = format!("SELECT authenticated_at FROM sessions WHERE user_id = '{user_id}'");
    let rows = db.query_all_raw(Statement::from_string(backend, sql)).await.unwrap();
    db.close().await.unwrap();
    rows.iter()
        .map(|row| row.try_get::<chrono::DateTime<chrono::Utc>>("", "authenticated_at").unwrap().timestamp())
        .collect()
}

async fn stored_hash(server: &TestServer, user_id: &str) -> Option<String> {
    server.app.services().store().find_user(user_id).await.unwrap().unwrap().password_hash
}

/// A better-auth SQLite database (dates as ISO text, flags as 0/1) into `target`.
async fn sqlite_source(target: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("better-auth.db");
    let seed = seed(&format!("sqlite:{}", path.display()));
    let from = format!("sqlite:{}", path.display());
    check_import(&seed, &from, TestDb::create(target).await).await;
}

/// A better-auth PostgreSQL database (its pg adapter: timestamptz, booleans) into SQLite.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_source() {
    if postgres_url().is_none() {
        eprintln!("TEST_DATABASE_URL is not set: the PostgreSQL better-auth source cannot be built here");
        return;
    }
    let source = TestDb::create(Backend::Postgres).await;
    let seed = seed(&source.url);
    check_import(&seed, &source.url, TestDb::create(Backend::Sqlite).await).await;
}

async fn check_import(seed: &Seed, from: &str, target: TestDb) {
    let secret = seed.secret();
    let with_secret = ["--secret", secret.as_str()];

    // A dry run reads and reports everything and creates nothing at all.
    let dry = imported(&target, from, &[&with_secret[..], &["--dry-run"]].concat());
    assert!(dry.output.contains("dry run: nothing was written"), "{}", dry.output);
    assert_eq!(dry.of("users"), [5, 0, 1, 2], "{}", dry.output);
    assert!(target_is_untouched(&target).await, "a dry run wrote to the target");

    let first = imported(&target, from, &with_secret);
    let out = &first.output;
    // ada, nfkc, grace, corrupt (without its password), huge (without its name); dup1 and dup2
    // differ only in case: both reported, neither merged; the anonymous guest skipped.
    assert_eq!(first.of("users"), [5, 0, 1, 2], "{out}");
    assert_eq!(first.of("accounts"), [2, 0, 0, 0], "{out}");
    // Sign-ups and sign-ins made 11 sessions: 1 expired, 1 the guest's, 2 of the duplicate users.
    assert_eq!(first.of("sessions"), [7, 0, 2, 2], "{out}");
    assert_eq!(first.of("two_factor"), [0, 0, 1, 0], "{out}");
    assert_eq!(first.of("passkeys"), [0, 0, 0, 1], "{out}");
    for expected in [
        format!(
            "users {}: failed: its email address is the same as user {}'s",
            seed.user_id("dup1"),
            seed.user_id("dup2")
        ),
        format!("users {}: imported without: its password (scrypt salt is not", seed.user_id("corrupt")),
        format!("users {}: imported without: its name (longer than", seed.user_id("huge")),
        "1 two-factor enrolment(s) were read and decrypted but not imported".to_owned(),
        "1 anonymous user(s) (anonymous plugin) were not imported".to_owned(),
        "passkeys Y29ycnVwdC1jcmVkZW50aWFs: failed: credentialPublicKey is not base64".to_owned(),
    ] {
        assert!(out.contains(&expected), "missing {expected:?} in:\n{out}");
    }
    // Nothing secret in the report: no token, no cookie, no address of a failed row.
    assert!(!out.contains(&seed.token("ada")) && !out.contains("DUP@Example.com") && !out.contains(&secret), "{out}");

    let config = with_github(test_config(&target));
    let server = TestServer::start_on(target, config).await;
    let mut auth = server.auth().await;
    let ada = seed.user_id("ada");

    // better-auth's scrypt signs in with the original password, then is argon2id.
    assert!(stored_hash(&server, &ada).await.unwrap().starts_with("$better-auth-scrypt$"));
    let status = login(&mut auth, "ada@example.com", "violet-otter-lamp-94").await.unwrap_err();
    assert_eq!((status.code(), reason(&status).as_str()), (Code::Unauthenticated, "INVALID_CREDENTIALS"));
    let signed_in = login(&mut auth, "ada@example.com", &seed.password("ada")).await.unwrap();
    assert_eq!(signed_in.user.as_ref().unwrap().id, ada, "the original id is kept");
    assert!(stored_hash(&server, &ada).await.unwrap().starts_with("$argon2id$"), "re-hashed on first sign-in");
    login(&mut auth, "ada@example.com", &seed.password("ada")).await.unwrap();
    // better-auth hashed NFKC("Ｐａｓｓ-ﬁsh-42-ever") = "Pass-fish-42-ever": the NFKC-equal plain
    // form signs in against its scrypt hash. The re-hash is of what was typed, normalized as
    // Keyward normalizes (NFC), so from then on that form is the password.
    login(&mut auth, "nfkc@example.com", "Pass-fish-42-ever").await.unwrap();
    login(&mut auth, "nfkc@example.com", "Pass-fish-42-ever").await.unwrap();
    // The row with a corrupt hash was imported without it: nothing signs in with a password.
    let status = login(&mut auth, "corrupt@example.com", &seed.password("corrupt")).await.unwrap_err();
    assert_eq!(reason(&status), "INVALID_CREDENTIALS");

    // The live better-auth cookie is a Keyward session, URI-encoded as the browser holds it or not.
    let session = get_session(&mut auth, &seed.cookie("ada")).await.unwrap();
    assert_eq!(session.user.unwrap().id, ada);
    let decoded = percent_decode(&seed.cookie("grace"));
    assert_eq!(get_session(&mut auth, &decoded).await.unwrap().user.unwrap().id, seed.user_id("grace"));
    // Not without its signature, not with another one.
    let forged = format!("{}.{}", seed.token("ada"), "A".repeat(43) + "=");
    for refused in [seed.token("ada"), forged] {
        let status = get_session(&mut auth, &refused).await.unwrap_err();
        assert_eq!(reason(&status), "SESSION_INVALID");
    }
    // Imported sessions are never a recent authentication.
    let grace_sessions = authenticated_at(&server.db.url, &seed.user_id("grace")).await;
    assert!(!grace_sessions.is_empty() && grace_sessions.iter().all(|at| *at == 0), "{grace_sessions:?}");

    // The GitHub account is linked to Ada.
    let mut oauth = OAuthServiceClient::connect(server.base_url()).await.unwrap();
    let linked = oauth
        .list_linked_accounts(bearer(pb::ListLinkedAccountsRequest::default(), &seed.cookie("ada")))
        .await
        .unwrap()
        .into_inner();
    let linked: Vec<(&str, &str)> =
        linked.accounts.iter().map(|a| (a.provider.as_str(), a.provider_account_id.as_str())).collect();
    assert_eq!(linked, [("github", "583231")]);

    // A second run changes nothing, and keeps the argon2id hash Keyward made.
    let store = server.app.services().store().clone();
    let before = store.row_counts().await.unwrap();
    let second = imported(&server.db, from, &with_secret);
    for table in ["users", "accounts", "passkeys", "sessions"] {
        let [created, updated, _, _] = second.of(table);
        assert_eq!((created, updated), (0, 0), "{table}: {}", second.output);
    }
    assert_eq!(store.row_counts().await.unwrap(), before);
    assert!(stored_hash(&server, &ada).await.unwrap().starts_with("$argon2id$"));
    server.stop().await;
}

/// GitHub configured, so the OAuth service (ListLinkedAccounts) runs.
fn with_github(mut config: keyward::config::Config) -> keyward::config::Config {
    config.oauth = keyward::config::OAuthConfig {
        redirect_uris: vec!["https://app.example.com/api/auth/callback/github".into()],
        github: Some(keyward::config::GitHubConfig {
            client_id: "Iv1.test".into(),
            client_secret: "secret".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    config
}

fn percent_decode(value: &str) -> String {
    percent_encoding::percent_decode_str(value).decode_utf8().unwrap().into_owned()
}

/// A wrong secret, a mapping file that names missing tables, or one that is not JSON: the command
/// stops with one line saying why, before the target is opened. Custom names in a mapping file
/// are followed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_write_nothing_and_custom_names_are_followed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("better-auth.db");
    let seed = seed(&format!("sqlite:{}", path.display()));
    let from = format!("sqlite:{}", path.display());
    let target = TestDb::create(Backend::Sqlite).await;
    let mapping = dir.path().join("names.json");
    let not_json = dir.path().join("broken.json");
    std::fs::write(&mapping, r#"{"user": {"modelName": "people"}}"#).unwrap();
    std::fs::write(&not_json, "{ user: ").unwrap();
    let mapping_arg = mapping.display().to_string();
    let not_json_arg = not_json.display().to_string();
    for (args, expected) in [
        (
            vec!["--secret", "not-the-apps-secret-not-the-apps-secret"],
            "the secret decrypts none of the two-factor rows",
        ),
        (vec!["--mapping", mapping_arg.as_str()], "no table \"people\" for better-auth's \"user\" model"),
        (vec!["--mapping", not_json_arg.as_str()], "the mapping file:"),
    ] {
        let refused = import(&target, &from, &args);
        assert!(!refused.ok, "{args:?}: {}", refused.output);
        assert_eq!(refused.stderr.lines().count(), 1, "{}", refused.stderr);
        assert!(refused.stderr.contains(expected), "{args:?}: {}", refused.stderr);
        assert!(target_is_untouched(&target).await, "{args:?}: the target was written");
    }

    // The app renamed its user table and a column: the mapping file says so.
    let db = Database::connect(format!("sqlite://{}", path.display())).await.unwrap();
    db.execute_unprepared(r#"ALTER TABLE "user" RENAME TO people"#).await.unwrap();
    db.execute_unprepared(r#"ALTER TABLE people RENAME COLUMN "emailVerified" TO email_verified"#).await.unwrap();
    db.close().await.unwrap();
    std::fs::write(&mapping, r#"{"user": {"modelName": "people", "fields": {"emailVerified": "email_verified"}}}"#)
        .unwrap();
    let secret = seed.secret();
    let renamed = imported(&target, &from, &["--mapping", &mapping_arg, "--secret", &secret]);
    assert_eq!(renamed.of("users"), [5, 0, 1, 2], "{}", renamed.output);
    assert!(renamed.output.contains(r#"tables "people""#), "{}", renamed.output);
    let config = test_config(&target);
    let server = TestServer::start_on(target, config).await;
    let ada = server.app.services().store().find_user(&seed.user_id("ada")).await.unwrap().unwrap();
    assert!(ada.email_verified.is_some(), "emailVerified was read from the renamed column");
    server.stop().await;
}

/// Registers a passkey with better-auth's passkey plugin, over HTTP, with the project's software
/// authenticator: better-auth serves the seeded database (`seed.mjs serve`), the user signs in
/// with email and password, asks for registration options, and posts the credential.
async fn register_with_better_auth(url: &str, email: &str, password: &str) -> (TestPasskey, String) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/better-auth");
    let mut child = Command::new("node")
        .arg(dir.join("seed.mjs"))
        .args(["serve", url])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    // The first line says where it listens: waited for on a blocking thread, not on time.
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).map(|_| line)
    })
    .await
    .unwrap()
    .unwrap();
    let origin = serde_json::from_str::<Json>(&line).unwrap()["origin"].as_str().unwrap().to_owned();
    // Reached on 127.0.0.1; its origin (and the passkey's) is http://localhost:<port>.
    let base = origin.replace("localhost", "127.0.0.1");
    let http = reqwest::Client::new();
    let mut jar: Vec<String> = Vec::new();
    let remember = |jar: &mut Vec<String>, response: &reqwest::Response| {
        for value in response.headers().get_all(reqwest::header::SET_COOKIE) {
            let pair = value.to_str().unwrap().split(';').next().unwrap().to_owned();
            let name = pair.split('=').next().unwrap().to_owned();
            jar.retain(|kept| !kept.starts_with(&format!("{name}=")));
            jar.push(pair);
        }
    };
    let signed_in = http
        .post(format!("{base}/api/auth/sign-in/email"))
        .header("origin", &origin)
        .json(&serde_json::json!({ "email": email, "password": password }))
        .send()
        .await
        .unwrap();
    assert!(signed_in.status().is_success(), "better-auth sign-in: {}", signed_in.status());
    remember(&mut jar, &signed_in);
    let options = http
        .get(format!("{base}/api/auth/passkey/generate-register-options"))
        .header("origin", &origin)
        .header("cookie", jar.join("; "))
        .send()
        .await
        .unwrap();
    assert!(options.status().is_success(), "register options: {}", options.status());
    remember(&mut jar, &options);
    let options = options.text().await.unwrap();
    let mut authenticator = TestPasskey::at(&origin);
    let credential: Json = serde_json::from_str(&authenticator.create(&options)).unwrap();
    let verified = http
        .post(format!("{base}/api/auth/passkey/verify-registration"))
        .header("origin", &origin)
        .header("cookie", jar.join("; "))
        .json(&serde_json::json!({ "response": credential, "name": "Laptop" }))
        .send()
        .await
        .unwrap();
    let status = verified.status();
    assert!(status.is_success(), "verify-registration: {status} {}", verified.text().await.unwrap());
    // Closing its stdin ends the server.
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success());
    (authenticator, origin)
}

/// A passkey registered through better-auth's passkey plugin signs in to Keyward, discoverably,
/// with the same authenticator; the imported session of that user is not recent enough to add
/// another passkey without re-authenticating.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passkey_registered_with_better_auth_signs_in() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("better-auth.db");
    let url = format!("sqlite:{}", path.display());
    let seed = seed(&url);
    let (mut authenticator, origin) = register_with_better_auth(&url, "ada@example.com", &seed.password("ada")).await;
    let target = TestDb::create(Backend::Sqlite).await;
    let out = imported(&target, &url, &["--secret", &seed.secret()]);
    assert_eq!(out.of("passkeys"), [1, 0, 0, 1], "{}", out.output);

    let mut config = test_config(&target);
    config.rp_origins.push(origin);
    let server = TestServer::start_on(target, config).await;
    let mut client = passkeys(&server).await;
    let signed_in = passkey_login(&mut client, &mut authenticator, "").await.unwrap().into_inner().signed_in.unwrap();
    assert_eq!(signed_in.user.unwrap().id, seed.user_id("ada"));
    // And again (the counter moved forward and was kept).
    passkey_login(&mut client, &mut authenticator, "ada@example.com").await.unwrap();
    let listed = client
        .list_passkeys(bearer(pb::ListPasskeysRequest::default(), &seed.cookie("ada")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.passkeys.len(), 1);
    assert_eq!(listed.passkeys[0].name, "Laptop", "the name given in better-auth");
    server.stop().await;
}
