//! `secrets`: server-side secrets that are not signing keys (the passkey-login decoy key),
//! each sealed under the master key like every secret at rest.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Secrets {
    Table,
    /// What the secret is for ("passkey_decoy"): one row per purpose.
    Id,
    /// The sealed value: `kw1:<master key id>:A256GCM:<…>`.
    Value,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Secrets::Table)
                    .col(string(Secrets::Id).primary_key())
                    .col(text(Secrets::Value))
                    .col(timestamp_with_time_zone(Secrets::CreatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Secrets::Table).to_owned()).await
    }
}
