//! Persistence with sea-orm on SQLite or PostgreSQL. The only module that imports sea_orm: the
//! service layer sees `Store` methods and record structs, and `read_models.rs` turns records into
//! the domain read models (`User`, `Session`, `Passkey`, `LinkedAccount`) that go further up.

mod accounts;
mod admin;
mod api_keys;
mod audit;
mod authenticators;
pub mod authjs;
pub mod better_auth;
mod ceremonies;
mod code_failures;
mod connect;
mod counts;
mod entities;
mod import;
mod maintenance;
mod observe;
mod outbox;
mod passkey_sign_in;
mod password_hashes;
mod pooled;
mod read_models;
mod secrets;
mod session_events;
mod sessions;
mod sign_in_failures;
mod signing_keys;
mod users;
mod verification_tokens;
mod webhooks;

pub use accounts::{AccountRecord, LinkedSignIn, NewAccount, ProviderProfileFields, ProviderTokens, UnlinkOutcome};
pub use admin::{AuditFilter, AuditRecord, UserChanges, UserFilter};
pub use api_keys::{ApiKeyRecord, NewApiKey};
pub use audit::AuditEvent;
pub use authenticators::{AuthenticatorRecord, AuthenticatorUse, NewAuthenticator};
pub use ceremonies::{CeremonyRecord, NewCeremony};
pub use connect::{Backend, DatabaseSettings, MigrationState, SchemaState};
pub use counts::RowCounts;
pub use import::{AccountTokensUpdate, AuthenticatorUpdate, BatchWrite, ImportBatch, ImportedUser, UserUpdate};
pub use maintenance::Checkpoint;
pub use observe::{OutboxBacklog, PoolUsage};
pub use outbox::{ClaimedMessage, DeadMessage, NewOutboxMessage, OutboxCounts};
pub use passkey_sign_in::{PasskeySignIn, PasskeySignInOutcome};
pub use password_hashes::PasswordHashMix;
pub use read_models::device_type_column;
pub use secrets::SecretsReport;
pub use sessions::{NewSession, OtherSessions, SessionWithUser};
pub use sign_in_failures::{Attempt, FailurePolicy};
pub use signing_keys::StoredSigningKey;
pub use users::{NewUser, SignInMethods};
pub use verification_tokens::{NewVerificationToken, VerificationTokenRecord};
pub use webhooks::{WEBHOOK_KIND, WebhookDeliveryFilter, WebhookEvent, WebhookRoute, WebhookRoutes};

/// A user row as the service layer sees it.
pub type UserRecord = entities::users::Model;
/// A session row as the service layer sees it.
pub type SessionRecord = entities::sessions::Model;

use std::sync::Arc;

use sea_orm::{DbErr, SqlErr};

use crate::{crypto::MasterKey, error::Error};

/// Handle to the database; cheap to clone (a connection pool inside). Holds the master key that
/// seals the secrets it stores (signing keys, provider tokens, server secrets): sealing and
/// opening happen in its write and read paths, so nothing above it handles ciphertext.
#[derive(Clone, Debug)]
pub struct Store {
    /// Reads (on SQLite, a pool of reader connections).
    db: pooled::Connection,
    /// Writes and write transactions. On SQLite one connection: SQLite lets one writer in at a
    /// time anyway, and writers on several connections contend on the file lock with
    /// busy-handler sleeps (up to 100 ms each), which showed as tail latency; on one connection
    /// they queue fairly for it instead. On PostgreSQL the same pool as `db`.
    writer: pooled::Connection,
    backend: Backend,
    /// The longest wait on the database (see `Store::connect_with`).
    timeout: std::time::Duration,
    /// PostgreSQL: where `LISTEN` and, behind a transaction pooler, migrations connect
    /// (`DatabaseSettings::listen_url`); None: the pool's own server.
    listen_url: Option<Arc<str>>,
    master_key: Option<Arc<MasterKey>>,
    /// Where webhook events fan out to (none by default).
    webhooks: Arc<webhooks::WebhookRoutes>,
    /// Wakes this replica's readers of `session_events` (see `session_events.rs`).
    feed: Arc<session_events::FeedSignal>,
}

impl Store {
    /// Begins a transaction that writes. On SQLite it is `BEGIN IMMEDIATE`: a deferred
    /// transaction that reads before it writes cannot upgrade to a writer once another connection
    /// has committed since its read (SQLITE_BUSY at once, without the busy timeout ever applying),
    /// whereas an immediate one takes the write lock up front and waits for it under the busy
    /// timeout. PostgreSQL ignores the mode.
    pub(crate) async fn begin_write(&self) -> std::result::Result<sea_orm::DatabaseTransaction, DbErr> {
        use sea_orm::{SqliteTransactionMode, TransactionOptions, TransactionTrait};
        self.writer
            .begin_with_options(TransactionOptions {
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                ..TransactionOptions::default()
            })
            .await
    }
}

impl Store {
    /// The connection writes go through (see the `writer` field).
    fn writer(&self) -> &pooled::Connection {
        &self.writer
    }
}

impl From<DbErr> for Error {
    fn from(err: DbErr) -> Self {
        if is_unavailable(&err) {
            tracing::warn!(error = %err, "database unavailable");
            return Self::StoreUnavailable;
        }
        Self::internal(format_args!("database: {err}"))
    }
}

/// The database could not be reached or did not answer in time — the caller may retry — as
/// opposed to a query that failed. Connectivity errors (pool acquire timeout, closed pool, I/O,
/// TLS, protocol), PostgreSQL's statement timeout (57014), shutdown / cannot-connect-now (57P*),
/// connection exceptions (08*), too many connections (53300), a write sent to a server that is
/// still a read-only standby (25006, while a failover promotes it), and SQLite's busy / locked.
fn is_unavailable(err: &DbErr) -> bool {
    use sea_orm::{RuntimeErr, sqlx::Error as Sqlx};
    let sqlx = match err {
        DbErr::ConnectionAcquire(_) => return true,
        DbErr::Conn(RuntimeErr::SqlxError(e))
        | DbErr::Exec(RuntimeErr::SqlxError(e))
        | DbErr::Query(RuntimeErr::SqlxError(e)) => e,
        _ => return false,
    };
    match sqlx.as_ref() {
        Sqlx::PoolTimedOut
        | Sqlx::PoolClosed
        | Sqlx::WorkerCrashed
        | Sqlx::Io(_)
        | Sqlx::Tls(_)
        | Sqlx::Protocol(_) => true,
        Sqlx::Database(db) => db.code().is_some_and(|code| {
            matches!(code.as_ref(), "57014" | "53300" | "25006" | "5" | "6" | "517" | "261" | "262")
                || code.starts_with("57P")
                || code.starts_with("08")
        }),
        _ => false,
    }
}

fn is_unique_violation(err: &DbErr) -> bool {
    matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

/// A fresh, time-ordered id (UUIDv7): lists ordered by id are ordered by creation.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
