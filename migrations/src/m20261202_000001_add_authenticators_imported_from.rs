//! Marks passkeys that `keyward import authjs` brought over (`authenticators.imported_from`).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Where a passkey was registered when it was not through Keyward: `authjs` for passkeys that
/// `keyward import authjs` brought over. Auth.js registers every passkey with a random user handle
/// it never stores, so sign-in identifies the owner of such a passkey by its credential id alone.
#[derive(DeriveIden)]
enum Authenticators {
    Table,
    ImportedFrom,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Authenticators::Table)
                    .add_column(string_null(Authenticators::ImportedFrom))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter().table(Authenticators::Table).drop_column(Authenticators::ImportedFrom).to_owned(),
            )
            .await
    }
}
