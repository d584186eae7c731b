//! Creates `sessions`: the token's SHA-256, the user, idle and absolute expiry.

use sea_orm_migration::{prelude::*, schema::*};

use crate::user_fk;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Auth.js `Session`, with the token stored as its SHA-256 and both idle and absolute expiry.
#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    /// Hex SHA-256 of the 256-bit session token; the token itself is never stored.
    SessionToken,
    UserId,
    /// Absolute expiry (Auth.js `expires`): never moves.
    Expires,
    /// Idle expiry: pushed forward when the session is used, at most once per touch interval.
    IdleExpires,
    CreatedAt,
    LastSeenAt,
    UserAgent,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    .col(string(Sessions::Id).primary_key())
                    .col(string_uniq(Sessions::SessionToken))
                    .col(string(Sessions::UserId))
                    .col(timestamp_with_time_zone(Sessions::Expires))
                    .col(timestamp_with_time_zone(Sessions::IdleExpires))
                    .col(timestamp_with_time_zone(Sessions::CreatedAt))
                    .col(timestamp_with_time_zone(Sessions::LastSeenAt))
                    .col(string_null(Sessions::UserAgent))
                    .foreign_key(&mut user_fk(Sessions::Table, ForeignKeyAction::Cascade))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name("ix_sessions_user_id").table(Sessions::Table).col(Sessions::UserId).to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Sessions::Table).to_owned()).await
    }
}
