//! The outbox: messages that a change commits together with itself and a sender task delivers
//! later, on any replica. Payloads are sealed under the master key (a mail may carry a sign-in
//! link). Claiming is one transaction, `SELECT … LIMIT n FOR UPDATE SKIP LOCKED` then
//! `UPDATE … WHERE id IN (…) RETURNING`: it counts the attempt and moves `next_attempt_at` past
//! a lease, so of concurrent senders each row goes to one, and a sender that dies mid-delivery
//! only delays the row by the lease. The attempt count is the fencing token of the later calls: a sender whose lease
//! ran out (and whose row another sender re-claimed) cannot overwrite that sender's outcome.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait,
    sea_query::{Expr, ExprTrait, LockBehavior, LockType},
};

use super::{Store, entities::outbox, new_id, secrets::OUTBOX_PAYLOAD};
use crate::error::Result;

/// Longest error text kept on a row.
const MAX_ERROR_CHARS: usize = 1000;

/// A message to deliver later.
#[derive(Debug, Clone)]
pub struct NewOutboxMessage {
    /// What delivers it ("email").
    pub kind: &'static str,
    /// What the deliverer reads (JSON); sealed at rest.
    pub payload: String,
}

/// Where a webhook row goes and what it is about, in plain columns (the payload is sealed).
#[derive(Debug, Clone, Copy)]
pub(super) struct OutboxRoute<'a> {
    pub endpoint: &'a str,
    pub event_type: &'a str,
    /// The user the event is about: rows of one endpoint and subject are delivered in order.
    pub subject_id: Option<&'a str>,
}

/// A claimed message: deliver it, then `complete_outbox`, `retry_outbox` or `bury_outbox`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedMessage {
    pub id: String,
    pub payload: String,
    /// This attempt's number (1 for the first): pass it back as the fencing token.
    pub attempt: i32,
    pub created_at: DateTime<Utc>,
}

/// How many messages of a kind wait and how many gave up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OutboxCounts {
    pub waiting: u64,
    pub dead: u64,
}

/// A row that failed for good, as the operator sees it (never the payload).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadMessage {
    pub id: String,
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
    pub dead_at: DateTime<Utc>,
    pub last_error: Option<String>,
}

impl Store {
    /// Writes `message` through `conn` — the caller's write transaction, so the message exists
    /// exactly when the change that caused it committed. Due at once. Returns its id.
    pub(super) async fn enqueue_in<C: ConnectionTrait>(
        &self,
        conn: &C,
        message: NewOutboxMessage,
        now: DateTime<Utc>,
    ) -> Result<String> {
        self.insert_outbox_row(conn, message, None, now).await
    }

    /// Inserts one row; `route` is a webhook row's endpoint, event type and subject.
    pub(super) async fn insert_outbox_row<C: ConnectionTrait>(
        &self,
        conn: &C,
        message: NewOutboxMessage,
        route: Option<OutboxRoute<'_>>,
        now: DateTime<Utc>,
    ) -> Result<String> {
        let id = new_id();
        let row = outbox::ActiveModel {
            id: Set(id.clone()),
            kind: Set(message.kind.to_owned()),
            payload: Set(self.seal(&message.payload, OUTBOX_PAYLOAD, &id)?),
            created_at: Set(now),
            attempts: Set(0),
            next_attempt_at: Set(now),
            last_error: Set(None),
            dead_at: Set(None),
            endpoint: Set(route.map(|route| route.endpoint.to_owned())),
            event_type: Set(route.map(|route| route.event_type.to_owned())),
            subject_id: Set(route.and_then(|route| route.subject_id.map(str::to_owned))),
        };
        outbox::Entity::insert(row).exec_without_returning(conn).await?;
        Ok(id)
    }

    /// Queues `message` on its own (a notice that no other write goes with). Returns its id.
    pub async fn enqueue(&self, message: NewOutboxMessage, now: DateTime<Utc>) -> Result<String> {
        let txn = self.begin_write().await?;
        let id = self.enqueue_in(&txn, message, now).await?;
        txn.commit().await?;
        Ok(id)
    }

    /// Claims up to `limit` due messages of `kind` (only those to `endpoint`, when given) for
    /// `lease`: each is counted as an attempt and not due again before `now + lease`. One
    /// transaction: the due rows are selected and locked (`FOR UPDATE SKIP LOCKED` on
    /// PostgreSQL: rows another sender is claiming are skipped; SQLite's write transaction is
    /// alone), then updated by id, the conditions checked again. Two statements rather than an
    /// `UPDATE … WHERE id IN (SELECT … LIMIT n)`: PostgreSQL may run such a subquery once per
    /// row it updates, each run locking the next row, so `limit` would not hold (seen in the
    /// breaker test: a claim of 1 took 3 rows). At most one row per endpoint and subject is claimed (see
    /// `no_earlier_row_waiting`), so what one call claims may be delivered concurrently.
    pub async fn claim_outbox(
        &self,
        kind: &str,
        endpoint: Option<&str>,
        now: DateTime<Utc>,
        lease: chrono::Duration,
        limit: u64,
    ) -> Result<Vec<ClaimedMessage>> {
        use outbox::Column as C;
        let to_endpoint = endpoint.map(|endpoint| C::Endpoint.eq(endpoint));
        let txn = self.begin_write().await?;
        let due: Vec<String> = outbox::Entity::find()
            .select_only()
            .column(C::Id)
            .filter(C::Kind.eq(kind))
            .apply_if(to_endpoint.clone(), QueryFilter::filter)
            .filter(C::DeadAt.is_null())
            .filter(C::NextAttemptAt.lte(now))
            .filter(no_earlier_row_waiting())
            .order_by_asc(C::NextAttemptAt)
            .limit(limit)
            .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
            .into_tuple()
            .all(&txn)
            .await?;
        if due.is_empty() {
            txn.rollback().await?;
            return Ok(Vec::new());
        }
        let claimed = outbox::Entity::update_many()
            .col_expr(C::Attempts, Expr::col(C::Attempts).add(1))
            .col_expr(C::NextAttemptAt, Expr::value(now + lease))
            .filter(C::Id.is_in(due))
            .apply_if(to_endpoint, QueryFilter::filter)
            .filter(C::DeadAt.is_null())
            .filter(C::NextAttemptAt.lte(now))
            .exec_with_returning(&txn)
            .await?;
        txn.commit().await?;
        claimed
            .into_iter()
            .map(|row| {
                Ok(ClaimedMessage {
                    payload: self.open(&row.payload, OUTBOX_PAYLOAD, &row.id)?,
                    id: row.id,
                    attempt: row.attempts,
                    created_at: row.created_at,
                })
            })
            .collect()
    }

    /// The message was delivered: it goes. (Whatever attempt delivered it, it is done.)
    pub async fn complete_outbox(&self, id: &str) -> Result<()> {
        outbox::Entity::delete_by_id(id.to_owned()).exec(self.writer()).await?;
        Ok(())
    }

    /// Attempt `attempt` failed and may be retried at `next_attempt_at`. Returns false when the
    /// row is no longer this attempt's (re-claimed after the lease, or gone).
    pub async fn retry_outbox(
        &self,
        id: &str,
        attempt: i32,
        next_attempt_at: DateTime<Utc>,
        error: &str,
    ) -> Result<bool> {
        self.record_failure(id, attempt, (outbox::Column::NextAttemptAt, next_attempt_at), error).await
    }

    /// Attempt `attempt` failed for good: the row stays, marked dead, with the error.
    pub async fn bury_outbox(&self, id: &str, attempt: i32, now: DateTime<Utc>, error: &str) -> Result<bool> {
        self.record_failure(id, attempt, (outbox::Column::DeadAt, now), error).await
    }

    /// Sets `column` to `at` and the error on row `id`, if it is still attempt `attempt`'s.
    async fn record_failure(
        &self,
        id: &str,
        attempt: i32,
        (column, at): (outbox::Column, DateTime<Utc>),
        error: &str,
    ) -> Result<bool> {
        use outbox::Column as C;
        let updated = outbox::Entity::update_many()
            .col_expr(column, Expr::value(at))
            .col_expr(C::LastError, Expr::value(truncated(error)))
            .filter(C::Id.eq(id))
            .filter(C::Attempts.eq(attempt))
            .exec(self.writer())
            .await?;
        Ok(updated.rows_affected == 1)
    }

    /// Marks dead the rows of `kind` to `endpoint` created before `created_before` that wait
    /// (not claimed by a sender right now): a breaker that keeps an endpoint closed to
    /// deliveries must not keep them past their age budget. Returns how many.
    pub async fn bury_outbox_older_than(
        &self,
        kind: &str,
        endpoint: &str,
        created_before: DateTime<Utc>,
        now: DateTime<Utc>,
        error: &str,
    ) -> Result<u64> {
        use outbox::Column as C;
        let buried = outbox::Entity::update_many()
            .col_expr(C::DeadAt, Expr::value(now))
            .col_expr(C::LastError, Expr::value(truncated(error)))
            .filter(C::Kind.eq(kind))
            .filter(C::Endpoint.eq(endpoint))
            .filter(C::DeadAt.is_null())
            .filter(C::CreatedAt.lt(created_before))
            .filter(C::NextAttemptAt.lte(now))
            .exec(self.writer())
            .await?;
        Ok(buried.rows_affected)
    }

    /// Marks dead the waiting rows of `kind` to an endpoint not in `endpoints` (one removed from
    /// the configuration: no lane delivers to it any more). Returns how many.
    pub async fn bury_outbox_of_other_endpoints(
        &self,
        kind: &str,
        endpoints: &[String],
        now: DateTime<Utc>,
        error: &str,
    ) -> Result<u64> {
        use outbox::Column as C;
        let buried = outbox::Entity::update_many()
            .col_expr(C::DeadAt, Expr::value(now))
            .col_expr(C::LastError, Expr::value(truncated(error)))
            .filter(C::Kind.eq(kind))
            .filter(C::Endpoint.is_not_in(endpoints.iter().map(String::as_str)))
            .filter(C::DeadAt.is_null())
            .filter(C::NextAttemptAt.lte(now))
            .exec(self.writer())
            .await?;
        Ok(buried.rows_affected)
    }

    /// Deletes the messages of `kind` that were given up before `dead_before`, `SWEEP_BATCH`
    /// per statement (a sweep after an outage may find many); returns how many went.
    pub async fn delete_dead_outbox_before(&self, kind: &str, dead_before: DateTime<Utc>) -> Result<u64> {
        use outbox::Column as C;
        let old = sea_orm::Condition::all().add(C::Kind.eq(kind)).add(C::DeadAt.lt(dead_before));
        self.delete_in_batches::<outbox::Entity>(C::Id, old).await
    }

    /// Messages of `kind` still to deliver, and those that gave up.
    pub async fn outbox_counts(&self, kind: &str) -> Result<OutboxCounts> {
        use outbox::Column as C;
        let count = |dead: bool| {
            let query = outbox::Entity::find().filter(C::Kind.eq(kind));
            if dead { query.filter(C::DeadAt.is_not_null()) } else { query.filter(C::DeadAt.is_null()) }
        };
        Ok(OutboxCounts {
            waiting: sea_orm::PaginatorTrait::count(count(false), &self.db).await?,
            dead: sea_orm::PaginatorTrait::count(count(true), &self.db).await?,
        })
    }

    /// The messages of `kind` that gave up, oldest first (at most `limit`).
    pub async fn dead_outbox_messages(&self, kind: &str, limit: u64) -> Result<Vec<DeadMessage>> {
        use outbox::Column as C;
        let rows = outbox::Entity::find()
            .filter(C::Kind.eq(kind))
            .filter(C::DeadAt.is_not_null())
            .order_by_asc(C::CreatedAt)
            .limit(limit)
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|row| {
                Some(DeadMessage {
                    dead_at: row.dead_at?,
                    id: row.id,
                    attempts: row.attempts,
                    created_at: row.created_at,
                    last_error: row.last_error,
                })
            })
            .collect())
    }
}

/// Per-subject order: a row is claimable only when no earlier live (not dead) row of the same
/// endpoint and subject exists — waiting, in a backoff or claimed by another sender. Rows
/// without an endpoint or subject (mail, anonymous events) compare NULL and are never held
/// back. A dead row no longer holds the later ones (it waits for an operator). `outbox` in
/// the subquery is the row being claimed (the nearest enclosing `outbox`, in the inner SELECT
/// and in the UPDATE alike).
fn no_earlier_row_waiting() -> sea_orm::sea_query::SimpleExpr {
    Expr::cust(
        "NOT EXISTS (SELECT 1 FROM outbox AS earlier \
         WHERE earlier.endpoint = outbox.endpoint AND earlier.subject_id = outbox.subject_id \
         AND earlier.dead_at IS NULL \
         AND (earlier.created_at < outbox.created_at \
              OR (earlier.created_at = outbox.created_at AND earlier.id < outbox.id)))",
    )
}

fn truncated(error: &str) -> String {
    error.chars().take(MAX_ERROR_CHARS).collect()
}
