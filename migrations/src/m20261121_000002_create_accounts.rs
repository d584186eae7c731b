//! Creates `accounts`: a user's identities at OAuth/OIDC providers and the providers' tokens.

use sea_orm_migration::{prelude::*, schema::*};

use crate::user_fk;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Auth.js `Account`: a user's identity at an OAuth/OIDC provider and the provider's tokens.
#[derive(DeriveIden)]
enum Accounts {
    Table,
    Id,
    UserId,
    Type,
    Provider,
    ProviderAccountId,
    RefreshToken,
    AccessToken,
    ExpiresAt,
    TokenType,
    Scope,
    IdToken,
    SessionState,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Accounts::Table)
                    .col(string(Accounts::Id).primary_key())
                    .col(string(Accounts::UserId))
                    .col(string(Accounts::Type))
                    .col(string(Accounts::Provider))
                    .col(string(Accounts::ProviderAccountId))
                    .col(text_null(Accounts::RefreshToken))
                    .col(text_null(Accounts::AccessToken))
                    .col(big_integer_null(Accounts::ExpiresAt))
                    .col(string_null(Accounts::TokenType))
                    .col(text_null(Accounts::Scope))
                    .col(text_null(Accounts::IdToken))
                    .col(string_null(Accounts::SessionState))
                    .col(timestamp_with_time_zone(Accounts::CreatedAt))
                    .foreign_key(&mut user_fk(Accounts::Table, ForeignKeyAction::Cascade))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_accounts_provider_account")
                    .table(Accounts::Table)
                    .col(Accounts::Provider)
                    .col(Accounts::ProviderAccountId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name("ix_accounts_user_id").table(Accounts::Table).col(Accounts::UserId).to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Accounts::Table).to_owned()).await
    }
}
