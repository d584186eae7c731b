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
    /// "password_reset", "email_verification", "magic_link", "email_change"; NULL for Auth.js's own rows.
    pub purpose: Option<String>,
    pub user_id: Option<String>,
    pub created_at: Option<DateTimeUtc>,
    /// Email change: the account's address when the link was sent.
    pub subject_email: Option<String>,
    /// Hex HMAC-SHA256 (server secret) of the purpose, address and the mail's one-time code.
    pub code_hash: Option<String>,
    /// Codes tried against this row so far.
    pub code_attempts: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
