//! `signing_keys.activates_at`: when a key starts signing. `keyward keys rotate` publishes a new
//! key at once and lets it sign only later, once every replica (and every verifier's cached
//! JWKS) has it. Existing keys got theirs at creation.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SigningKeys {
    Table,
    CreatedAt,
    /// Nullable in the schema only because SQLite cannot add a NOT NULL column without a
    /// constant default; every row has a value.
    ActivatesAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(SigningKeys::Table)
                    .add_column(timestamp_with_time_zone_null(SigningKeys::ActivatesAt))
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::update()
                    .table(SigningKeys::Table)
                    .value(SigningKeys::ActivatesAt, Expr::col(SigningKeys::CreatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(Table::alter().table(SigningKeys::Table).drop_column(SigningKeys::ActivatesAt).to_owned())
            .await
    }
}
