//! Opening the database: pool, timeouts, SQLite pragmas, a transaction pooler in front of
//! PostgreSQL, migrations and the read-only schema check.

use std::{sync::Arc, time::Duration};

use keyward_migrations::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection,
    sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous},
};

use super::{Store, is_unavailable, pooled::Connection};
use crate::error::{Error, Result};

/// How long a call waits on the database at most by default (`database_timeout_ms`).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(1500);

/// SQLite's busy timeout: a writer waits this long for the write lock before failing.
pub(super) const BUSY_TIMEOUT_PRAGMA: &str = "PRAGMA busy_timeout = 5000";

/// Largest size the SQLite WAL file is left at after a checkpoint resets it. Without it the file
/// stays at its high-water mark forever (20,000 anonymous StartPasskeyLogin calls left 300 MiB).
const JOURNAL_SIZE_LIMIT_BYTES: u64 = 64 * 1024 * 1024;
/// Pages after which a commit runs a PASSIVE checkpoint (SQLite's default, made explicit).
const WAL_AUTOCHECKPOINT_PAGES: u32 = 1000;

/// Which database engine a `Store` talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// How to reach the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseSettings {
    /// `sqlite:…` or `postgres://…`: the primary, or a pooler in front of it.
    pub url: String,
    pub max_connections: u32,
    /// The longest wait on the database (see `Store::connect_with`).
    pub timeout: Duration,
    /// `url` is a transaction-pooling proxy (PgBouncer `pool_mode = transaction`): no session
    /// state may outlive a transaction. Every statement then runs inside a transaction
    /// (`pooled.rs` says why), sqlx's statement cache is off, and the session settings Keyward
    /// otherwise sends at start-up (`statement_timeout`, `idle_in_transaction_session_timeout`)
    /// must come from the role instead (`ALTER ROLE … SET`; PgBouncer 1.18 refuses the
    /// `options` start-up parameter that carries them).
    pub transaction_pooling: bool,
    /// PostgreSQL: where what needs a session of its own connects — the session event
    /// listener's `LISTEN` and, behind a transaction pooler, migrations. The primary directly,
    /// or a session-mode entry of the pooler (so that repointing the pooler moves it too).
    /// None: `url`.
    pub listen_url: Option<String>,
}

impl DatabaseSettings {
    /// `url` reached directly, with the default timeout.
    pub fn direct(url: impl Into<String>, max_connections: u32) -> Self {
        Self {
            url: url.into(),
            max_connections,
            timeout: DEFAULT_TIMEOUT,
            transaction_pooling: false,
            listen_url: None,
        }
    }
}

/// Whether a database holds Keyward's schema, found without writing anything (unlike the
/// migrator, which creates its bookkeeping table on first look).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaState {
    /// No Keyward tables yet.
    Empty,
    /// Every migration this build knows has been applied.
    Current,
    /// Some migrations are missing (or unknown ones applied): `keyward migrate up` first.
    Outdated,
}

/// One migration and whether it has run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationState {
    pub name: String,
    pub applied: bool,
}

impl Store {
    /// Connects to `url` (`sqlite://path?mode=rwc` or `postgres://…`).
    ///
    /// SQLite is set up explicitly rather than trusting defaults: one writer connection beside
    /// a pool of `max_connections` readers (`Store::writer`), WAL (readers never block the
    /// writer), foreign keys on (SQLite's default is off, and cascades depend on them), a busy
    /// timeout so concurrent writers wait instead of failing, and `synchronous=FULL`: a revoked
    /// session or changed password that we acknowledged must survive a power cut, which NORMAL
    /// does not promise in WAL mode. FULL measured ≈ 9.5k commits/s here, far above what one
    /// SQLite-backed instance is meant to serve. The WAL is bounded: automatic PASSIVE
    /// checkpoints every 1000 pages, `journal_size_limit` so a reset WAL file shrinks to 64 MiB,
    /// and `maintain_wal` (run periodically) truncates it when idle.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self> {
        Self::connect_with(url, max_connections, DEFAULT_TIMEOUT).await
    }

    /// Like `connect`, with `timeout` bounding every wait on the database: acquiring a pooled
    /// connection (its liveness check included) and opening one; on PostgreSQL also each
    /// statement (`statement_timeout`) and an idle transaction. A database that is down, hanging
    /// or refusing so answers `StoreUnavailable` within `timeout`, not after sqlx's 30 s.
    pub async fn connect_with(url: &str, max_connections: u32, timeout: Duration) -> Result<Self> {
        Self::connect_as(&DatabaseSettings { timeout, ..DatabaseSettings::direct(url, max_connections) }).await
    }

    /// Connects as `settings` say (`connect_with` is the direct case).
    pub async fn connect_as(settings: &DatabaseSettings) -> Result<Self> {
        let DatabaseSettings { url, max_connections, timeout, transaction_pooling, listen_url } = settings;
        let (url, max_connections, timeout, transaction_pooling) =
            (url.as_str(), *max_connections, *timeout, *transaction_pooling);
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(Error::internal("database URL must start with sqlite: or postgres://"));
        };
        let mut options = ConnectOptions::new(url.to_owned());
        options
            .max_connections(max_connections)
            .min_connections(1)
            .connect_timeout(timeout)
            .acquire_timeout(timeout)
            .sqlx_logging(false);
        if transaction_pooling && backend != Backend::Postgres {
            return Err(Error::internal("a transaction pooler is only for PostgreSQL"));
        }
        if transaction_pooling {
            // No statement outlives its transaction's server connection, so caching one is
            // wrong; no start-up parameter PgBouncer does not track (it refuses `options` and
            // `extra_float_digits`; PostgreSQL ≥ 12 prints floats exactly by default anyway).
            options.map_sqlx_postgres_opts(|opts| opts.statement_cache_capacity(0).extra_float_digits(None));
        } else if backend == Backend::Postgres {
            let millis = timeout.as_millis().to_string();
            options.map_sqlx_postgres_opts(move |opts| {
                opts.options([
                    ("statement_timeout", millis.as_str()),
                    ("idle_in_transaction_session_timeout", millis.as_str()),
                ])
            });
        }
        if backend == Backend::Sqlite {
            // A local file cannot go stale the way a network connection can: skip the ping that
            // sqlx otherwise runs before handing out each pooled connection.
            options.test_before_acquire(false);
            options.map_sqlx_sqlite_opts(|opts| {
                opts.create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Full)
                    .foreign_keys(true)
                    .busy_timeout(Duration::from_secs(5))
                    .pragma("journal_size_limit", JOURNAL_SIZE_LIMIT_BYTES.to_string())
                    .pragma("wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES.to_string())
            });
        }
        let connect = |options: ConnectOptions| async move {
            match Database::connect(options).await {
                Ok(db) => Ok(db),
                Err(err) => Err(cannot_connect(url, backend, &err, timeout).await),
            }
        };
        let writer = if backend == Backend::Sqlite {
            // One writer connection beside the readers (see `Store::writer`); opened first, so
            // it is the one that creates the file.
            let mut writer = options.clone();
            writer.max_connections(1).min_connections(1);
            Some(connect(writer).await?)
        } else {
            None
        };
        let pool = connect(options).await?;
        let db =
            if transaction_pooling { Connection::behind_transaction_pooler(pool) } else { Connection::direct(pool) };
        let writer = writer.map_or_else(|| db.clone(), Connection::direct);
        let listen_url = listen_url.as_deref().filter(|_| backend == Backend::Postgres).map(Arc::from);
        Ok(Self {
            db,
            writer,
            backend,
            timeout,
            listen_url,
            master_key: None,
            webhooks: Default::default(),
            feed: Arc::default(),
        })
    }

    /// Connects to an existing database for reading only: a SQLite file is opened read-only and
    /// never created, so looking at a target (an import's `--dry-run`) leaves no trace.
    pub async fn connect_read_only(url: &str) -> Result<Self> {
        if !url.starts_with("sqlite:") {
            return Self::connect(url, 2).await;
        }
        let mut options = ConnectOptions::new(url.to_owned());
        options.max_connections(2).min_connections(1).sqlx_logging(false).test_before_acquire(false);
        options.map_sqlx_sqlite_opts(|opts| {
            opts.read_only(true).create_if_missing(false).foreign_keys(true).busy_timeout(Duration::from_secs(5))
        });
        let db = Database::connect(options)
            .await
            .map_err(|err| Error::internal(format_args!("opening the database read-only: {err}")))?;
        let db = Connection::direct(db);
        Ok(Self {
            writer: db.clone(),
            db,
            backend: Backend::Sqlite,
            timeout: DEFAULT_TIMEOUT,
            listen_url: None,
            master_key: None,
            webhooks: Default::default(),
            feed: Arc::default(),
        })
    }

    /// Whether Keyward's schema is there and current, by reading the migrator's table.
    pub async fn schema_state(&self) -> Result<SchemaState> {
        let backend = self.db.get_database_backend();
        let statement = sea_orm::Statement::from_string(backend, "SELECT version FROM seaql_migrations");
        let Ok(rows) = self.db.query_all_raw(statement).await else { return Ok(SchemaState::Empty) };
        let applied: std::collections::BTreeSet<String> =
            rows.iter().filter_map(|row| row.try_get::<String>("", "version").ok()).collect();
        let known: std::collections::BTreeSet<String> =
            Migrator::migrations().iter().map(|m| m.name().to_owned()).collect();
        Ok(match () {
            () if applied.is_empty() => SchemaState::Empty,
            () if applied == known => SchemaState::Current,
            () => SchemaState::Outdated,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Applies every pending migration; returns how many ran.
    pub async fn migrate_up(&self) -> Result<usize> {
        let session = self.migration_session().await?;
        let connection = session.as_ref().unwrap_or(&*self.writer);
        let result = async {
            let pending = Migrator::get_pending_migrations(connection).await?.len();
            Migrator::up(connection, None).await?;
            Ok::<_, sea_orm::DbErr>(pending)
        }
        .await;
        close_session(session).await;
        Ok(result?)
    }

    /// Rolls back the last `steps` migrations.
    pub async fn migrate_down(&self, steps: u32) -> Result<()> {
        let session = self.migration_session().await?;
        let result = Migrator::down(session.as_ref().unwrap_or(&*self.writer), Some(steps)).await;
        close_session(session).await;
        Ok(result?)
    }

    /// Behind a transaction pooler, a connection of its own to `listen_url` for the migrator
    /// (its statements do not all run in transactions); otherwise None: the pool does.
    async fn migration_session(&self) -> Result<Option<DatabaseConnection>> {
        if !self.db.behind_pooler() {
            return Ok(None);
        }
        let url = self.listen_url.as_deref().ok_or_else(|| {
            Error::internal("behind a transaction pooler, migrations need database_listen_url (a direct connection)")
        })?;
        let mut options = ConnectOptions::new(url.to_owned());
        options.max_connections(1).connect_timeout(self.timeout).acquire_timeout(self.timeout).sqlx_logging(false);
        // A pooler's session-mode entry refuses start-up parameters it does not track.
        options.map_sqlx_postgres_opts(|opts| opts.extra_float_digits(None));
        let session = Database::connect(options)
            .await
            .map_err(|err| Error::internal(format_args!("connecting to database_listen_url: {err}")))?;
        Ok(Some(session))
    }

    /// Every known migration and whether it has been applied.
    pub async fn migration_status(&self) -> Result<Vec<MigrationState>> {
        let session = self.migration_session().await?;
        let migrations = Migrator::get_migration_with_status(session.as_ref().unwrap_or(&*self.db)).await;
        close_session(session).await;
        let migrations = migrations?;
        Ok(migrations
            .iter()
            .map(|m| MigrationState {
                name: m.name().to_owned(),
                applied: matches!(m.status(), keyward_migrations::MigrationStatus::Applied),
            })
            .collect())
    }

    /// Every known migration as not applied: the status of a database that does not exist yet,
    /// answered without creating it.
    pub fn migrations_all_pending() -> Vec<MigrationState> {
        Migrator::migrations().iter().map(|m| MigrationState { name: m.name().to_owned(), applied: false }).collect()
    }

    /// A trivial query, for health checks.
    pub async fn ping(&self) -> Result<()> {
        self.db.execute_unprepared("SELECT 1").await?;
        Ok(())
    }

    /// Why the database does not answer, in a few words for `/healthz` and the health service
    /// (None: it answered within the store's timeout).
    pub async fn unavailable_reason(&self) -> Option<&'static str> {
        match tokio::time::timeout(self.timeout, self.db.execute_unprepared("SELECT 1")).await {
            Ok(Ok(_)) => None,
            Err(_) => Some("the database did not answer in time"),
            Ok(Err(err)) if is_unavailable(&err) => Some("the database cannot be reached"),
            Ok(Err(_)) => Some("the database answered with an error"),
        }
    }

    /// Closes the pools (waits for connections to be returned).
    pub async fn close(self) -> Result<()> {
        if self.backend == Backend::Sqlite {
            self.writer.into_pool().close().await?;
        }
        self.db.into_pool().close().await?;
        Ok(())
    }
}

async fn close_session(session: Option<DatabaseConnection>) {
    if let Some(session) = session
        && let Err(err) = session.close().await
    {
        tracing::warn!(error = %err, "closing the migration connection");
    }
}

/// The start-up error when the database cannot be opened: where (host, port, database and user,
/// or the file — never the password) and why. sqlx's pool only says it timed out waiting for a
/// connection, so one direct attempt, bounded by the same timeout, finds the cause.
async fn cannot_connect(url: &str, backend: Backend, err: &sea_orm::DbErr, timeout: Duration) -> Error {
    use sea_orm::{
        RuntimeErr,
        sqlx::{Connection, Error as Sqlx},
    };
    let sqlx = match err {
        sea_orm::DbErr::Conn(RuntimeErr::SqlxError(e)) => Some(e.as_ref()),
        _ => None,
    };
    let cause = match sqlx {
        Some(Sqlx::PoolTimedOut) => {
            let attempt = async {
                match backend {
                    Backend::Postgres => sea_orm::sqlx::PgConnection::connect(url).await.map(drop),
                    Backend::Sqlite => sea_orm::sqlx::SqliteConnection::connect(url).await.map(drop),
                }
            };
            match tokio::time::timeout(timeout, attempt).await {
                Ok(Err(err)) => sqlx_cause(&err),
                Err(_) => format!("no answer within {} ms (database_timeout_ms)", timeout.as_millis()),
                Ok(Ok(())) => "the pool timed out waiting for a connection".to_owned(),
            }
        }
        Some(err) => sqlx_cause(err),
        None => err.to_string(),
    };
    Error::Startup(format!("cannot connect to {}: {cause}", describe_database(url)))
}

/// The cause in the words of whoever refused: the OS (`Connection refused`), the server
/// (`database "x" does not exist`), or the resolver.
fn sqlx_cause(err: &sea_orm::sqlx::Error) -> String {
    use sea_orm::sqlx::Error as Sqlx;
    match err {
        Sqlx::Io(io) => io.to_string(),
        Sqlx::Database(db) => db.message().to_owned(),
        Sqlx::Tls(tls) => format!("TLS: {tls}"),
        other => other.to_string(),
    }
}

/// "PostgreSQL at db.internal:5432 (database keyward, user keyward)", or "SQLite database
/// ./keyward-data/keyward.db": what an operator needs to find it, without the password.
pub(super) fn describe_database(url: &str) -> String {
    if let Some(rest) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) {
        return format!("SQLite database {}", rest.split('?').next().unwrap_or_default());
    }
    let Ok(parsed) = url::Url::parse(url) else { return "the database (its URL does not parse)".to_owned() };
    let host = parsed.host_str().filter(|host| !host.is_empty()).map_or_else(
        || {
            // A Unix socket: libpq's `?host=/run/postgresql` form.
            parsed.query_pairs().find(|(key, _)| key == "host").map_or("localhost".into(), |(_, dir)| dir.into_owned())
        },
        str::to_owned,
    );
    let port = parsed.port().unwrap_or(5432);
    let database = parsed.path().trim_start_matches('/');
    let user = parsed.username();
    let mut detail = Vec::new();
    if !database.is_empty() {
        detail.push(format!("database {database}"));
    }
    if !user.is_empty() {
        detail.push(format!("user {user}"));
    }
    let detail = if detail.is_empty() { String::new() } else { format!(" ({})", detail.join(", ")) };
    format!("PostgreSQL at {host}:{port}{detail}")
}

#[cfg(test)]
mod tests {
    use super::describe_database;

    #[test]
    fn a_database_is_described_without_its_password() {
        assert_eq!(
            describe_database("postgres://keyward:s3cret@db.internal:6432/keyward?sslmode=require"),
            "PostgreSQL at db.internal:6432 (database keyward, user keyward)"
        );
        assert_eq!(describe_database("postgresql://localhost/test"), "PostgreSQL at localhost:5432 (database test)");
        assert_eq!(
            describe_database("sqlite:///var/lib/keyward/keyward.db?mode=rwc"),
            "SQLite database /var/lib/keyward/keyward.db"
        );
        assert!(!describe_database("postgres://u:s3cret@h/d").contains("s3cret"));
    }
}
