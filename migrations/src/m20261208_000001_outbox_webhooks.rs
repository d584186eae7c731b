//! Webhooks in the `outbox`: three plain columns a webhook row carries and mail rows leave NULL.
//! `endpoint` (the configured URL it goes to) and `event_type` let AdminService list deliveries
//! without opening the sealed payload; `subject_id` (the user the event is about) orders them:
//! the claim takes a webhook row only when no earlier live row of the same endpoint and subject
//! is waiting, so one user's events reach one endpoint in the order they happened.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Outbox {
    Table,
    Endpoint,
    EventType,
    SubjectId,
    CreatedAt,
}

const ORDER_INDEX: &str = "ix_outbox_endpoint_subject_created_at";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        for column in [string_null(Outbox::Endpoint), string_null(Outbox::EventType), string_null(Outbox::SubjectId)] {
            let mut column = column;
            manager.alter_table(Table::alter().table(Outbox::Table).add_column(&mut column).to_owned()).await?;
        }
        // The claim's "is an earlier row of this endpoint and subject still waiting?".
        manager
            .create_index(
                Index::create()
                    .name(ORDER_INDEX)
                    .table(Outbox::Table)
                    .col(Outbox::Endpoint)
                    .col(Outbox::SubjectId)
                    .col(Outbox::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name(ORDER_INDEX).table(Outbox::Table).to_owned()).await?;
        for column in [Outbox::SubjectId, Outbox::EventType, Outbox::Endpoint] {
            manager.alter_table(Table::alter().table(Outbox::Table).drop_column(column).to_owned()).await?;
        }
        Ok(())
    }
}
