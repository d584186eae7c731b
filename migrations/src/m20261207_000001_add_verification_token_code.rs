//! `verification_tokens` gains the one-time code a mailed link also carries (for native apps
//! that cannot open the link): its keyed hash (HMAC-SHA256 under a server secret, never the code
//! itself) and how many times a code was tried against the row. The code lives in the same row
//! as the link's token, so using either one uses both.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum VerificationTokens {
    Table,
    /// Hex HMAC-SHA256 of the purpose, the address and the code; NULL for rows without a code.
    CodeHash,
    /// Codes tried against this row so far; past the limit the row is gone.
    CodeAttempts,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        for column in
            [string_null(VerificationTokens::CodeHash), integer(VerificationTokens::CodeAttempts).default(0).to_owned()]
        {
            let mut column = column;
            manager
                .alter_table(Table::alter().table(VerificationTokens::Table).add_column(&mut column).to_owned())
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [VerificationTokens::CodeAttempts, VerificationTokens::CodeHash] {
            manager.alter_table(Table::alter().table(VerificationTokens::Table).drop_column(column).to_owned()).await?;
        }
        Ok(())
    }
}
