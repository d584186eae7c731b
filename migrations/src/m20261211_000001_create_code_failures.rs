//! `code_failures`: wrong mailed one-time codes per address and purpose, across every mail and
//! every replica (NIST SP 800-63B-4 §3.2.2: at most 100 consecutive failures). A mail's own
//! row counts its five tries; this count outlives the mails, so asking for a new one does not
//! buy fresh guesses. `key` is the purpose and a SHA-256 of the address ("code:password_reset:
//! <hex>"); a row is changed only by conditional UPDATEs, and a success deletes it. Never swept
//! by age: codes stay refused until a link or another method succeeds.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum CodeFailures {
    Table,
    Key,
    Failures,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CodeFailures::Table)
                    .col(string(CodeFailures::Key).primary_key())
                    .col(integer(CodeFailures::Failures))
                    .col(timestamp_with_time_zone(CodeFailures::UpdatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(CodeFailures::Table).to_owned()).await
    }
}
