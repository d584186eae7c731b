//! The `session_events` feed: every change that ends sessions early records its events here in
//! its own transaction, so the feed holds exactly what committed. Readers (the replica's cache
//! invalidation, WatchSessionEvents streams) read rows after their cursor whenever they are woken:
//! on this replica by the signal bumped after each such commit, across replicas on PostgreSQL by
//! a `LISTEN` connection that the writers' `pg_notify` (inside the transaction, so delivered only
//! on commit) wakes. A wake-up carries nothing: a missed one delays a reader, it loses nothing.
//!
//! Ids are the cursor and must become visible in id order, or a reader could pass over an id
//! that commits later. SQLite has one writer at a time anyway; on PostgreSQL a transaction-level
//! advisory lock taken just before the insert serializes the writers of this table from id
//! assignment to commit (revocations are rare next to sign-ins; only they queue on it).

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DatabaseBackend, DatabaseTransaction, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, Statement, sea_query::Expr,
};
use tokio::sync::watch;

use super::{
    Backend, Store, WebhookEvent, entities::session_event_horizon as horizon, entities::session_events,
    entities::sessions,
};
use crate::{
    domain::{EventCursor, SessionEvent, SessionEventKind},
    error::{Error, Result},
};

/// The PostgreSQL notification channel.
const CHANNEL: &str = "keyward_session_events";
/// The advisory lock that orders writers of `session_events` on PostgreSQL ("kwse").
const WRITER_LOCK: i64 = 0x6b77_7365;
/// The first wait before reconnecting a lost listener, doubled up to `MAX_RECONNECT_WAIT`.
const FIRST_RECONNECT_WAIT: Duration = Duration::from_millis(100);
const MAX_RECONNECT_WAIT: Duration = Duration::from_secs(5);

/// One event about to be recorded.
#[derive(Debug, Clone, Copy)]
pub(super) struct NewSessionEvent<'a> {
    pub kind: SessionEventKind,
    pub user_id: &'a str,
    pub session_id: Option<&'a str>,
}

impl<'a> NewSessionEvent<'a> {
    pub fn user(kind: SessionEventKind, user_id: &'a str) -> Self {
        Self { kind, user_id, session_id: None }
    }
}

/// Wakes this replica's readers of the feed. Shared by every clone of a `Store`.
#[derive(Debug)]
pub(super) struct FeedSignal(watch::Sender<u64>);

impl Default for FeedSignal {
    fn default() -> Self {
        Self(watch::channel(0).0)
    }
}

impl FeedSignal {
    fn wake(&self) {
        self.0.send_modify(|n| *n = n.wrapping_add(1));
    }
}

/// Records `events` in `txn` (on PostgreSQL behind the writer lock, with a notification that
/// is delivered when `txn` commits). Commit with `Store::commit_session_events`.
pub(super) async fn record_in(
    txn: &DatabaseTransaction,
    events: &[NewSessionEvent<'_>],
    now: DateTime<Utc>,
) -> Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let postgres = txn.get_database_backend() == DatabaseBackend::Postgres;
    if postgres {
        txn.execute_raw(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "SELECT pg_advisory_xact_lock($1)",
            [WRITER_LOCK.into()],
        ))
        .await?;
    }
    let rows = events.iter().map(|event| session_events::ActiveModel {
        kind: Set(event.kind.as_str().to_owned()),
        user_id: Set(event.user_id.to_owned()),
        session_id: Set(event.session_id.map(str::to_owned)),
        created_at: Set(now),
        ..Default::default()
    });
    session_events::Entity::insert_many(rows).exec(txn).await?;
    if postgres {
        txn.execute_raw(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "SELECT pg_notify($1, '')",
            [CHANNEL.into()],
        ))
        .await?;
    }
    Ok(())
}

fn event_from_row(row: session_events::Model) -> Result<SessionEvent> {
    let kind = SessionEventKind::parse(&row.kind)
        .ok_or_else(|| Error::internal(format_args!("session event {} has unknown kind {:?}", row.id, row.kind)))?;
    Ok(SessionEvent {
        cursor: EventCursor::after_id(row.id),
        kind,
        user_id: row.user_id,
        session_id: row.session_id,
        at: row.created_at,
    })
}

impl Store {
    /// Deletes the sessions matching `filter` in `txn`, with one `SessionRevoked` event and one
    /// `session.revoked` webhook event for each (commit with `commit_session_events`); returns
    /// how many ended.
    pub(super) async fn end_sessions_in(
        &self,
        txn: &DatabaseTransaction,
        filter: Condition,
        now: DateTime<Utc>,
    ) -> Result<u64> {
        let ended = sessions::Entity::delete_many().filter(filter).exec_with_returning(txn).await?;
        let events: Vec<NewSessionEvent<'_>> = ended
            .iter()
            .map(|session| NewSessionEvent {
                kind: SessionEventKind::SessionRevoked,
                user_id: &session.user_id,
                session_id: Some(&session.id),
            })
            .collect();
        record_in(txn, &events, now).await?;
        let hooks = ended.iter().map(|session| WebhookEvent::session_revoked(&session.user_id, &session.id)).collect();
        self.emit_all_in(txn, hooks, now).await?;
        Ok(u64::try_from(ended.len()).unwrap_or(u64::MAX))
    }

    /// Commits a transaction that recorded session events, then wakes this replica's readers
    /// (other replicas hear of it through PostgreSQL's notification) and the webhook sender.
    pub(super) async fn commit_session_events(&self, txn: DatabaseTransaction) -> Result<()> {
        txn.commit().await?;
        self.feed.wake();
        self.webhooks_committed();
        Ok(())
    }

    /// A receiver that changes whenever new events may have committed: after a commit through
    /// this store, and on PostgreSQL after any replica's (while `listen_for_session_events` runs)
    /// and after the listener (re)connected. It never says what changed: read after a cursor.
    pub fn session_event_wakeups(&self) -> watch::Receiver<u64> {
        self.feed.0.subscribe()
    }

    /// On PostgreSQL, listens for other replicas' commits and wakes this replica's readers;
    /// reconnects (with backoff) when the connection is lost, and wakes them again once it is
    /// back, since notifications sent meanwhile are gone. Runs until dropped. On SQLite, whose
    /// writers are all in this process, it only waits.
    pub async fn listen_for_session_events(&self) {
        if self.backend != Backend::Postgres {
            return std::future::pending().await;
        }
        let mut wait = FIRST_RECONNECT_WAIT;
        loop {
            match self.listen_once().await {
                Ok(()) => wait = FIRST_RECONNECT_WAIT,
                Err(err) => tracing::warn!(error = %err, "session event listener failed; reconnecting"),
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(MAX_RECONNECT_WAIT);
        }
    }

    /// One listener connection, until it is lost. On `listen_url` when there is one (behind a
    /// transaction pooler `LISTEN` needs a session of its own), else on one of the pool's.
    async fn listen_once(&self) -> std::result::Result<(), sea_orm::sqlx::Error> {
        use sea_orm::sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
        let mut listener = match &self.listen_url {
            Some(url) => {
                // A pooler's session-mode entry refuses start-up parameters it does not track.
                let options = url.parse::<PgConnectOptions>()?.extra_float_digits(None);
                let pool = PgPoolOptions::new()
                    .max_connections(1)
                    .acquire_timeout(self.timeout)
                    .max_lifetime(None)
                    .idle_timeout(None)
                    .connect_with(options)
                    .await?;
                PgListener::connect_with(&pool).await?
            }
            None => PgListener::connect_with(self.db.get_postgres_connection_pool()).await?,
        };
        listener.listen(CHANNEL).await?;
        // Whatever committed while nobody listened is read now.
        self.feed.wake();
        loop {
            // `try_recv` (not `recv`) reports a lost connection instead of reconnecting inside
            // sqlx, so that every reconnection goes through the re-read above.
            match listener.try_recv().await? {
                Some(_) => self.feed.wake(),
                None => {
                    tracing::warn!("session event listener lost its connection");
                    return Ok(());
                }
            }
        }
    }

    /// Up to `limit` events with ids in `(after, up_to]`, oldest first. `WatchCursorExpired`
    /// when events after `after` have been pruned (the caller must resync).
    pub async fn session_events_after(&self, after: EventCursor, up_to: i64, limit: u64) -> Result<Vec<SessionEvent>> {
        let rows = session_events::Entity::find()
            .filter(session_events::Column::Id.gt(after.id()))
            .filter(session_events::Column::Id.lte(up_to))
            .order_by_asc(session_events::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?;
        // Read after the rows: pruning moves the horizon before it deletes, so rows missing
        // from this read show as a horizon past `after`.
        if self.pruned_through().await? > after.id() {
            return Err(Error::WatchCursorExpired);
        }
        rows.into_iter().map(event_from_row).collect()
    }

    /// The cursor after the newest event ever recorded (pruned or not).
    pub async fn session_event_head(&self) -> Result<EventCursor> {
        let newest: Option<i64> = session_events::Entity::find()
            .select_only()
            .column_as(session_events::Column::Id.max(), "newest")
            .into_tuple::<Option<i64>>()
            .one(&self.db)
            .await?
            .flatten();
        let pruned = self.pruned_through().await?;
        Ok(EventCursor::after_id(newest.unwrap_or(0).max(pruned)))
    }

    /// Whether events after `cursor` have been pruned.
    pub async fn session_event_cursor_expired(&self, cursor: EventCursor) -> Result<bool> {
        Ok(self.pruned_through().await? > cursor.id())
    }

    /// The highest id pruned so far (0: none).
    async fn pruned_through(&self) -> Result<i64> {
        let row = horizon::Entity::find_by_id(1).one(&self.db).await?;
        Ok(row.map_or(0, |row| row.pruned_through))
    }

    /// Deletes the events recorded before `before` (retention); returns how many. The horizon
    /// moves first, so a reader never takes the gap for the end of the feed.
    pub async fn prune_session_events(&self, before: DateTime<Utc>) -> Result<u64> {
        let newest_old: Option<i64> = session_events::Entity::find()
            .select_only()
            .column_as(session_events::Column::Id.max(), "newest")
            .filter(session_events::Column::CreatedAt.lt(before))
            .into_tuple::<Option<i64>>()
            .one(&self.db)
            .await?
            .flatten();
        let Some(through) = newest_old else { return Ok(0) };
        horizon::Entity::update_many()
            .col_expr(horizon::Column::PrunedThrough, Expr::value(through))
            .filter(horizon::Column::Id.eq(1))
            .filter(horizon::Column::PrunedThrough.lt(through))
            .exec(self.writer())
            .await?;
        let old = Condition::all().add(session_events::Column::Id.lte(through));
        self.delete_in_batches::<session_events::Entity>(session_events::Column::Id, old).await
    }
}
