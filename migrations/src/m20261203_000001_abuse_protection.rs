//! Abuse protection: the `sign_in_failures` table and the client address of each ceremony.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Consecutive failed sign-ins per account and factor, shared by every replica (NIST SP
/// 800-63B-4 §3.2.2). `key` names the factor and the account ("password:<sha256 of the email>");
/// a row is updated only with a conditional UPDATE, so concurrent attempts on any replicas
/// cannot pass more than the limit. A success resets the count; the sweep deletes idle rows.
#[derive(DeriveIden)]
enum SignInFailures {
    Table,
    Key,
    Failures,
    NextAttemptAt,
    UpdatedAt,
}

/// Ceremonies remember which client address started them, so pending ceremonies can be capped
/// per address.
#[derive(DeriveIden)]
enum Ceremonies {
    Table,
    ClientKey,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SignInFailures::Table)
                    .col(string(SignInFailures::Key).primary_key())
                    .col(integer(SignInFailures::Failures))
                    .col(timestamp_with_time_zone(SignInFailures::NextAttemptAt))
                    .col(timestamp_with_time_zone(SignInFailures::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_sign_in_failures_updated_at")
                    .table(SignInFailures::Table)
                    .col(SignInFailures::UpdatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter().table(Ceremonies::Table).add_column(string_null(Ceremonies::ClientKey)).to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_ceremonies_client_key_expires_at")
                    .table(Ceremonies::Table)
                    .col(Ceremonies::ClientKey)
                    .col(Ceremonies::ExpiresAt)
                    .to_owned(),
            )
            .await?;
        // The retention sweep deletes by age.
        manager
            .create_index(
                Index::create()
                    .name("ix_audit_events_created_at")
                    .table(AuditEvents::Table)
                    .col(AuditEvents::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name("ix_audit_events_created_at").table(AuditEvents::Table).to_owned())
            .await?;
        manager
            .drop_index(Index::drop().name("ix_ceremonies_client_key_expires_at").table(Ceremonies::Table).to_owned())
            .await?;
        manager
            .alter_table(Table::alter().table(Ceremonies::Table).drop_column(Ceremonies::ClientKey).to_owned())
            .await?;
        manager.drop_table(Table::drop().table(SignInFailures::Table).to_owned()).await
    }
}
