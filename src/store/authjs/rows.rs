//! The rows of an Auth.js database as plain Rust values, and the decoding of the column types the
//! adapters use: text or integer ids, `timestamptz` / `timestamp(3)` / Prisma-on-SQLite integer
//! milliseconds / ISO text for times, `boolean` or 0/1 for flags.

use chrono::{DateTime, NaiveDateTime, Utc};
use sea_orm::{QueryResult, TryGetable};

use super::SourceBackend;

/// A source row that could not be read; `id` names it when its id could be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRow {
    pub id: Option<String>,
    pub reason: String,
}

/// Auth.js `User` (plus the credentials tutorials' password column).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceUser {
    pub id: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub email_verified: Option<DateTime<Utc>>,
    pub image: Option<String>,
    pub password_hash: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}

/// Auth.js `Account`. `id` is absent in the Prisma PostgreSQL schema (keyed by provider).
#[derive(Clone, PartialEq, Eq)]
pub struct SourceAccount {
    pub id: Option<String>,
    pub user_id: String,
    pub kind: String,
    pub provider: String,
    pub provider_account_id: String,
    pub refresh_token: Option<String>,
    pub access_token: Option<String>,
    pub expires_at: Option<i64>,
    pub token_type: Option<String>,
    pub scope: Option<String>,
    pub id_token: Option<String>,
}

impl std::fmt::Debug for SourceAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Provider tokens are credentials: never in logs.
        f.debug_struct("SourceAccount")
            .field("id", &self.id)
            .field("user_id", &self.user_id)
            .field("provider", &self.provider)
            .field("provider_account_id", &self.provider_account_id)
            .finish_non_exhaustive()
    }
}

/// Auth.js `Session`. The token is the secret the app's cookie holds.
#[derive(Clone, PartialEq, Eq)]
pub struct SourceSession {
    pub id: Option<String>,
    pub session_token: String,
    pub user_id: String,
    pub expires: DateTime<Utc>,
}

impl std::fmt::Debug for SourceSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceSession")
            .field("id", &self.id)
            .field("user_id", &self.user_id)
            .field("expires", &self.expires)
            .finish_non_exhaustive()
    }
}

/// Auth.js `Authenticator` (a passkey registered by its WebAuthn provider): `credential_id` and
/// `credential_public_key` are standard base64 (with padding) of the raw id and the COSE key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceAuthenticator {
    pub credential_id: String,
    pub user_id: String,
    pub provider_account_id: Option<String>,
    pub credential_public_key: String,
    pub counter: i64,
    pub credential_device_type: Option<String>,
    pub credential_backed_up: bool,
    pub transports: Option<String>,
    /// The user's name for it and the authenticator's AAGUID, where the source keeps them
    /// (better-auth's passkey plugin does; Auth.js does not).
    pub name: Option<String>,
    pub aaguid: Option<String>,
}

/// Reads one column by its alias, reporting which column failed.
pub(in crate::store) struct RowReader<'a> {
    pub(in crate::store) row: &'a QueryResult,
    pub(in crate::store) backend: SourceBackend,
}

impl RowReader<'_> {
    fn get<T: TryGetable>(&self, column: &str) -> Result<T, String> {
        self.row.try_get::<T>("", column).map_err(|err| format!("column {column}: {err}"))
    }

    /// Text (ids are selected `CAST(… AS TEXT)`, so integer and UUID ids arrive as text too).
    pub(in crate::store) fn text(&self, column: &str) -> Result<Option<String>, String> {
        self.get::<Option<String>>(column)
    }

    pub(in crate::store) fn required_text(&self, column: &str) -> Result<String, String> {
        self.text(column)?.ok_or_else(|| format!("column {column} is empty"))
    }

    pub(in crate::store) fn integer(&self, column: &str) -> Result<Option<i64>, String> {
        if let Ok(value) = self.row.try_get::<Option<i64>>("", column) {
            return Ok(value);
        }
        if let Ok(value) = self.row.try_get::<Option<i32>>("", column) {
            return Ok(value.map(i64::from));
        }
        match self.text(column)? {
            None => Ok(None),
            Some(text) => text.trim().parse().map(Some).map_err(|_| format!("column {column}: not an integer")),
        }
    }

    pub(in crate::store) fn flag(&self, column: &str) -> Result<bool, String> {
        if let Ok(value) = self.row.try_get::<Option<bool>>("", column) {
            return Ok(value.unwrap_or(false));
        }
        if let Ok(value) = self.row.try_get::<Option<i64>>("", column) {
            return Ok(value.is_some_and(|v| v != 0));
        }
        match self.text(column)?.as_deref().map(str::trim) {
            None | Some("" | "0" | "false" | "f") => Ok(false),
            Some("1" | "true" | "t") => Ok(true),
            Some(_) => Err(format!("column {column}: not a boolean")),
        }
    }

    /// A point in time, whichever way the adapter stored it.
    pub(in crate::store) fn time(&self, column: &str) -> Result<Option<DateTime<Utc>>, String> {
        if self.backend == SourceBackend::Postgres {
            if let Ok(value) = self.row.try_get::<Option<DateTime<Utc>>>("", column) {
                return Ok(value);
            }
            // Prisma's `DateTime` is `timestamp(3)` without time zone on PostgreSQL, in UTC.
            if let Ok(value) = self.row.try_get::<Option<NaiveDateTime>>("", column) {
                return Ok(value.map(|naive| naive.and_utc()));
            }
        }
        // SQLite has no time type: Prisma's engine writes integer milliseconds, Drizzle integer
        // seconds or milliseconds, driver adapters and SQL defaults ISO-8601 text.
        if let Ok(value) = self.row.try_get::<Option<i64>>("", column) {
            return value
                .map(|number| epoch(number).ok_or_else(|| format!("column {column}: time out of range")))
                .transpose();
        }
        match self.text(column)? {
            None => Ok(None),
            Some(text) => {
                parse_time_text(&text).map(Some).ok_or_else(|| format!("column {column}: not a time: {text:?}"))
            }
        }
    }

    pub(in crate::store) fn required_time(&self, column: &str) -> Result<DateTime<Utc>, String> {
        self.time(column)?.ok_or_else(|| format!("column {column} is empty"))
    }
}

/// Seconds or milliseconds since the epoch: anything past 10^11 (the year 5138 in seconds) is
/// taken as milliseconds.
fn epoch(number: i64) -> Option<DateTime<Utc>> {
    if number.abs() >= 100_000_000_000 {
        DateTime::from_timestamp_millis(number)
    } else {
        DateTime::from_timestamp(number, 0)
    }
}

fn parse_time_text(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Some(time.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%d %H:%M:%S%.f %:z", "%Y-%m-%d %H:%M:%S%.f%:z", "%Y-%m-%d %H:%M:%S%.f%#z"] {
        if let Ok(time) = DateTime::parse_from_str(text, format) {
            return Some(time.with_timezone(&Utc));
        }
    }
    for format in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(text, format) {
            return Some(naive.and_utc());
        }
    }
    text.parse::<i64>().ok().and_then(epoch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_in_every_shape_the_adapters_write() {
        let expected = DateTime::parse_from_rfc3339("2026-11-30T10:20:30.123Z").unwrap().with_timezone(&Utc);
        for text in [
            "2026-11-30T10:20:30.123Z",
            "2026-11-30T10:20:30.123+00:00",
            "2026-11-30 10:20:30.123",
            "2026-11-30 10:20:30.123 +00:00",
            "2026-11-30 12:20:30.123+02:00",
            "1796034030123",
        ] {
            assert_eq!(parse_time_text(text), Some(expected), "{text}");
        }
        assert_eq!(epoch(1_796_034_030_123), Some(expected));
        assert_eq!(epoch(1_796_034_030), Some(expected - chrono::Duration::milliseconds(123)));
        assert_eq!(parse_time_text("yesterday"), None);
    }
}
