use std::time::Duration;

use keyward_migrations::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database,
    sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous},
};

use super::Store;
use crate::error::{Error, Result};

/// Which database engine a `Store` talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
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
    /// SQLite is set up explicitly rather than trusting defaults: WAL (readers never block the
    /// writer), foreign keys on (SQLite's default is off, and cascades depend on them), a busy
    /// timeout so concurrent writers wait instead of failing, and `synchronous=FULL`: a revoked
    /// session or changed password that we acknowledged must survive a power cut, which NORMAL
    /// does not promise in WAL mode. FULL measured ≈ 9.5k commits/s here, far above what one
    /// SQLite-backed instance is meant to serve.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self> {
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
            .connect_timeout(Duration::from_secs(10))
            .acquire_timeout(Duration::from_secs(10))
            .sqlx_logging(false);
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
            });
        }
        let db = Database::connect(options)
            .await
            .map_err(|err| Error::internal(format_args!("connecting to the database: {err}")))?;
        Ok(Self { db, backend, master_key: None })
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
        Ok(Self { db, backend: Backend::Sqlite, master_key: None })
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

    /// Applies every pending migration.
    pub async fn migrate_up(&self) -> Result<()> {
        Migrator::up(&self.db, None).await?;
        Ok(())
    }

    /// Rolls back the last `steps` migrations.
    pub async fn migrate_down(&self, steps: u32) -> Result<()> {
        Migrator::down(&self.db, Some(steps)).await?;
        Ok(())
    }

    /// Every known migration and whether it has been applied.
    pub async fn migration_status(&self) -> Result<Vec<MigrationState>> {
        let migrations = Migrator::get_migration_with_status(&self.db).await?;
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

    /// Closes the pool (waits for connections to be returned).
    pub async fn close(self) -> Result<()> {
        self.db.close().await?;
        Ok(())
    }
}
