//! Creates `audit_events`: security-relevant events, kept after the user is deleted.

use sea_orm_migration::{prelude::*, schema::*};

use crate::user_fk;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Security-relevant events (sign-ins, failures, revocations, key rotation). Rows outlive the
/// user they concern: deleting a user clears `user_id` instead of deleting the history.
#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    Id,
    UserId,
    Kind,
    /// JSON with event-specific detail; never secrets.
    Detail,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AuditEvents::Table)
                    .col(string(AuditEvents::Id).primary_key())
                    .col(string_null(AuditEvents::UserId))
                    .col(string(AuditEvents::Kind))
                    .col(text(AuditEvents::Detail))
                    .col(timestamp_with_time_zone(AuditEvents::CreatedAt))
                    .foreign_key(&mut user_fk(AuditEvents::Table, ForeignKeyAction::SetNull))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_audit_events_user_id")
                    .table(AuditEvents::Table)
                    .col(AuditEvents::UserId)
                    .col(AuditEvents::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(AuditEvents::Table).to_owned()).await
    }
}
