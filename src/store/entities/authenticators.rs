//! sea-orm entity of `authenticators`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "authenticators")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    #[sea_orm(unique)]
    pub credential_id: String,
    pub user_id: String,
    pub provider_account_id: Option<String>,
    pub credential_public_key: String,
    pub counter: i64,
    pub credential_device_type: String,
    pub credential_backed_up: bool,
    pub backup_eligible: bool,
    pub transports: Option<String>,
    pub aaguid: Option<String>,
    pub passkey: String,
    pub name: String,
    pub created_at: DateTimeUtc,
    pub last_used_at: Option<DateTimeUtc>,
    /// `authjs` for a passkey imported from Auth.js (its user handle is unknown); None for Keyward's own.
    pub imported_from: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
