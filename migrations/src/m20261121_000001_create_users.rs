//! Creates `users` (Auth.js `User`, plus Keyward's password hash and timestamps).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Name,
    Email,
    EmailVerified,
    Image,
    PasswordHash,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(string(Users::Id).primary_key())
                    .col(string_null(Users::Name))
                    // Stored normalized (trimmed, lower-case): uniqueness is case-insensitive.
                    .col(string_uniq(Users::Email))
                    .col(timestamp_with_time_zone_null(Users::EmailVerified))
                    .col(text_null(Users::Image))
                    // argon2id PHC string; NULL for users who sign in only with passkeys or OAuth.
                    .col(text_null(Users::PasswordHash))
                    .col(timestamp_with_time_zone(Users::CreatedAt))
                    .col(timestamp_with_time_zone(Users::UpdatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Users::Table).to_owned()).await
    }
}
