//! What the metrics read from storage at scrape time: each connection pool's use, a timed probe
//! of each pool, and the outbox backlog per kind. Reads only; every query is bounded like any
//! other by the store's timeout.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sea_orm::{DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect, prelude::*};

use super::{Backend, OutboxCounts, Store, entities::outbox};
use crate::error::Result;

/// One connection pool, as the metrics name it: `read` and `write` on SQLite (the readers and the
/// one writer connection), `main` on PostgreSQL (one pool for both).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolUsage {
    pub pool: &'static str,
    pub in_use: usize,
    pub idle: usize,
    pub max: u32,
}

/// The outbox rows of one kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxBacklog {
    pub counts: OutboxCounts,
    /// When the oldest row still waiting was written (None: nothing waits).
    pub oldest_waiting: Option<DateTime<Utc>>,
}

impl Store {
    /// Every pool's connections in use and idle.
    pub fn pool_usage(&self) -> Vec<PoolUsage> {
        self.pools().into_iter().map(|(pool, connection)| usage(pool, connection)).collect()
    }

    /// Takes a connection from each pool and gives it straight back, timing the wait (a pool
    /// that is exhausted shows here as a long wait; one past the store's timeout counts as that).
    pub async fn probe_pool_waits(&self) -> Vec<(&'static str, Duration)> {
        let mut waits = Vec::new();
        for (pool, connection) in self.pools() {
            let started = Instant::now();
            let acquired = match self.backend {
                Backend::Sqlite => connection.get_sqlite_connection_pool().acquire().await.map(drop),
                Backend::Postgres => connection.get_postgres_connection_pool().acquire().await.map(drop),
            };
            let waited = if acquired.is_ok() { started.elapsed() } else { started.elapsed().max(self.timeout) };
            waits.push((pool, waited));
        }
        waits
    }

    /// The outbox rows of `kind` waiting and dead, and the age of the oldest waiting one.
    pub async fn outbox_backlog(&self, kind: &str) -> Result<OutboxBacklog> {
        use outbox::Column as C;
        let counts = self.outbox_counts(kind).await?;
        let oldest_waiting = outbox::Entity::find()
            .select_only()
            .column(C::CreatedAt)
            .filter(C::Kind.eq(kind))
            .filter(C::DeadAt.is_null())
            .order_by_asc(C::CreatedAt)
            .into_tuple::<DateTime<Utc>>()
            .one(&self.db)
            .await?;
        Ok(OutboxBacklog { counts, oldest_waiting })
    }

    fn pools(&self) -> Vec<(&'static str, &DatabaseConnection)> {
        match self.backend {
            Backend::Sqlite => vec![("read", &self.db), ("write", &self.writer)],
            Backend::Postgres => vec![("main", &self.db)],
        }
    }
}

fn usage(pool: &'static str, connection: &DatabaseConnection) -> PoolUsage {
    let (size, idle, max) = match connection.get_database_backend() {
        sea_orm::DbBackend::Postgres => {
            let pool = connection.get_postgres_connection_pool();
            (pool.size(), pool.num_idle(), pool.options().get_max_connections())
        }
        _ => {
            let pool = connection.get_sqlite_connection_pool();
            (pool.size(), pool.num_idle(), pool.options().get_max_connections())
        }
    };
    let size = usize::try_from(size).unwrap_or(usize::MAX);
    PoolUsage { pool, in_use: size.saturating_sub(idle), idle, max }
}
