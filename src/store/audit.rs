//! `audit_events`: appending, retention, and reading a user's kinds back.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use super::{Store, entities::audit_events, new_id};
use crate::error::Result;

/// A security-relevant event. `detail` is JSON and must never carry secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub user_id: Option<String>,
    pub kind: &'static str,
    pub detail: serde_json::Value,
    pub at: DateTime<Utc>,
}

impl Store {
    /// Appends an audit event.
    pub async fn record_audit_event(&self, event: AuditEvent) -> Result<()> {
        Self::insert_audit_event_in(self.writer(), event).await
    }

    /// Appends an audit event on `db` (a connection or an open transaction). `subject_id` is
    /// the user id too: it stays when the user is deleted.
    pub(super) async fn insert_audit_event_in(db: &impl sea_orm::ConnectionTrait, event: AuditEvent) -> Result<()> {
        audit_events::ActiveModel {
            id: Set(new_id()),
            subject_id: Set(event.user_id.clone()),
            user_id: Set(event.user_id),
            kind: Set(event.kind.to_owned()),
            detail: Set(event.detail.to_string()),
            created_at: Set(event.at),
        }
        .insert(db)
        .await?;
        Ok(())
    }

    /// Deletes events recorded before `before` (retention), in batches; returns how many.
    pub async fn delete_audit_events_before(&self, before: DateTime<Utc>) -> Result<u64> {
        let old = sea_orm::Condition::all().add(audit_events::Column::CreatedAt.lt(before));
        self.delete_in_batches::<audit_events::Entity>(audit_events::Column::Id, old).await
    }

    /// The kinds of a user's audit events, oldest first (for tests and admin views), also after
    /// the user was deleted.
    pub async fn audit_event_kinds(&self, user_id: &str) -> Result<Vec<String>> {
        let rows = audit_events::Entity::find()
            .filter(audit_events::Column::SubjectId.eq(user_id))
            .order_by_asc(audit_events::Column::Id)
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(|row| row.kind).collect())
    }
}
