//! `verification_tokens` gains what Keyward's mailed links need beside Auth.js's columns: the
//! purpose a token is good for, the user it was issued to, when, and (email change) the
//! account's address at that time. `token` (SHA-256 of the
//! token) gets a unique index: a link is looked up and taken by it alone. Auth.js rows keep
//! working as they were (their purpose is NULL, so no Keyward flow takes them).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum VerificationTokens {
    Table,
    Identifier,
    Token,
    Purpose,
    UserId,
    CreatedAt,
    /// For an email change: the account's address when the link was sent (`identifier` is the
    /// new address), so a change confirmed after another one is refused.
    SubjectEmail,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        for column in [
            string_null(VerificationTokens::Purpose),
            string_null(VerificationTokens::UserId),
            timestamp_with_time_zone_null(VerificationTokens::CreatedAt),
            string_null(VerificationTokens::SubjectEmail),
        ] {
            let mut column = column;
            manager
                .alter_table(Table::alter().table(VerificationTokens::Table).add_column(&mut column).to_owned())
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("ux_verification_tokens_token")
                    .table(VerificationTokens::Table)
                    .col(VerificationTokens::Token)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // A new request replaces older tokens of the same address and purpose.
        manager
            .create_index(
                Index::create()
                    .name("ix_verification_tokens_identifier_purpose")
                    .table(VerificationTokens::Table)
                    .col(VerificationTokens::Identifier)
                    .col(VerificationTokens::Purpose)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for index in ["ix_verification_tokens_identifier_purpose", "ux_verification_tokens_token"] {
            manager.drop_index(Index::drop().name(index).table(VerificationTokens::Table).to_owned()).await?;
        }
        for column in [
            VerificationTokens::SubjectEmail,
            VerificationTokens::CreatedAt,
            VerificationTokens::UserId,
            VerificationTokens::Purpose,
        ] {
            manager.alter_table(Table::alter().table(VerificationTokens::Table).drop_column(column).to_owned()).await?;
        }
        Ok(())
    }
}
