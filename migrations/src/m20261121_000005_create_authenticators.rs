//! Creates `authenticators`: passkeys (Auth.js columns plus the webauthn-rs credential).

use sea_orm_migration::{prelude::*, schema::*};

use crate::user_fk;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Auth.js `Authenticator` (a passkey), plus what Keyward keeps: the serialized webauthn-rs
/// `Passkey`, a user-visible name, backup eligibility, AAGUID and last use.
#[derive(DeriveIden)]
enum Authenticators {
    Table,
    Id,
    /// base64url credential id; unique across all users (webauthn-rs does not check this).
    CredentialId,
    UserId,
    ProviderAccountId,
    CredentialPublicKey,
    Counter,
    /// `singleDevice` or `multiDevice`.
    CredentialDeviceType,
    CredentialBackedUp,
    BackupEligible,
    /// Comma-separated AuthenticatorTransport values.
    Transports,
    Aaguid,
    /// webauthn-rs `Passkey` as JSON.
    Passkey,
    Name,
    CreatedAt,
    LastUsedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Authenticators::Table)
                    .col(string(Authenticators::Id).primary_key())
                    .col(string_uniq(Authenticators::CredentialId))
                    .col(string(Authenticators::UserId))
                    .col(string_null(Authenticators::ProviderAccountId))
                    .col(text(Authenticators::CredentialPublicKey))
                    .col(big_integer(Authenticators::Counter))
                    .col(string(Authenticators::CredentialDeviceType))
                    .col(boolean(Authenticators::CredentialBackedUp))
                    .col(boolean(Authenticators::BackupEligible))
                    .col(string_null(Authenticators::Transports))
                    .col(string_null(Authenticators::Aaguid))
                    .col(text(Authenticators::Passkey))
                    .col(string(Authenticators::Name))
                    .col(timestamp_with_time_zone(Authenticators::CreatedAt))
                    .col(timestamp_with_time_zone_null(Authenticators::LastUsedAt))
                    .foreign_key(&mut user_fk(Authenticators::Table, ForeignKeyAction::Cascade))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_authenticators_user_id")
                    .table(Authenticators::Table)
                    .col(Authenticators::UserId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Authenticators::Table).to_owned()).await
    }
}
