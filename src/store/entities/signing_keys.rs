//! sea-orm entity of `signing_keys`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "signing_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub algorithm: String,
    pub private_key: String,
    pub public_key: String,
    pub created_at: DateTimeUtc,
    /// When it stops signing: when its successor activates. Published until every token it
    /// signed has expired.
    pub retired_at: Option<DateTimeUtc>,
    /// When it starts signing; published from creation.
    pub activates_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
