//! What operators do to users through AdminService: find them, change them, disable, delete,
//! end their sessions, and read the audit log.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, ExprTrait, LikeExpr},
};

use super::{
    AuditEvent, NewUser, Store, UserRecord,
    entities::{audit_events, sessions, users, verification_tokens},
    is_unique_violation,
};
use crate::error::{Error, Result};

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
        match user.into_active_model().insert(self.writer()).await {
            Ok(user) => Ok(user),
            Err(err) if is_unique_violation(&err) => Err(Error::EmailTaken),
            Err(err) => Err(err.into()),
        }
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
    /// `EmailTaken`. A changed email un-verifies it unless the changes set the verification too.
    pub async fn update_user(
        &self,
        user_id: &str,
        changes: UserChanges,
        now: DateTime<Utc>,
    ) -> Result<Option<UserRecord>> {
        let Some(current) = self.find_user(user_id).await? else { return Ok(None) };
        let mut update: users::ActiveModel = current.clone().into();
        if let Some(name) = changes.name {
            update.name = Set(name);
        }
        if let Some(email) = changes.email {
            if email != current.email {
                update.email_verified = Set(None);
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
        match update.update(self.writer()).await {
            Ok(user) => Ok(Some(user)),
            Err(err) if is_unique_violation(&err) => Err(Error::EmailTaken),
            Err(err) => Err(err.into()),
        }
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
        let ended = if disabled_at.is_some() {
            sessions::Entity::delete_many().filter(sessions::Column::UserId.eq(user_id)).exec(&txn).await?.rows_affected
        } else {
            0
        };
        let user = users::Entity::find_by_id(user_id.to_owned()).one(&txn).await?;
        txn.commit().await?;
        Ok(user.map(|user| (user, ended)))
    }

    /// Ends every session of `user_id`; returns how many.
    pub async fn delete_user_sessions(&self, user_id: &str) -> Result<u64> {
        Ok(sessions::Entity::delete_many()
            .filter(sessions::Column::UserId.eq(user_id))
            .exec(self.writer())
            .await?
            .rows_affected)
    }

    /// Deletes user `user_id` and, by the foreign keys, their sessions, passkeys, linked
    /// accounts and ceremonies; their pending verification tokens go too. `event` is recorded
    /// in the same transaction, before the delete, so it names the user (`subject_id` keeps the
    /// id after `user_id` is cleared by the SET NULL foreign key). False when there was no such
    /// user (nothing is recorded then).
    pub async fn delete_user(&self, user_id: &str, event: AuditEvent) -> Result<bool> {
        let txn = self.begin_write().await?;
        let Some(user) = users::Entity::find_by_id(user_id.to_owned()).one(&txn).await? else { return Ok(false) };
        Self::insert_audit_event_in(&txn, event).await?;
        verification_tokens::Entity::delete_many()
            .filter(verification_tokens::Column::Identifier.eq(user.email))
            .exec(&txn)
            .await?;
        users::Entity::delete_by_id(user_id.to_owned()).exec(&txn).await?;
        txn.commit().await?;
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
