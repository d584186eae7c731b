//! Creates `ceremonies`: single-use state between the two steps of a passkey ceremony or OAuth.

use sea_orm_migration::{prelude::*, schema::*};

use crate::user_fk;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// State between the two steps of a passkey ceremony or an OAuth round-trip, keyed by a random
/// id the client holds, consumed atomically (DELETE … RETURNING) so it is single-use.
#[derive(DeriveIden)]
enum Ceremonies {
    Table,
    Id,
    Kind,
    /// The signed-in user who started it, when there was one.
    UserId,
    State,
    ExpiresAt,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Ceremonies::Table)
                    .col(string(Ceremonies::Id).primary_key())
                    .col(string(Ceremonies::Kind))
                    .col(string_null(Ceremonies::UserId))
                    .col(text(Ceremonies::State))
                    .col(timestamp_with_time_zone(Ceremonies::ExpiresAt))
                    .col(timestamp_with_time_zone(Ceremonies::CreatedAt))
                    .foreign_key(&mut user_fk(Ceremonies::Table, ForeignKeyAction::Cascade))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_ceremonies_expires_at")
                    .table(Ceremonies::Table)
                    .col(Ceremonies::ExpiresAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Ceremonies::Table).to_owned()).await
    }
}
