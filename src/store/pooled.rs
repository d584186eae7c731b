//! The connection the store's statements go through: the pool itself, or — when `database_url`
//! is a transaction-pooling proxy (PgBouncer `pool_mode = transaction`) — the pool with every
//! statement outside a transaction run in a transaction of its own.
//!
//! Why: sqlx sends a parameterised statement as two protocol exchanges (Parse/Describe/Sync, then
//! Bind/Execute/Sync), and a transaction pooler may hand the server connection to another client
//! between them, so the Bind meets a backend where the statement is missing, or is another
//! client's. Measured against PgBouncer 1.18 (Debian 12's) with 16 clients on 4 server
//! connections: with sqlx's statement cache on, 1,514 of 4,800 queries returned the answer to
//! *another client's statement* and 824 failed; with the cache off (sqlx 0.9 still names every
//! statement, and never closes it) 3,804 failed. Inside a transaction the pooler keeps the
//! server connection, so both exchanges meet the same backend. The pooler must also drop the
//! statements a transaction leaves behind (`server_reset_query = DEALLOCATE ALL` with
//! `server_reset_query_always = 1`; docs/scaling.md), or the next client's names collide.

use std::ops::Deref;

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, ExecResult, QueryResult, Statement, TransactionError,
    TransactionTrait,
};

/// A pool, and whether each statement outside a transaction gets one of its own. Transactions
/// (`begin_write`) and everything else a `DatabaseConnection` offers go to the pool (`Deref`).
#[derive(Debug, Clone)]
pub(super) struct Connection {
    pool: DatabaseConnection,
    own_transaction: bool,
}

impl Connection {
    /// Statements go to `pool` as they are.
    pub fn direct(pool: DatabaseConnection) -> Self {
        Self { pool, own_transaction: false }
    }

    /// Statements outside a transaction each run in one of their own (behind a transaction pooler).
    pub fn behind_transaction_pooler(pool: DatabaseConnection) -> Self {
        Self { pool, own_transaction: true }
    }

    /// Whether this is the pool behind a transaction pooler.
    pub fn behind_pooler(&self) -> bool {
        self.own_transaction
    }

    pub fn into_pool(self) -> DatabaseConnection {
        self.pool
    }
}

impl Deref for Connection {
    type Target = DatabaseConnection;

    fn deref(&self) -> &DatabaseConnection {
        &self.pool
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for Connection {
    fn get_database_backend(&self) -> DbBackend {
        self.pool.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        if !self.own_transaction {
            return self.pool.execute_raw(stmt).await;
        }
        self.pool.transaction(|txn| Box::pin(async move { txn.execute_raw(stmt).await })).await.map_err(flatten)
    }

    /// The simple query protocol: one exchange, so it needs no transaction of its own.
    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.pool.execute_unprepared(sql).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        if !self.own_transaction {
            return self.pool.query_one_raw(stmt).await;
        }
        self.pool.transaction(|txn| Box::pin(async move { txn.query_one_raw(stmt).await })).await.map_err(flatten)
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        if !self.own_transaction {
            return self.pool.query_all_raw(stmt).await;
        }
        self.pool.transaction(|txn| Box::pin(async move { txn.query_all_raw(stmt).await })).await.map_err(flatten)
    }
}

/// The error of a statement's own transaction: beginning, the statement, or the commit.
fn flatten(err: TransactionError<DbErr>) -> DbErr {
    match err {
        TransactionError::Connection(err) | TransactionError::Transaction(err) => err,
    }
}
