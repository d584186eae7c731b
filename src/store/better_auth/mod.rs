//! The source side of `keyward import better-auth`: a better-auth database (PostgreSQL or
//! SQLite, any of its adapters' column types), opened read-only, its tables found by better-auth's
//! default names or the app's (`names`), and its rows streamed as plain Rust values from one
//! consistent snapshot. Nothing here writes to the source or knows Keyward's rules.

pub mod names;

use chrono::{DateTime, Utc};
use sea_orm::{
    AccessMode, ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    IsolationLevel, Statement, StreamTrait, TransactionTrait,
};
use tokio_stream::{Stream, StreamExt};

use self::names::{MODELS, Names};
use super::authjs::{
    BadRow, SourceBackend, SourceRow, SourceRows, connect_url, layout::Catalog, quote, rows::RowReader,
};
use crate::error::{Error, Result};

/// better-auth `user` (with the anonymous plugin's `isAnonymous` when present), and the hash of
/// its `credential` account, where better-auth keeps the password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BetterAuthUser {
    pub id: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub email_verified: bool,
    pub image: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    pub password: Option<String>,
    pub is_anonymous: bool,
}

/// better-auth `account` other than `credential` (an OAuth or OIDC sign-in).
#[derive(Clone, PartialEq, Eq)]
pub struct BetterAuthAccount {
    pub id: String,
    pub user_id: String,
    pub provider_id: String,
    pub account_id: String,
    pub access_token: Option<String>,
    pub refresh_token: Option<String>,
    pub id_token: Option<String>,
    pub access_token_expires_at: Option<DateTime<Utc>>,
    pub scope: Option<String>,
}

impl std::fmt::Debug for BetterAuthAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Provider tokens are credentials: never in logs.
        f.debug_struct("BetterAuthAccount").field("id", &self.id).field("provider_id", &self.provider_id).finish()
    }
}

/// better-auth `session`: `token` is the secret the signed cookie carries.
#[derive(Clone, PartialEq, Eq)]
pub struct BetterAuthSession {
    pub id: String,
    pub token: String,
    pub user_id: String,
    pub expires_at: DateTime<Utc>,
    pub user_agent: Option<String>,
}

impl std::fmt::Debug for BetterAuthSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BetterAuthSession").field("id", &self.id).field("user_id", &self.user_id).finish()
    }
}

/// @better-auth/passkey `passkey`: `credentialID` base64url (SimpleWebAuthn's), `publicKey`
/// standard base64 of the COSE key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BetterAuthPasskey {
    pub id: String,
    pub name: Option<String>,
    pub user_id: String,
    pub credential_id: String,
    pub public_key: String,
    pub counter: i64,
    pub device_type: Option<String>,
    pub backed_up: bool,
    pub transports: Option<String>,
    pub aaguid: Option<String>,
}

/// The two-factor plugin's `twoFactor`: secret and backup codes encrypted with the app secret.
#[derive(Clone, PartialEq, Eq)]
pub struct BetterAuthTwoFactor {
    pub id: String,
    pub user_id: String,
    pub secret: String,
    pub backup_codes: String,
}

impl std::fmt::Debug for BetterAuthTwoFactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BetterAuthTwoFactor").field("id", &self.id).field("user_id", &self.user_id).finish()
    }
}

/// Other plugins' tables Keyward has nothing for: reported with their row counts.
const NOT_IMPORTED: [(&str, &str); 5] = [
    ("organization", "organizations (organization plugin)"),
    ("member", "organization members"),
    ("invitation", "organization invitations"),
    ("apikey", "API keys (api-key plugin)"),
    ("jwks", "JWT plugin keys"),
];

/// The columns each model must have (better-auth field names).
fn required(model: &str) -> &'static [&'static str] {
    match model {
        "user" => &["id", "email"],
        "account" => &["id", "userId", "providerId", "accountId"],
        "session" => &["id", "token", "userId", "expiresAt"],
        "verification" => &["id", "expiresAt"],
        "passkey" => &["id", "userId", "credentialID", "publicKey", "counter"],
        "twoFactor" => &["id", "userId", "secret", "backupCodes"],
        _ => &[],
    }
}

/// An open better-auth database, read inside one read-only snapshot.
pub struct BetterAuthSource {
    db: DatabaseConnection,
    snapshot: DatabaseTransaction,
    backend: SourceBackend,
    schema: Option<String>,
    names: Names,
    catalog: Catalog,
}

impl std::fmt::Debug for BetterAuthSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BetterAuthSource").field("backend", &self.backend).finish_non_exhaustive()
    }
}

impl BetterAuthSource {
    /// Connects, opens the snapshot, and checks that the tables and columns `names` points at
    /// exist (`user` and `account` must; the others may be absent). `schema` overrides a
    /// PostgreSQL URL's `?schema=`.
    pub async fn open(url: &str, schema: Option<String>, names: Names) -> Result<Self> {
        let (backend, url, url_schema) = connect_url(url)?;
        let schema = schema.or(url_schema);
        let mut options = ConnectOptions::new(url);
        options.max_connections(2).min_connections(1).sqlx_logging(false);
        let db = Database::connect(options)
            .await
            .map_err(|err| Error::internal(format_args!("connecting to the better-auth database: {err}")))?;
        let snapshot = match backend {
            SourceBackend::Postgres => {
                db.begin_with_config(Some(IsolationLevel::RepeatableRead), Some(AccessMode::ReadOnly)).await?
            }
            SourceBackend::Sqlite => db.begin().await?,
        };
        let catalog = super::authjs::AuthjsSource::catalog(&snapshot, backend, schema.as_deref()).await?;
        let source = Self { db, snapshot, backend, schema, names, catalog };
        source.check_layout().map_err(|problem| Error::internal(format!("better-auth database: {problem}")))?;
        Ok(source)
    }

    fn check_layout(&self) -> Result<(), String> {
        for model in MODELS {
            let table = self.names.table(model);
            let Some(columns) = self.catalog.get(&table) else {
                if matches!(model, "user" | "account") {
                    return Err(format!(
                        "no table {table:?} for better-auth's {model:?} model (give its name in a --mapping file)"
                    ));
                }
                continue;
            };
            for field in required(model) {
                let column = self.names.column(model, field);
                if !columns.contains(column) {
                    return Err(format!("table {table:?} has no column {column:?} (better-auth's {model}.{field})"));
                }
            }
        }
        Ok(())
    }

    pub fn backend(&self) -> SourceBackend {
        self.backend
    }

    /// What was found, for the report.
    pub fn describe(&self) -> String {
        let tables: Vec<String> = MODELS
            .iter()
            .map(|model| self.names.table(model))
            .filter(|table| self.catalog.contains_key(table))
            .map(|table| format!("{table:?}"))
            .collect();
        format!("better-auth: tables {}", tables.join(", "))
    }

    /// Whether `model`'s table exists.
    pub fn has(&self, model: &str) -> bool {
        self.catalog.contains_key(&self.names.table(model))
    }

    fn has_column(&self, model: &str, field: &str) -> bool {
        self.catalog
            .get(&self.names.table(model))
            .is_some_and(|columns| columns.contains(self.names.column(model, field)))
    }

    fn table(&self, model: &str) -> String {
        let table = quote(&self.names.table(model));
        match &self.schema {
            Some(schema) => format!("{}.{table}", quote(schema)),
            None => table,
        }
    }

    /// `"column" AS alias`, or `NULL AS alias` when the table lacks it.
    fn column(&self, model: &str, field: &str, alias: &str) -> String {
        if self.has_column(model, field) {
            format!("{} AS {alias}", self.col(model, field))
        } else {
            format!("NULL AS {alias}")
        }
    }

    fn col(&self, model: &str, field: &str) -> String {
        quote(self.names.column(model, field))
    }

    fn text(&self, model: &str, field: &str, alias: &str) -> String {
        format!("CAST({} AS TEXT) AS {alias}", self.col(model, field))
    }

    fn db_backend(&self) -> DbBackend {
        match self.backend {
            SourceBackend::Postgres => DbBackend::Postgres,
            SourceBackend::Sqlite => DbBackend::Sqlite,
        }
    }

    async fn count(&self, from: &str) -> Result<u64> {
        let sql = format!("SELECT COUNT(*) AS n FROM {from}");
        let row = self.snapshot.query_one_raw(Statement::from_string(self.db_backend(), sql)).await?;
        let count: i64 = row.map(|row| row.try_get("", "n")).transpose()?.unwrap_or(0);
        Ok(u64::try_from(count).unwrap_or(0))
    }

    /// The rows of `sql`, decoded, with `total` from `count_from`.
    async fn stream<'a, T: 'a>(
        &'a self,
        count_from: String,
        sql: String,
        decode: impl Fn(&RowReader<'_>) -> Result<T, BadRow> + Send + 'a,
    ) -> Result<SourceRows<impl Stream<Item = SourceRow<T>> + 'a>> {
        let backend = self.backend;
        let total = self.count(&count_from).await?;
        let rows = self.snapshot.stream_raw(Statement::from_string(self.db_backend(), sql)).await?;
        let rows = rows.map(move |row| {
            let row = row?;
            Ok(decode(&RowReader { row: &row, backend }))
        });
        Ok(SourceRows { total, rows })
    }

    /// Every user's id and email, first (duplicates after normalization are found before any
    /// user is written).
    pub async fn user_emails(&self) -> Result<Vec<(String, Option<String>)>> {
        let sql = format!(
            "SELECT {}, {} AS email FROM {}",
            self.text("user", "id", "id"),
            self.col("user", "email"),
            self.table("user")
        );
        let rows = self.snapshot.query_all_raw(Statement::from_string(self.db_backend(), sql)).await?;
        rows.iter()
            .map(|row| {
                let reader = RowReader { row, backend: self.backend };
                let id = reader.required_text("id").map_err(Error::internal)?;
                Ok((id, reader.text("email").ok().flatten()))
            })
            .collect()
    }

    /// The users in id order, each with its `credential` account's password hash.
    pub async fn users(&self) -> Result<SourceRows<impl Stream<Item = SourceRow<BetterAuthUser>> + '_>> {
        let password = format!(
            "(SELECT MAX({}) FROM {} a WHERE CAST(a.{} AS TEXT) = CAST(u.{} AS TEXT) AND a.{} = 'credential') AS password",
            self.col("account", "password"),
            self.table("account"),
            self.col("account", "userId"),
            self.col("user", "id"),
            self.col("account", "providerId"),
        );
        let password = if self.has_column("account", "password") { password } else { "NULL AS password".to_owned() };
        let u = |field: &str, alias: &str| self.column("user", field, alias).replacen('"', "u.\"", 1);
        let sql = format!(
            "SELECT CAST(u.{} AS TEXT) AS id, {}, {}, {}, {}, {}, {}, {}, {password} FROM {} u ORDER BY u.{}",
            self.col("user", "id"),
            u("name", "name"),
            u("email", "email"),
            u("emailVerified", "email_verified"),
            u("image", "image"),
            u("createdAt", "created_at"),
            u("updatedAt", "updated_at"),
            u("isAnonymous", "is_anonymous"),
            self.table("user"),
            self.col("user", "id"),
        );
        self.stream(self.table("user"), sql, |row| {
            let id = row.required_text("id").map_err(|reason| BadRow { id: None, reason })?;
            let bad = |reason: String| BadRow { id: Some(id.clone()), reason };
            Ok(BetterAuthUser {
                name: row.text("name").map_err(bad)?,
                email: row.text("email").map_err(bad)?,
                email_verified: row.flag("email_verified").map_err(bad)?,
                image: row.text("image").map_err(bad)?,
                created_at: row.time("created_at").map_err(bad)?,
                updated_at: row.time("updated_at").map_err(bad)?,
                password: row.text("password").map_err(bad)?,
                is_anonymous: row.flag("is_anonymous").map_err(bad)?,
                id,
            })
        })
        .await
    }

    /// The accounts other than `credential` ones.
    pub async fn accounts(&self) -> Result<SourceRows<impl Stream<Item = SourceRow<BetterAuthAccount>> + '_>> {
        let m = "account";
        let not_credential = format!("{} WHERE {} <> 'credential'", self.table(m), self.col(m, "providerId"));
        let sql = format!(
            "SELECT {}, {}, {} AS provider_id, {}, {}, {}, {}, {}, {} FROM {not_credential} ORDER BY {}, {}",
            self.text(m, "id", "id"),
            self.text(m, "userId", "user_id"),
            self.col(m, "providerId"),
            self.text(m, "accountId", "account_id"),
            self.column(m, "accessToken", "access_token"),
            self.column(m, "refreshToken", "refresh_token"),
            self.column(m, "idToken", "id_token"),
            self.column(m, "accessTokenExpiresAt", "access_token_expires_at"),
            self.column(m, "scope", "scope"),
            self.col(m, "providerId"),
            self.col(m, "accountId"),
        );
        self.stream(not_credential, sql, |row| {
            let id = row.required_text("id").map_err(|reason| BadRow { id: None, reason })?;
            let bad = |reason: String| BadRow { id: Some(id.clone()), reason };
            Ok(BetterAuthAccount {
                user_id: row.required_text("user_id").map_err(bad)?,
                provider_id: row.required_text("provider_id").map_err(bad)?,
                account_id: row.required_text("account_id").map_err(bad)?,
                access_token: row.text("access_token").map_err(bad)?,
                refresh_token: row.text("refresh_token").map_err(bad)?,
                id_token: row.text("id_token").map_err(bad)?,
                access_token_expires_at: row.time("access_token_expires_at").map_err(bad)?,
                scope: row.text("scope").map_err(bad)?,
                id,
            })
        })
        .await
    }

    /// The sessions; none when there is no session table.
    pub async fn sessions(&self) -> Result<Option<SourceRows<impl Stream<Item = SourceRow<BetterAuthSession>> + '_>>> {
        let m = "session";
        if !self.has(m) {
            return Ok(None);
        }
        let sql = format!(
            "SELECT {}, {} AS token, {}, {} AS expires_at, {} FROM {}",
            self.text(m, "id", "id"),
            self.col(m, "token"),
            self.text(m, "userId", "user_id"),
            self.col(m, "expiresAt"),
            self.column(m, "userAgent", "user_agent"),
            self.table(m),
        );
        let rows = self
            .stream(self.table(m), sql, |row| {
                let id = row.required_text("id").map_err(|reason| BadRow { id: None, reason })?;
                let bad = |reason: String| BadRow { id: Some(id.clone()), reason };
                Ok(BetterAuthSession {
                    token: row.required_text("token").map_err(bad)?,
                    user_id: row.required_text("user_id").map_err(bad)?,
                    expires_at: row.required_time("expires_at").map_err(bad)?,
                    user_agent: row.text("user_agent").map_err(bad)?,
                    id,
                })
            })
            .await?;
        Ok(Some(rows))
    }

    /// The passkeys; none when there is no passkey table.
    pub async fn passkeys(&self) -> Result<Option<SourceRows<impl Stream<Item = SourceRow<BetterAuthPasskey>> + '_>>> {
        let m = "passkey";
        if !self.has(m) {
            return Ok(None);
        }
        let sql = format!(
            "SELECT {}, {}, {}, {} AS credential_id, {} AS public_key, {} AS counter, {}, {}, {}, {} FROM {} ORDER BY {}",
            self.text(m, "id", "id"),
            self.column(m, "name", "name"),
            self.text(m, "userId", "user_id"),
            self.col(m, "credentialID"),
            self.col(m, "publicKey"),
            self.col(m, "counter"),
            self.column(m, "deviceType", "device_type"),
            self.column(m, "backedUp", "backed_up"),
            self.column(m, "transports", "transports"),
            self.column(m, "aaguid", "aaguid"),
            self.table(m),
            self.col(m, "credentialID"),
        );
        let rows = self
            .stream(self.table(m), sql, |row| {
                let id = row.required_text("id").map_err(|reason| BadRow { id: None, reason })?;
                let bad = |reason: String| BadRow { id: Some(id.clone()), reason };
                Ok(BetterAuthPasskey {
                    name: row.text("name").map_err(bad)?,
                    user_id: row.required_text("user_id").map_err(bad)?,
                    credential_id: row.required_text("credential_id").map_err(bad)?,
                    public_key: row.required_text("public_key").map_err(bad)?,
                    counter: row.integer("counter").map_err(bad)?.unwrap_or(0),
                    device_type: row.text("device_type").map_err(bad)?,
                    backed_up: row.flag("backed_up").map_err(bad)?,
                    transports: row.text("transports").map_err(bad)?,
                    aaguid: row.text("aaguid").map_err(bad)?,
                    id,
                })
            })
            .await?;
        Ok(Some(rows))
    }

    /// Every two-factor enrolment (few rows: read at once, before anything is written, so a
    /// wrong secret stops the import before it starts).
    pub async fn two_factors(&self) -> Result<Vec<Result<BetterAuthTwoFactor, BadRow>>> {
        let m = "twoFactor";
        if !self.has(m) {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {}, {}, {} AS secret, {} AS backup_codes FROM {}",
            self.text(m, "id", "id"),
            self.text(m, "userId", "user_id"),
            self.col(m, "secret"),
            self.col(m, "backupCodes"),
            self.table(m),
        );
        let rows = self.snapshot.query_all_raw(Statement::from_string(self.db_backend(), sql)).await?;
        Ok(rows
            .iter()
            .map(|row| {
                let row = RowReader { row, backend: self.backend };
                let id = row.required_text("id").map_err(|reason| BadRow { id: None, reason })?;
                let bad = |reason: String| BadRow { id: Some(id.clone()), reason };
                Ok(BetterAuthTwoFactor {
                    user_id: row.required_text("user_id").map_err(bad)?,
                    secret: row.required_text("secret").map_err(bad)?,
                    backup_codes: row.required_text("backup_codes").map_err(bad)?,
                    id,
                })
            })
            .collect())
    }

    /// How many verification rows there are and how many are unexpired (never their values).
    pub async fn verification_counts(&self, now: DateTime<Utc>) -> Result<(u64, u64)> {
        let m = "verification";
        if !self.has(m) {
            return Ok((0, 0));
        }
        let sql = format!("SELECT {} AS expires_at FROM {}", self.col(m, "expiresAt"), self.table(m));
        let rows = self.snapshot.query_all_raw(Statement::from_string(self.db_backend(), sql)).await?;
        let live = rows
            .iter()
            .filter(|row| {
                RowReader { row, backend: self.backend }.time("expires_at").ok().flatten().is_some_and(|t| t > now)
            })
            .count();
        Ok((rows.len() as u64, live as u64))
    }

    /// Rows of the plugins' tables Keyward has nothing for, and users marked anonymous: (what,
    /// how many), for the report.
    pub async fn not_imported(&self) -> Result<Vec<(&'static str, u64)>> {
        let mut found = Vec::new();
        for (table, what) in NOT_IMPORTED {
            if self.catalog.contains_key(table) {
                let from = match &self.schema {
                    Some(schema) => format!("{}.{}", quote(schema), quote(table)),
                    None => quote(table),
                };
                found.push((what, self.count(&from).await?));
            }
        }
        Ok(found)
    }

    /// Ends the snapshot and closes the connection.
    pub async fn close(self) -> Result<()> {
        self.snapshot.rollback().await?;
        self.db.close().await?;
        Ok(())
    }
}
