//! Creates `verification_tokens`: single-use tokens (hashed) for email verification and resets.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Auth.js `VerificationToken`: single-use tokens for email verification, magic links and
/// password reset. `token` holds the SHA-256 of the token, never the token.
#[derive(DeriveIden)]
enum VerificationTokens {
    Table,
    Identifier,
    Token,
    Expires,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(VerificationTokens::Table)
                    .col(string(VerificationTokens::Identifier))
                    .col(string(VerificationTokens::Token))
                    .col(timestamp_with_time_zone(VerificationTokens::Expires))
                    .primary_key(Index::create().col(VerificationTokens::Identifier).col(VerificationTokens::Token))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(VerificationTokens::Table).to_owned()).await
    }
}
