//! What operators do to users through AdminService: find them, change them, disable, delete,
//! end their sessions, and read the audit log.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, Condition, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, ExprTrait, LikeExpr},
};

use super::{
    AuditEvent, NewOutboxMessage, NewUser, NewVerificationToken, Store, UserRecord, WebhookEvent,
    entities::{audit_events, sessions, users, verification_tokens},
    is_unique_violation,
    session_events::{NewSessionEvent, record_in},
};
use crate::{
    domain::{SessionEventKind, WebhookEventType},
    error::{Error, Result},
};

/// ListUsers' filters. Every one is optional.
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    /// Normalized email starts with this.
    pub email_prefix: Option<String>,
    pub created_after: Option<DateTime<Utc>>,
    pub created_before: Option<DateTime<Utc>>,
    /// Some(true): only disabled users; Some(false): only enabled ones.
    pub disabled: Option<bool>,
}

/// ListAuditEvents' filters.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub user_id: Option<String>,
    pub kind: Option<String>,
    pub after: Option<DateTime<Utc>>,
    pub before: Option<DateTime<Utc>>,
}

/// A stored audit event.
pub type AuditRecord = audit_events::Model;

/// UpdateUser's changes: `None` leaves a field as it is (the update mask did not name it).
#[derive(Debug, Clone, Default)]
pub struct UserChanges {
    pub name: Option<Option<String>>,
    pub email: Option<String>,
    pub email_verified: Option<Option<DateTime<Utc>>>,
    /// Space-separated.
    pub roles: Option<String>,
}

/// `LIKE` pattern for "starts with `prefix`", with `\` escaping the wildcards in it.
fn starts_with_pattern(prefix: &str) -> String {
    let mut pattern = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

impl Store {
    /// Creates a user without any sign-in method (an operator's CreateUser). A taken email is
    /// `EmailTaken`.
    pub async fn create_user(&self, user: NewUser) -> Result<UserRecord> {
        let txn = self.begin_write().await?;
        let user = self.insert_user_in(&txn, user.into_active_model()).await?;
        txn.commit().await?;
        self.webhooks_committed();
        Ok(user)
    }

    /// Creates `user` with an invitation: its set-password token and the mail that carries it,
    /// in one transaction (no user without its mail, no mail for a user that was not created).
    pub async fn create_user_with_invitation(
        &self,
        user: NewUser,
        token: NewVerificationToken,
        mails: Vec<NewOutboxMessage>,
    ) -> Result<UserRecord> {
        let txn = self.begin_write().await?;
        let user = self.insert_user_in(&txn, user.into_active_model()).await?;
        self.issue_verification_token_in(&txn, token, mails).await?;
        txn.commit().await?;
        self.webhooks_committed();
        Ok(user)
    }

    /// One page of users matching `filter`, by id, strictly after `after`.
    pub async fn list_users(&self, filter: &UserFilter, after: Option<&str>, limit: u64) -> Result<Vec<UserRecord>> {
        let mut condition = Condition::all();
        if let Some(prefix) = &filter.email_prefix {
            condition = condition
                .add(Expr::col(users::Column::Email).like(LikeExpr::new(starts_with_pattern(prefix)).escape('\\')));
        }
        if let Some(after) = filter.created_after {
            condition = condition.add(users::Column::CreatedAt.gte(after));
        }
        if let Some(before) = filter.created_before {
            condition = condition.add(users::Column::CreatedAt.lt(before));
        }
        match filter.disabled {
            Some(true) => condition = condition.add(users::Column::DisabledAt.is_not_null()),
            Some(false) => condition = condition.add(users::Column::DisabledAt.is_null()),
            None => {}
        }
        if let Some(after) = after {
            condition = condition.add(users::Column::Id.gt(after));
        }
        Ok(users::Entity::find().filter(condition).order_by_asc(users::Column::Id).limit(limit).all(&self.db).await?)
    }

    /// Applies `changes` to user `user_id`; None when there is no such user. A taken email is
    /// `EmailTaken`. A changed email un-verifies it unless the changes set the verification too,
    /// ends every session of the user and queues `email_moved` (the notice to the old address),
    /// all in the one transaction.
    pub async fn update_user(
        &self,
        user_id: &str,
        changes: UserChanges,
        email_moved: Option<NewOutboxMessage>,
        now: DateTime<Utc>,
    ) -> Result<Option<UserRecord>> {
        let txn = self.begin_write().await?;
        let Some(current) = users::Entity::find_by_id(user_id.to_owned()).one(&txn).await? else { return Ok(None) };
        let mut update: users::ActiveModel = current.clone().into();
        let mut moved = false;
        if let Some(name) = changes.name {
            update.name = Set(name);
        }
        if let Some(email) = changes.email {
            if email != current.email {
                update.email_verified = Set(None);
                moved = true;
            }
            update.email = Set(email);
        }
        if let Some(verified) = changes.email_verified {
            update.email_verified = Set(verified);
        }
        if let Some(roles) = changes.roles {
            update.roles = Set(roles);
        }
        update.updated_at = Set(now);
        let user = match update.update(&txn).await {
            Ok(user) => user,
            Err(err) if is_unique_violation(&err) => return Err(Error::EmailTaken),
            Err(err) => return Err(err.into()),
        };
        self.emit_in(&txn, WebhookEvent::user(WebhookEventType::UserUpdated, &user), now).await?;
        if moved {
            // A moved address is a takeover if the operator's key was not the owner's wish:
            // every session ends and the old address hears of it, with the change.
            self.end_all_sessions_in(&txn, user_id, now).await?;
            if let Some(notice) = email_moved {
                self.enqueue_in(&txn, notice, now).await?;
            }
        }
        self.commit_session_events(txn).await?;
        Ok(Some(user))
    }

    /// Disables (`Some(now)`) or enables (`None`) user `user_id`; disabling ends every session
    /// of theirs in the same transaction. Returns the user and how many sessions ended; None when
    /// there is no such user.
    pub async fn set_user_disabled(
        &self,
        user_id: &str,
        disabled_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<Option<(UserRecord, u64)>> {
        let txn = self.begin_write().await?;
        let updated = users::Entity::update_many()
            .col_expr(users::Column::DisabledAt, Expr::value(disabled_at))
            .col_expr(users::Column::UpdatedAt, Expr::value(now))
            .filter(users::Column::Id.eq(user_id))
            .exec(&txn)
            .await?;
        if updated.rows_affected == 0 {
            return Ok(None);
        }
        let Some(user) = users::Entity::find_by_id(user_id.to_owned()).one(&txn).await? else { return Ok(None) };
        let ended = if disabled_at.is_some() {
            self.emit_in(&txn, WebhookEvent::user_id(WebhookEventType::UserDisabled, user_id), now).await?;
            // One user-level session event (not one per session); a webhook per ended session.
            let ended = sessions::Entity::delete_many()
                .filter(sessions::Column::UserId.eq(user_id))
                .exec_with_returning(&txn)
                .await?;
            let hooks = ended.iter().map(|session| WebhookEvent::session_revoked(user_id, &session.id)).collect();
            self.emit_all_in(&txn, hooks, now).await?;
            record_in(&txn, &[NewSessionEvent::user(SessionEventKind::UserDisabled, user_id)], now).await?;
            ended.len() as u64
        } else {
            self.emit_in(&txn, WebhookEvent::user(WebhookEventType::UserUpdated, &user), now).await?;
            0
        };
        self.commit_session_events(txn).await?;
        Ok(Some((user, ended)))
    }

    /// Ends every session of `user_id`; returns how many.
    pub async fn delete_user_sessions(&self, user_id: &str, now: DateTime<Utc>) -> Result<u64> {
        let txn = self.begin_write().await?;
        let ended = self.end_all_sessions_in(&txn, user_id, now).await?;
        self.commit_session_events(txn).await?;
        Ok(ended)
    }

    /// Ends every session of `user_id` through `txn`, each with its `session.revoked` event.
    pub(super) async fn end_all_sessions_in(
        &self,
        txn: &DatabaseTransaction,
        user_id: &str,
        now: DateTime<Utc>,
    ) -> Result<u64> {
        self.end_sessions_in(txn, Condition::all().add(sessions::Column::UserId.eq(user_id)), now).await
    }

    /// Deletes user `user_id` and, by the foreign keys, their sessions, passkeys, linked
    /// accounts and ceremonies; their pending verification tokens go too. `event` is recorded
    /// in the same transaction, before the delete, so it names the user (`subject_id` keeps the
    /// id after `user_id` is cleared by the SET NULL foreign key). False when there was no such
    /// user (nothing is recorded then).
    pub async fn delete_user(&self, user_id: &str, event: AuditEvent) -> Result<bool> {
        let txn = self.begin_write().await?;
        let Some(user) = users::Entity::find_by_id(user_id.to_owned()).one(&txn).await? else { return Ok(false) };
        let at = event.at;
        Self::insert_audit_event_in(&txn, event).await?;
        verification_tokens::Entity::delete_many()
            .filter(verification_tokens::Column::Identifier.eq(user.email))
            .exec(&txn)
            .await?;
        users::Entity::delete_by_id(user_id.to_owned()).exec(&txn).await?;
        self.emit_in(&txn, WebhookEvent::user_id(WebhookEventType::UserDeleted, user_id), at).await?;
        record_in(&txn, &[NewSessionEvent::user(SessionEventKind::UserDeleted, user_id)], at).await?;
        self.commit_session_events(txn).await?;
        Ok(true)
    }

    /// One page of audit events matching `filter`, newest first, strictly before the id `after`.
    pub async fn list_audit_events(
        &self,
        filter: &AuditFilter,
        after: Option<&str>,
        limit: u64,
    ) -> Result<Vec<AuditRecord>> {
        let mut query = audit_events::Entity::find();
        if let Some(user_id) = &filter.user_id {
            query = query.filter(audit_events::Column::SubjectId.eq(user_id.as_str()));
        }
        if let Some(kind) = &filter.kind {
            query = query.filter(audit_events::Column::Kind.eq(kind.as_str()));
        }
        if let Some(from) = filter.after {
            query = query.filter(audit_events::Column::CreatedAt.gte(from));
        }
        if let Some(until) = filter.before {
            query = query.filter(audit_events::Column::CreatedAt.lt(until));
        }
        if let Some(after) = after {
            query = query.filter(audit_events::Column::Id.lt(after));
        }
        Ok(query.order_by_desc(audit_events::Column::Id).limit(limit).all(&self.db).await?)
    }
}
