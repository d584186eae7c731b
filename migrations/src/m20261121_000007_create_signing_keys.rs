//! Creates `signing_keys`: the JWT signing keys, current and retired.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// JWT signing keys. The newest key with no `retired_at` signs; retired keys keep verifying (and
/// stay in the JWKS) until every token they signed has expired.
#[derive(DeriveIden)]
enum SigningKeys {
    Table,
    /// The JWT `kid`.
    Id,
    Algorithm,
    /// PKCS#8 DER, base64.
    PrivateKey,
    /// Raw public key, base64url.
    PublicKey,
    CreatedAt,
    RetiredAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SigningKeys::Table)
                    .col(string(SigningKeys::Id).primary_key())
                    .col(string(SigningKeys::Algorithm))
                    .col(text(SigningKeys::PrivateKey))
                    .col(text(SigningKeys::PublicKey))
                    .col(timestamp_with_time_zone(SigningKeys::CreatedAt))
                    .col(timestamp_with_time_zone_null(SigningKeys::RetiredAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(SigningKeys::Table).to_owned()).await
    }
}
