//! The import scenario: `keyward import authjs` throughput for N synthetic users, each with a
//! bcrypt password, a GitHub account and a live session, in a Prisma-layout SQLite source (the
//! most common Auth.js setup), into a fresh target (SQLite, or `--database-url`). Reports
//! users/s and rows/s; one real bcrypt hash is shared by all rows (the import validates hashes,
//! it does not compute them).

use std::time::Instant;

use keyward::{
    Config,
    service::import::{ImportOptions, ImportTable, ImportTarget, NoProgress, import_authjs},
    store::{Store, authjs::AuthjsSource},
};
use sea_orm::{ConnectionTrait, Database, DbBackend, Statement, Value};

const SCHEMA: &str = r#"
CREATE TABLE "User" ("id" TEXT NOT NULL PRIMARY KEY, "name" TEXT, "email" TEXT, "emailVerified" DATETIME, "image" TEXT,
  "createdAt" DATETIME NOT NULL, "updatedAt" DATETIME NOT NULL, "password" TEXT);
CREATE UNIQUE INDEX "User_email_key" ON "User"("email");
CREATE TABLE "Account" ("id" TEXT NOT NULL PRIMARY KEY, "userId" TEXT NOT NULL, "type" TEXT NOT NULL, "provider" TEXT NOT NULL,
  "providerAccountId" TEXT NOT NULL, "refresh_token" TEXT, "access_token" TEXT, "expires_at" INTEGER, "token_type" TEXT,
  "scope" TEXT, "id_token" TEXT, "session_state" TEXT, "createdAt" DATETIME NOT NULL, "updatedAt" DATETIME NOT NULL);
CREATE TABLE "Session" ("id" TEXT NOT NULL PRIMARY KEY, "sessionToken" TEXT NOT NULL, "userId" TEXT NOT NULL,
  "expires" DATETIME NOT NULL, "createdAt" DATETIME NOT NULL, "updatedAt" DATETIME NOT NULL);
CREATE TABLE "VerificationToken" ("identifier" TEXT NOT NULL, "token" TEXT NOT NULL, "expires" DATETIME NOT NULL);
"#;

/// Rows per multi-row INSERT while building the source.
const CHUNK: usize = 400;

async fn build_source(url: &str, users: usize) -> anyhow::Result<()> {
    let db = Database::connect(url).await?;
    db.execute_unprepared(SCHEMA).await?;
    let timed = Instant::now();
    let hash = bcrypt::hash("violet-otter-lamp-93", 10)?;
    println!(
        "one bcrypt hash at cost 10: {:.0} ms (cost 15, the import's bound, is 32 times that)",
        timed.elapsed().as_secs_f64() * 1000.0
    );
    let now = chrono::Utc::now().timestamp_millis();
    let later = now + 30 * 24 * 3600 * 1000;
    let txn = sea_orm::TransactionTrait::begin(&db).await?;
    for start in (0..users).step_by(CHUNK) {
        let end = (start + CHUNK).min(users);
        let insert = |table: &str, columns: &str, width: usize, row: &dyn Fn(usize) -> Vec<Value>| {
            let placeholders = vec![format!("({})", vec!["?"; width].join(", ")); end - start].join(", ");
            let values: Vec<Value> = (start..end).flat_map(row).collect();
            Statement::from_sql_and_values(
                DbBackend::Sqlite,
                format!("INSERT INTO \"{table}\" ({columns}) VALUES {placeholders}"),
                values,
            )
        };
        txn.execute_raw(insert("User", "id, name, email, \"createdAt\", \"updatedAt\", password", 6, &|i| {
            vec![
                format!("cu{i:023}").into(),
                format!("User {i}").into(),
                format!("user{i}@example.com").into(),
                now.into(),
                now.into(),
                hash.clone().into(),
            ]
        }))
        .await?;
        txn.execute_raw(insert(
            "Account",
            "id, \"userId\", type, provider, \"providerAccountId\", access_token, token_type, scope, \"createdAt\", \"updatedAt\"",
            10,
            &|i| {
                vec![format!("ca{i:023}").into(), format!("cu{i:023}").into(), "oauth".into(), "github".into(), (1_000_000 + i).to_string().into(), format!("gho_{i:036}").into(), "bearer".into(), "read:user".into(), now.into(), now.into()]
            },
        ))
        .await?;
        txn.execute_raw(insert(
            "Session",
            "id, \"sessionToken\", \"userId\", expires, \"createdAt\", \"updatedAt\"",
            6,
            &|i| {
                vec![
                    format!("cs{i:023}").into(),
                    uuid::Uuid::new_v4().to_string().into(),
                    format!("cu{i:023}").into(),
                    later.into(),
                    now.into(),
                    now.into(),
                ]
            },
        ))
        .await?;
    }
    txn.commit().await?;
    db.close().await?;
    Ok(())
}

/// Builds the source, imports it once into a fresh target, and prints the figures.
pub async fn run(users: usize, database_url: Option<String>) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let source_path = dir.path().join("authjs.db");
    let started = Instant::now();
    build_source(&format!("sqlite://{}?mode=rwc", source_path.display()), users).await?;
    println!(
        "source: {users} users, {users} GitHub accounts, {users} sessions (Prisma layout, SQLite) built in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let config = Config { data_dir: dir.path().join("target"), database_url, ..Config::default() };
    if config.uses_sqlite() {
        std::fs::create_dir_all(&config.data_dir)?;
    }
    let store = Store::connect(&config.database_url(), config.database_max_connections).await?;
    store.migrate_up().await?;
    let source = AuthjsSource::open(&format!("file:{}", source_path.display())).await?;
    let target = ImportTarget::write_to(store);
    let started = Instant::now();
    let report = import_authjs(
        &source,
        &target,
        &keyward::app::settings::import_policy(&config),
        &ImportOptions::default(),
        &NoProgress,
    )
    .await?;
    let seconds = started.elapsed().as_secs_f64();
    source.close().await?;
    let created: u64 = [ImportTable::Users, ImportTable::Accounts, ImportTable::Sessions]
        .iter()
        .map(|table| report.counts(*table).created)
        .sum();
    anyhow::ensure!(
        report.counts(ImportTable::Users).created == users as u64,
        "not every user was imported:\n{report}"
    );
    println!("import into {}: {seconds:.1} s", if config.uses_sqlite() { "SQLite" } else { "PostgreSQL" });
    println!("  {:>10.0} users/s", users as f64 / seconds);
    println!("  {:>10.0} rows/s (users + accounts + sessions)", created as f64 / seconds);
    Ok(())
}
