//! The `sessions` table: creating (alone or with a new user), finding, touching, listing and
//! ending sessions, and a password change that ends the other sessions in one transaction.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, DatabaseTransaction, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, sea_query::Expr,
};

use super::{
    NewOutboxMessage, NewUser, SessionRecord, Store, UserRecord, WebhookEvent, entities::sessions, entities::users,
};
use crate::{domain::WebhookEventType, error::Result};

/// A session about to be created. `token_hash` is the SHA-256 of the token handed to the client.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub id: String,
    pub token_hash: String,
    pub user_id: String,
    pub created_at: DateTime<Utc>,
    /// When the user last proved a factor in this session: now for a sign-in, the epoch for an
    /// imported session (never recent).
    pub authenticated_at: DateTime<Utc>,
    pub idle_expires: DateTime<Utc>,
    pub expires: DateTime<Utc>,
    pub user_agent: Option<String>,
}

/// What a factor change (password, passkey, linked account) does with the user's other
/// sessions, in the same transaction as the change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtherSessions<'a> {
    Keep,
    /// End every session of the user except this one (the caller's).
    EndAllBut(&'a str),
}

/// Applies `other` for `user_id` in `txn`, recording a `SessionRevoked` event and a
/// `session.revoked` webhook event per ended session (commit with
/// `Store::commit_session_events`); returns how many sessions ended.
pub(super) async fn end_other_sessions_in(
    store: &Store,
    txn: &DatabaseTransaction,
    user_id: &str,
    other: OtherSessions<'_>,
    now: DateTime<Utc>,
) -> Result<u64> {
    let OtherSessions::EndAllBut(keep) = other else { return Ok(0) };
    let others = Condition::all().add(sessions::Column::UserId.eq(user_id)).add(sessions::Column::Id.ne(keep));
    store.end_sessions_in(txn, others, now).await
}

impl NewSession {
    pub(super) fn into_active_model(self) -> sessions::ActiveModel {
        sessions::ActiveModel {
            id: Set(self.id),
            session_token: Set(self.token_hash),
            user_id: Set(self.user_id),
            expires: Set(self.expires),
            idle_expires: Set(self.idle_expires),
            created_at: Set(self.created_at),
            last_seen_at: Set(self.created_at),
            user_agent: Set(self.user_agent),
            authenticated_at: Set(self.authenticated_at),
        }
    }
}

/// Inserts a session on `db` (an open write transaction), with its `session.created` event.
pub(super) async fn insert_session_in(
    store: &Store,
    db: &impl sea_orm::ConnectionTrait,
    session: NewSession,
) -> Result<SessionRecord> {
    let session = session.into_active_model().insert(db).await?;
    store.emit_in(db, WebhookEvent::session_created(&session), session.created_at).await?;
    Ok(session)
}

/// A session together with its user, as GetSession needs them.
#[derive(Debug, Clone)]
pub struct SessionWithUser {
    pub session: SessionRecord,
    pub user: UserRecord,
}

impl Store {
    /// Creates the user and their first session in one transaction: either both exist afterwards
    /// or neither does. A taken email is `EmailTaken`.
    pub async fn create_user_with_session(&self, user: NewUser, session: NewSession) -> Result<SessionWithUser> {
        let txn = self.begin_write().await?;
        let user = self.insert_user_in(&txn, user.into_active_model()).await?;
        let session = insert_session_in(self, &txn, session).await?;
        txn.commit().await?;
        self.webhooks_committed();
        Ok(SessionWithUser { session, user })
    }

    /// Stores a new session for an existing user.
    pub async fn insert_session(&self, session: NewSession) -> Result<SessionRecord> {
        let txn = self.begin_write().await?;
        let session = insert_session_in(self, &txn, session).await?;
        txn.commit().await?;
        self.webhooks_committed();
        Ok(session)
    }

    /// The session whose token hashes to `token_hash`, with its user, expired or not.
    pub async fn find_session_by_token_hash(&self, token_hash: &str) -> Result<Option<SessionWithUser>> {
        let found = sessions::Entity::find()
            .filter(sessions::Column::SessionToken.eq(token_hash))
            .find_also_related(users::Entity)
            .one(&self.db)
            .await?;
        Ok(found.and_then(|(session, user)| user.map(|user| SessionWithUser { session, user })))
    }

    /// The session with this id, with its user.
    pub async fn find_session(&self, session_id: &str) -> Result<Option<SessionWithUser>> {
        let found =
            sessions::Entity::find_by_id(session_id.to_owned()).find_also_related(users::Entity).one(&self.db).await?;
        Ok(found.and_then(|(session, user)| user.map(|user| SessionWithUser { session, user })))
    }

    /// Records use of a session: last seen now, idle expiry pushed to `idle_expires`.
    pub async fn touch_session(&self, session_id: &str, now: DateTime<Utc>, idle_expires: DateTime<Utc>) -> Result<()> {
        sessions::Entity::update_many()
            .col_expr(sessions::Column::LastSeenAt, Expr::value(now))
            .col_expr(sessions::Column::IdleExpires, Expr::value(idle_expires))
            .filter(sessions::Column::Id.eq(session_id))
            .exec(self.writer())
            .await?;
        Ok(())
    }

    /// Ends the session `session_id` if it belongs to `user_id`, recording the event; false when
    /// there was none.
    pub async fn delete_user_session(&self, user_id: &str, session_id: &str, now: DateTime<Utc>) -> Result<bool> {
        let txn = self.begin_write().await?;
        let one = Condition::all().add(sessions::Column::Id.eq(session_id)).add(sessions::Column::UserId.eq(user_id));
        let ended = self.end_sessions_in(&txn, one, now).await?;
        self.commit_session_events(txn).await?;
        Ok(ended > 0)
    }

    /// Sets a new password hash and deletes every other session of the user, atomically.
    /// Returns how many sessions were deleted. `notice` (the mail to the account) commits with it.
    pub async fn change_password_and_revoke_others(
        &self,
        user_id: &str,
        keep_session_id: &str,
        password_hash: String,
        notice: NewOutboxMessage,
        now: DateTime<Utc>,
    ) -> Result<u64> {
        let txn = self.begin_write().await?;
        users::ActiveModel {
            id: Set(user_id.to_owned()),
            password_hash: Set(Some(password_hash)),
            updated_at: Set(now),
            ..Default::default()
        }
        .update(&txn)
        .await?;
        self.emit_in(&txn, WebhookEvent::user_id(WebhookEventType::PasswordChanged, user_id), now).await?;
        let revoked =
            end_other_sessions_in(self, &txn, user_id, OtherSessions::EndAllBut(keep_session_id), now).await?;
        self.enqueue_in(&txn, notice, now).await?;
        self.commit_session_events(txn).await?;
        Ok(revoked)
    }

    /// Ends every session of `user_id` except `keep_session_id`; returns how many.
    pub async fn delete_other_sessions(&self, user_id: &str, keep_session_id: &str, now: DateTime<Utc>) -> Result<u64> {
        let txn = self.begin_write().await?;
        let ended = end_other_sessions_in(self, &txn, user_id, OtherSessions::EndAllBut(keep_session_id), now).await?;
        self.commit_session_events(txn).await?;
        Ok(ended)
    }

    /// Records that the user proved a factor in session `session_id` at `at` (re-authentication).
    pub async fn stamp_session_authentication(&self, session_id: &str, at: DateTime<Utc>) -> Result<()> {
        sessions::Entity::update_many()
            .col_expr(sessions::Column::AuthenticatedAt, Expr::value(at))
            .filter(sessions::Column::Id.eq(session_id))
            .exec(self.writer())
            .await?;
        Ok(())
    }

    /// One page of a user's live sessions, newest first, after `after` (a session id).
    pub async fn list_user_sessions(
        &self,
        user_id: &str,
        now: DateTime<Utc>,
        after: Option<&str>,
        limit: u64,
    ) -> Result<Vec<SessionRecord>> {
        let mut query = sessions::Entity::find()
            .filter(sessions::Column::UserId.eq(user_id))
            .filter(sessions::Column::Expires.gt(now))
            .filter(sessions::Column::IdleExpires.gt(now));
        if let Some(after) = after {
            query = query.filter(sessions::Column::Id.lt(after));
        }
        Ok(query.order_by_desc(sessions::Column::Id).limit(limit).all(&self.db).await?)
    }

    /// Deletes sessions past either expiry; returns how many.
    pub async fn delete_expired_sessions(&self, now: DateTime<Utc>) -> Result<u64> {
        let expired = sea_orm::Condition::any()
            .add(sessions::Column::Expires.lte(now))
            .add(sessions::Column::IdleExpires.lte(now));
        self.delete_in_batches::<sessions::Entity>(sessions::Column::Id, expired).await
    }
}
