//! The operator side (issue 15): `api_keys` (service credentials for AdminService, stored as the
//! SHA-256 of the key only), `users.disabled_at` and `users.roles`, and
//! `audit_events.subject_id` — the user an event concerns, without a foreign key, so the history
//! keeps the id after the user is deleted (`user_id` is cleared then: its FK is SET NULL).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    Id,
    Name,
    /// Hex SHA-256 of the key (`kw_…`); the key itself is printed once and never stored.
    KeyHash,
    /// Space-separated scope names (`users:read users:write`).
    Scopes,
    CreatedAt,
    ExpiresAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    DisabledAt,
    /// Space-separated role names; empty for none.
    Roles,
}

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    UserId,
    SubjectId,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ApiKeys::Table)
                    .col(string(ApiKeys::Id).primary_key())
                    .col(string(ApiKeys::Name))
                    .col(string_uniq(ApiKeys::KeyHash))
                    .col(string(ApiKeys::Scopes))
                    .col(timestamp_with_time_zone(ApiKeys::CreatedAt))
                    .col(timestamp_with_time_zone_null(ApiKeys::ExpiresAt))
                    .col(timestamp_with_time_zone_null(ApiKeys::RevokedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(timestamp_with_time_zone_null(Users::DisabledAt))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(Table::alter().table(Users::Table).add_column(string(Users::Roles).default("")).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter().table(AuditEvents::Table).add_column(string_null(AuditEvents::SubjectId)).to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::update()
                    .table(AuditEvents::Table)
                    .value(AuditEvents::SubjectId, Expr::col(AuditEvents::UserId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_audit_events_subject_id")
                    .table(AuditEvents::Table)
                    .col(AuditEvents::SubjectId)
                    .col(AuditEvents::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name("ix_audit_events_subject_id").table(AuditEvents::Table).to_owned())
            .await?;
        manager
            .alter_table(Table::alter().table(AuditEvents::Table).drop_column(AuditEvents::SubjectId).to_owned())
            .await?;
        manager.alter_table(Table::alter().table(Users::Table).drop_column(Users::Roles).to_owned()).await?;
        manager.alter_table(Table::alter().table(Users::Table).drop_column(Users::DisabledAt).to_owned()).await?;
        manager.drop_table(Table::drop().table(ApiKeys::Table).to_owned()).await
    }
}
