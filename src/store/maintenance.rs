//! Upkeep that keeps the database's size bounded: expiry sweeps in small batches, and on SQLite
//! a WAL that is checkpointed and truncated instead of growing without bound.

use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, QueryTrait, sqlx::Row};

use super::{Backend, Store};
use crate::error::{Error, Result};

/// Rows deleted per statement by the sweeps. A sweep of 600k rows in one statement held the
/// SQLite write lock for 2.4 s (every writer waited); in batches, writers get the lock between
/// them.
const SWEEP_BATCH: u64 = 1000;

/// What one WAL checkpoint did (SQLite's `PRAGMA wal_checkpoint` answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Checkpoint {
    /// A reader or writer kept it from finishing.
    pub busy: bool,
    /// Frames in the WAL.
    pub wal_frames: i64,
    /// Frames copied back into the database.
    pub checkpointed_frames: i64,
}

impl Store {
    /// Deletes the rows of `E` matching `filter`, `SWEEP_BATCH` at a time; returns how many.
    pub(super) async fn delete_in_batches<E: EntityTrait>(&self, key: E::Column, filter: Condition) -> Result<u64>
    where
        E::Column: ColumnTrait,
    {
        let mut deleted = 0;
        loop {
            let batch = E::find().select_only().column(key).filter(filter.clone()).limit(SWEEP_BATCH).into_query();
            let result = E::delete_many().filter(key.in_subquery(batch)).exec(self.writer()).await?;
            deleted += result.rows_affected;
            if result.rows_affected < SWEEP_BATCH {
                return Ok(deleted);
            }
            tokio::task::yield_now().await;
        }
    }

    /// On SQLite, one step of WAL upkeep: a PASSIVE checkpoint (never waits for anyone) and,
    /// when the database is idle — every frame checkpointed and no new frame since `previous`
    /// — a TRUNCATE checkpoint that shrinks the WAL file to zero. TRUNCATE waits for readers
    /// and blocks writers meanwhile, so it runs only when idle, with a short busy timeout of its
    /// own. Returns what the PASSIVE checkpoint saw (the next call's `previous`); None on
    /// PostgreSQL, which manages its own WAL.
    pub async fn maintain_wal(&self, previous: Option<Checkpoint>) -> Result<Option<Checkpoint>> {
        if self.backend != Backend::Sqlite {
            return Ok(None);
        }
        let fail = |err: sea_orm::sqlx::Error| Error::internal(format_args!("wal upkeep: {err}"));
        let mut conn = self.db.get_sqlite_connection_pool().acquire().await.map_err(fail)?;
        let passive = checkpoint(&mut conn, "PRAGMA wal_checkpoint(PASSIVE)").await.map_err(fail)?;
        let idle = !passive.busy
            && passive.checkpointed_frames == passive.wal_frames
            && previous.is_some_and(|previous| previous.wal_frames == passive.wal_frames);
        if !idle || passive.wal_frames <= 0 {
            return Ok(Some(passive));
        }
        sea_orm::sqlx::query("PRAGMA busy_timeout = 100").execute(&mut *conn).await.map_err(fail)?;
        let truncated = checkpoint(&mut conn, "PRAGMA wal_checkpoint(TRUNCATE)").await;
        sea_orm::sqlx::query(super::connect::BUSY_TIMEOUT_PRAGMA).execute(&mut *conn).await.map_err(fail)?;
        Ok(Some(truncated.map_err(fail)?))
    }

    /// The size of the SQLite WAL file in bytes (0 when there is none); None on PostgreSQL.
    pub async fn wal_bytes(&self) -> Result<Option<u64>> {
        if self.backend != Backend::Sqlite {
            return Ok(None);
        }
        let row = self.db.query_one_raw(sea_orm::Statement::from_string(
            self.db.get_database_backend(),
            "SELECT file FROM pragma_database_list WHERE name = 'main'",
        ));
        let file: String = row.await?.and_then(|row| row.try_get_by_index(0).ok()).unwrap_or_default();
        let wal = format!("{file}-wal");
        Ok(Some(std::fs::metadata(wal).map_or(0, |meta| meta.len())))
    }
}

async fn checkpoint(
    conn: &mut sea_orm::sqlx::SqliteConnection,
    pragma: &'static str,
) -> Result<Checkpoint, sea_orm::sqlx::Error> {
    let row = sea_orm::sqlx::query(pragma).fetch_one(conn).await?;
    Ok(Checkpoint {
        busy: row.try_get::<i64, _>(0)? != 0,
        wal_frames: row.try_get(1)?,
        checkpointed_frames: row.try_get(2)?,
    })
}
