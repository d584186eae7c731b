//! Keyward's schema, one migration step per file, named by date and purpose. Steps use string
//! identifiers (`DeriveIden` enums local to each file), never the application's entities, so old
//! steps keep compiling as the entities change. The same steps run on SQLite and PostgreSQL.

pub use sea_orm_migration::{MigrationStatus, prelude::*};

mod m20261121_000001_create_users;
mod m20261121_000002_create_accounts;
mod m20261121_000003_create_sessions;
mod m20261121_000004_create_verification_tokens;
mod m20261121_000005_create_authenticators;
mod m20261121_000006_create_ceremonies;
mod m20261121_000007_create_signing_keys;
mod m20261121_000008_create_audit_events;
mod m20261202_000001_add_authenticators_imported_from;
mod m20261203_000001_abuse_protection;
mod m20261204_000001_add_sessions_authenticated_at;
mod m20261204_000002_create_secrets;
mod m20261204_000003_add_signing_keys_activates_at;
mod m20261205_000001_operators;
mod m20261206_000001_create_outbox;
mod m20261206_000002_add_verification_token_purpose;
mod m20261207_000001_add_verification_token_code;
mod m20261208_000001_outbox_webhooks;
mod m20261210_000001_create_session_events;
mod m20261211_000001_create_code_failures;

/// Runs Keyward's migrations (`Migrator::up(&db, None)` and friends from `MigratorTrait`).
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261121_000001_create_users::Migration),
            Box::new(m20261121_000002_create_accounts::Migration),
            Box::new(m20261121_000003_create_sessions::Migration),
            Box::new(m20261121_000004_create_verification_tokens::Migration),
            Box::new(m20261121_000005_create_authenticators::Migration),
            Box::new(m20261121_000006_create_ceremonies::Migration),
            Box::new(m20261121_000007_create_signing_keys::Migration),
            Box::new(m20261121_000008_create_audit_events::Migration),
            Box::new(m20261202_000001_add_authenticators_imported_from::Migration),
            Box::new(m20261203_000001_abuse_protection::Migration),
            Box::new(m20261204_000001_add_sessions_authenticated_at::Migration),
            Box::new(m20261204_000002_create_secrets::Migration),
            Box::new(m20261204_000003_add_signing_keys_activates_at::Migration),
            Box::new(m20261205_000001_operators::Migration),
            Box::new(m20261206_000001_create_outbox::Migration),
            Box::new(m20261206_000002_add_verification_token_purpose::Migration),
            Box::new(m20261207_000001_add_verification_token_code::Migration),
            Box::new(m20261208_000001_outbox_webhooks::Migration),
            Box::new(m20261210_000001_create_session_events::Migration),
            Box::new(m20261211_000001_create_code_failures::Migration),
        ]
    }
}

/// A foreign key from `table.user_id` to `users.id` that deletes the row with its user.
fn user_fk(table: impl IntoIden, on_delete: ForeignKeyAction) -> ForeignKeyCreateStatement {
    #[derive(DeriveIden)]
    enum Users {
        Table,
        Id,
    }
    #[derive(DeriveIden)]
    enum Fk {
        UserId,
    }
    ForeignKey::create()
        .from(table, Fk::UserId)
        .to(Users::Table, Users::Id)
        .on_delete(on_delete)
        .on_update(ForeignKeyAction::Cascade)
        .to_owned()
}
