//! The source side of `keyward import authjs`: an Auth.js database (PostgreSQL or SQLite), opened
//! read-only, its layout detected from the catalog, and its rows streamed as plain Rust values
//! from one consistent snapshot. Nothing here writes to the source or knows Keyward's rules.

pub(super) mod layout;
pub(super) mod rows;

use sea_orm::{
    AccessMode, ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    IsolationLevel, Statement, StreamTrait, TransactionTrait, Value,
};
use tokio_stream::{Stream, StreamExt};

pub use layout::{Layout, LayoutKind, SourceTable};
use rows::RowReader;
pub use rows::{BadRow, SourceAccount, SourceAuthenticator, SourceSession, SourceUser};

use crate::error::{Error, Result};

/// The source database engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceBackend {
    Postgres,
    Sqlite,
}

impl std::fmt::Display for SourceBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Postgres => "PostgreSQL",
            Self::Sqlite => "SQLite",
        })
    }
}

/// A source row as the stream yields it: `Err(BadRow)` for a row that cannot be decoded, which
/// the import reports and skips; a database failure ends the stream with `Error`.
pub type SourceRow<T> = Result<Result<T, BadRow>>;

/// A table's rows as a stream, and how many there are (for progress).
pub struct SourceRows<S> {
    pub total: u64,
    pub rows: S,
}

/// An open Auth.js database, read inside one read-only snapshot.
pub struct AuthjsSource {
    db: DatabaseConnection,
    snapshot: DatabaseTransaction,
    backend: SourceBackend,
    schema: Option<String>,
    layout: Layout,
}

impl std::fmt::Debug for AuthjsSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthjsSource").field("backend", &self.backend).field("layout", &self.layout).finish()
    }
}

/// `postgres://…` (a Prisma-style `?schema=` is honoured), `sqlite://path`, `sqlite:path` or
/// Prisma's `file:path`. SQLite sources are opened read-only.
pub(super) fn connect_url(url: &str) -> Result<(SourceBackend, String, Option<String>)> {
    let unsupported =
        || Error::internal(format!("unsupported source database URL (postgres://, sqlite: or file:): {}", redact(url)));
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let mut parsed = url::Url::parse(url).map_err(|_| unsupported())?;
        let schema = parsed.query_pairs().find(|(key, _)| key == "schema").map(|(_, value)| value.into_owned());
        let rest: Vec<(String, String)> = parsed
            .query_pairs()
            .filter(|(key, _)| key != "schema")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        parsed.set_query(None);
        if !rest.is_empty() {
            parsed.query_pairs_mut().extend_pairs(rest);
        }
        return Ok((SourceBackend::Postgres, parsed.to_string(), schema));
    }
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .or_else(|| url.strip_prefix("file:"))
        .ok_or_else(unsupported)?;
    let path = path.split('?').next().unwrap_or_default();
    if path.is_empty() {
        return Err(unsupported());
    }
    if !std::path::Path::new(path).is_file() {
        return Err(Error::internal(format!("no SQLite database at {path}")));
    }
    Ok((SourceBackend::Sqlite, format!("sqlite://{path}?mode=ro"), None))
}

/// The URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

pub(super) fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

impl AuthjsSource {
    /// Connects, opens the snapshot and detects the layout.
    pub async fn open(url: &str) -> Result<Self> {
        let (backend, url, schema) = connect_url(url)?;
        let mut options = ConnectOptions::new(url);
        options.max_connections(2).min_connections(1).sqlx_logging(false);
        let db = Database::connect(options)
            .await
            .map_err(|err| Error::internal(format_args!("connecting to the Auth.js database: {err}")))?;
        // One snapshot for the whole read, so rows written by a still-running app cannot make
        // an account appear whose user was not read.
        let snapshot = match backend {
            SourceBackend::Postgres => {
                db.begin_with_config(Some(IsolationLevel::RepeatableRead), Some(AccessMode::ReadOnly)).await?
            }
            SourceBackend::Sqlite => db.begin().await?,
        };
        let catalog = Self::catalog(&snapshot, backend, schema.as_deref()).await?;
        let layout =
            Layout::detect(&catalog).map_err(|problem| Error::internal(format!("Auth.js database: {problem}")))?;
        Ok(Self { db, snapshot, backend, schema, layout })
    }

    pub(super) async fn catalog(
        db: &DatabaseTransaction,
        backend: SourceBackend,
        schema: Option<&str>,
    ) -> Result<layout::Catalog> {
        let statement = match backend {
            SourceBackend::Postgres => Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT table_name::text AS table_name, column_name::text AS column_name FROM information_schema.columns \
                 WHERE table_schema = COALESCE($1, current_schema())",
                [Value::from(schema.map(str::to_owned))],
            ),
            SourceBackend::Sqlite => Statement::from_string(
                DbBackend::Sqlite,
                "SELECT m.name AS table_name, p.name AS column_name FROM sqlite_master m \
                 JOIN pragma_table_info(m.name) p WHERE m.type = 'table'",
            ),
        };
        let mut catalog = layout::Catalog::new();
        for row in db.query_all_raw(statement).await? {
            let table: String = row.try_get("", "table_name")?;
            let column: String = row.try_get("", "column_name")?;
            catalog.entry(table).or_default().insert(column);
        }
        Ok(catalog)
    }

    pub fn backend(&self) -> SourceBackend {
        self.backend
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    fn table(&self, table: &SourceTable) -> String {
        match &self.schema {
            Some(schema) => format!("{}.{}", quote(schema), quote(&table.name)),
            None => quote(&table.name),
        }
    }

    fn db_backend(&self) -> DbBackend {
        match self.backend {
            SourceBackend::Postgres => DbBackend::Postgres,
            SourceBackend::Sqlite => DbBackend::Sqlite,
        }
    }

    /// `"column" AS alias` when the table has it, `NULL AS alias` otherwise.
    fn optional(table: &SourceTable, column: &str, alias: &str) -> String {
        if table.has(column) { format!("{} AS {alias}", quote(column)) } else { format!("NULL AS {alias}") }
    }

    fn as_text(column: &str, alias: &str) -> String {
        format!("CAST({} AS TEXT) AS {alias}", quote(column))
    }

    /// How many rows `table` holds (for the progress bar).
    async fn count(&self, table: &SourceTable) -> Result<u64> {
        let sql = format!("SELECT COUNT(*) AS n FROM {}", self.table(table));
        let row = self.snapshot.query_one_raw(Statement::from_string(self.db_backend(), sql)).await?;
        let count: i64 = row.map(|row| row.try_get("", "n")).transpose()?.unwrap_or(0);
        Ok(u64::try_from(count).unwrap_or(0))
    }

    /// The rows of `sql` over `table`, decoded, with the table's row count. A stream holds the
    /// snapshot's connection until it is dropped (other queries would wait for it), so the
    /// count is taken first and handed over with it.
    fn stream<'a, T: 'a>(
        &'a self,
        table: &'a SourceTable,
        sql: String,
        decode: impl Fn(&RowReader<'_>) -> Result<T, BadRow> + Send + 'a,
    ) -> impl std::future::Future<Output = Result<SourceRows<impl Stream<Item = SourceRow<T>> + 'a>>> + 'a {
        let backend = self.backend;
        async move {
            let total = self.count(table).await?;
            let rows = self.snapshot.stream_raw(Statement::from_string(self.db_backend(), sql)).await?;
            let rows = rows.map(move |row| {
                let row = row?;
                Ok(decode(&RowReader { row: &row, backend }))
            });
            Ok(SourceRows { total, rows })
        }
    }

    /// Every user's id and email, first: duplicates after normalization are found before any
    /// user is written.
    pub async fn user_emails(&self) -> Result<Vec<(String, Option<String>)>> {
        let users = &self.layout.users;
        let sql = format!("SELECT {}, \"email\" AS email FROM {}", Self::as_text("id", "id"), self.table(users));
        let rows = self.snapshot.query_all_raw(Statement::from_string(self.db_backend(), sql)).await?;
        rows.iter()
            .map(|row| {
                let reader = RowReader { row, backend: self.backend };
                let id = reader.required_text("id").map_err(Error::internal)?;
                Ok((id, reader.text("email").ok().flatten()))
            })
            .collect()
    }

    /// The users, in id order.
    pub async fn users(&self) -> Result<SourceRows<impl Stream<Item = SourceRow<SourceUser>> + '_>> {
        let users = &self.layout.users;
        let password = match &self.layout.password_column {
            Some(column) => format!("{} AS password_hash", quote(column)),
            None => "NULL AS password_hash".to_owned(),
        };
        let sql = format!(
            "SELECT {}, {}, \"email\" AS email, {}, {}, {password}, {}, {} FROM {} ORDER BY \"id\"",
            Self::as_text("id", "id"),
            Self::optional(users, "name", "name"),
            Self::optional(users, "emailVerified", "email_verified"),
            Self::optional(users, "image", "image"),
            Self::optional(users, "createdAt", "created_at"),
            Self::optional(users, "updatedAt", "updated_at"),
            self.table(users),
        );
        self.stream(users, sql, |row| {
            let id = row.required_text("id").map_err(|reason| BadRow { id: None, reason })?;
            let bad = |reason: String| BadRow { id: Some(id.clone()), reason };
            Ok(SourceUser {
                name: row.text("name").map_err(bad)?,
                email: row.text("email").map_err(bad)?,
                email_verified: row.time("email_verified").map_err(bad)?,
                image: row.text("image").map_err(bad)?,
                password_hash: row.text("password_hash").map_err(bad)?,
                created_at: row.time("created_at").map_err(bad)?,
                updated_at: row.time("updated_at").map_err(bad)?,
                id,
            })
        })
        .await
    }

    /// The OAuth (and other) accounts; none when the source has no account table.
    pub async fn accounts(&self) -> Result<Option<SourceRows<impl Stream<Item = SourceRow<SourceAccount>> + '_>>> {
        let Some(accounts) = &self.layout.accounts else { return Ok(None) };
        let id = if accounts.has("id") { Self::as_text("id", "id") } else { "NULL AS id".to_owned() };
        let optional = |column: &str| Self::optional(accounts, column, column);
        let sql = format!(
            "SELECT {id}, {}, \"type\" AS kind, \"provider\" AS provider, \"providerAccountId\" AS provider_account_id, \
             {}, {}, {}, {}, {}, {} FROM {} ORDER BY \"provider\", \"providerAccountId\"",
            Self::as_text("userId", "user_id"),
            optional("refresh_token"),
            optional("access_token"),
            optional("expires_at"),
            optional("token_type"),
            optional("scope"),
            optional("id_token"),
            self.table(accounts),
        );
        let stream = self
            .stream(accounts, sql, |row| {
                let id = row.text("id").ok().flatten();
                let bad = |reason: String| BadRow { id: id.clone(), reason };
                Ok(SourceAccount {
                    user_id: row.required_text("user_id").map_err(bad)?,
                    kind: row.required_text("kind").map_err(bad)?,
                    provider: row.required_text("provider").map_err(bad)?,
                    provider_account_id: row.required_text("provider_account_id").map_err(bad)?,
                    refresh_token: row.text("refresh_token").map_err(bad)?,
                    access_token: row.text("access_token").map_err(bad)?,
                    expires_at: row.integer("expires_at").map_err(bad)?,
                    token_type: row.text("token_type").map_err(bad)?,
                    scope: row.text("scope").map_err(bad)?,
                    id_token: row.text("id_token").map_err(bad)?,
                    id: id.clone(),
                })
            })
            .await?;
        Ok(Some(stream))
    }

    /// The sessions; none when the source has no session table.
    pub async fn sessions(&self) -> Result<Option<SourceRows<impl Stream<Item = SourceRow<SourceSession>> + '_>>> {
        let Some(sessions) = &self.layout.sessions else { return Ok(None) };
        let id = if sessions.has("id") { Self::as_text("id", "id") } else { "NULL AS id".to_owned() };
        let sql = format!(
            "SELECT {id}, \"sessionToken\" AS session_token, {}, \"expires\" AS expires FROM {}",
            Self::as_text("userId", "user_id"),
            self.table(sessions),
        );
        let stream = self
            .stream(sessions, sql, |row| {
                let id = row.text("id").ok().flatten();
                let user_id = row.text("user_id").ok().flatten();
                // A session has no id in some layouts, and its token is a secret: name it by user.
                let bad = |reason: String| BadRow {
                    id: id.clone().or_else(|| user_id.clone().map(|u| format!("of user {u}"))),
                    reason,
                };
                Ok(SourceSession {
                    session_token: row.required_text("session_token").map_err(bad)?,
                    user_id: row.required_text("user_id").map_err(bad)?,
                    expires: row.required_time("expires").map_err(bad)?,
                    id: id.clone(),
                })
            })
            .await?;
        Ok(Some(stream))
    }

    /// The passkeys; none when the source has no authenticator table.
    pub async fn authenticators(
        &self,
    ) -> Result<Option<SourceRows<impl Stream<Item = SourceRow<SourceAuthenticator>> + '_>>> {
        let Some(authenticators) = &self.layout.authenticators else { return Ok(None) };
        let optional = |column: &str, alias: &str| Self::optional(authenticators, column, alias);
        let sql = format!(
            "SELECT \"credentialID\" AS credential_id, {}, {}, \"credentialPublicKey\" AS credential_public_key, \
             \"counter\" AS counter, {}, {}, {} FROM {} ORDER BY \"credentialID\"",
            Self::as_text("userId", "user_id"),
            optional("providerAccountId", "provider_account_id"),
            optional("credentialDeviceType", "credential_device_type"),
            optional("credentialBackedUp", "credential_backed_up"),
            optional("transports", "transports"),
            self.table(authenticators),
        );
        let stream = self
            .stream(authenticators, sql, |row| {
                let id = row.text("credential_id").ok().flatten();
                let bad = |reason: String| BadRow { id: id.clone(), reason };
                Ok(SourceAuthenticator {
                    credential_id: row.required_text("credential_id").map_err(bad)?,
                    user_id: row.required_text("user_id").map_err(bad)?,
                    provider_account_id: row.text("provider_account_id").map_err(bad)?,
                    credential_public_key: row.required_text("credential_public_key").map_err(bad)?,
                    counter: row.integer("counter").map_err(bad)?.unwrap_or(0),
                    credential_device_type: row.text("credential_device_type").map_err(bad)?,
                    credential_backed_up: row.flag("credential_backed_up").map_err(bad)?,
                    transports: row.text("transports").map_err(bad)?,
                    name: None,
                    aaguid: None,
                })
            })
            .await?;
        Ok(Some(stream))
    }

    /// The verification tokens' expiry times (their values are never read: Keyward cannot
    /// redeem them, see the import's report).
    pub async fn verification_token_expiries(&self) -> Result<Vec<Result<chrono::DateTime<chrono::Utc>, BadRow>>> {
        let Some(tokens) = &self.layout.verification_tokens else { return Ok(Vec::new()) };
        let sql = format!("SELECT \"expires\" AS expires FROM {}", self.table(tokens));
        let rows = self.snapshot.query_all_raw(Statement::from_string(self.db_backend(), sql)).await?;
        Ok(rows
            .iter()
            .map(|row| {
                RowReader { row, backend: self.backend }
                    .required_time("expires")
                    .map_err(|reason| BadRow { id: None, reason })
            })
            .collect())
    }

    /// Ends the snapshot and closes the connection.
    pub async fn close(self) -> Result<()> {
        self.snapshot.rollback().await?;
        self.db.close().await?;
        Ok(())
    }
}
