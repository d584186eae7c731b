//! `verification_tokens`: Auth.js's table, plus the purpose, user and issue time of Keyward's
//! mailed links.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "verification_tokens")]
pub struct Model {
    /// The address the link was mailed to.
    #[sea_orm(primary_key, auto_increment = false)]
    pub identifier: String,
    /// Hex SHA-256 of the token.
    #[sea_orm(primary_key, auto_increment = false)]
    pub token: String,
    pub expires: DateTimeUtc,
    /// "password_reset", "email_verification", "magic_link"; NULL for Auth.js's own rows.
    pub purpose: Option<String>,
    pub user_id: Option<String>,
    pub created_at: Option<DateTimeUtc>,
    /// Email change: the account's address when the link was sent.
    pub subject_email: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
