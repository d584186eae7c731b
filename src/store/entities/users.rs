//! sea-orm entity of `users`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub name: Option<String>,
    #[sea_orm(unique)]
    pub email: String,
    pub email_verified: Option<DateTimeUtc>,
    pub image: Option<String>,
    pub password_hash: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// Set while an operator has the account disabled: no sign-in, no session works.
    pub disabled_at: Option<DateTimeUtc>,
    /// Space-separated role names an operator set (AdminService); empty for none.
    pub roles: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::sessions::Entity")]
    Sessions,
}

impl Related<super::sessions::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Sessions.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    /// The user's roles, in the order they were set.
    pub fn role_names(&self) -> Vec<String> {
        self.roles.split_whitespace().map(str::to_owned).collect()
    }
}
