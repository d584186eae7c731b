//! `outbox`: messages to deliver later (mail now, webhooks later), written in the same
//! transaction as the change that causes them and delivered by a sender task on any replica.
//! A row is claimed by moving `next_attempt_at` past a lease and counting the attempt, in one
//! UPDATE; delivered rows are deleted; a row that failed `max_attempts` times gets `dead_at`
//! and stays, with its last error, for the operator.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Outbox {
    Table,
    Id,
    /// What delivers it ("email").
    Kind,
    /// The message, sealed under the master key (it may carry a sign-in link).
    Payload,
    CreatedAt,
    Attempts,
    /// When the row is next due: after a backoff, or after the lease of a sender that claimed it.
    NextAttemptAt,
    LastError,
    DeadAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Outbox::Table)
                    .col(string(Outbox::Id).primary_key())
                    .col(string(Outbox::Kind))
                    .col(text(Outbox::Payload))
                    .col(timestamp_with_time_zone(Outbox::CreatedAt))
                    .col(integer(Outbox::Attempts))
                    .col(timestamp_with_time_zone(Outbox::NextAttemptAt))
                    .col(text_null(Outbox::LastError))
                    .col(timestamp_with_time_zone_null(Outbox::DeadAt))
                    .to_owned(),
            )
            .await?;
        // The claim reads due rows of one kind in order.
        manager
            .create_index(
                Index::create()
                    .name("ix_outbox_kind_next_attempt_at")
                    .table(Outbox::Table)
                    .col(Outbox::Kind)
                    .col(Outbox::NextAttemptAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Outbox::Table).to_owned()).await
    }
}
