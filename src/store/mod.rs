//! Persistence with sea-orm on SQLite or PostgreSQL. The only module that imports sea_orm: the
//! rest of Keyward sees `Store` methods and plain record structs.

mod accounts;
mod audit;
mod authenticators;
mod ceremonies;
mod connect;
mod counts;
mod entities;
mod maintenance;
mod sessions;
mod sign_in_failures;
mod signing_keys;
mod users;

pub use accounts::{AccountRecord, LinkedSignIn, NewAccount, ProviderProfileFields, ProviderTokens, UnlinkOutcome};
pub use audit::AuditEvent;
pub use authenticators::{AuthenticatorRecord, AuthenticatorUse, NewAuthenticator};
pub use ceremonies::{CeremonyRecord, NewCeremony};
pub use connect::{Backend, MigrationState};
pub use counts::RowCounts;
pub use maintenance::Checkpoint;
pub use sessions::{NewSession, SessionWithUser};
pub use sign_in_failures::{Attempt, FailurePolicy};
pub use signing_keys::StoredSigningKey;
pub use users::{NewUser, SignInMethods};

/// A user row as the service layer sees it.
pub type UserRecord = entities::users::Model;
/// A session row as the service layer sees it.
pub type SessionRecord = entities::sessions::Model;

use sea_orm::{DatabaseConnection, DbErr, SqlErr};

use crate::error::Error;

/// Handle to the database; cheap to clone (a connection pool inside).
#[derive(Clone, Debug)]
pub struct Store {
    db: DatabaseConnection,
    backend: Backend,
}

impl From<DbErr> for Error {
    fn from(err: DbErr) -> Self {
        Self::internal(format_args!("database: {err}"))
    }
}

fn is_unique_violation(err: &DbErr) -> bool {
    matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

/// A fresh, time-ordered id (UUIDv7): lists ordered by id are ordered by creation.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
