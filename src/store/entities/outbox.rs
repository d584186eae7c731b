//! `outbox`: messages waiting for delivery (see the migration for the claim protocol).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "outbox")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub kind: String,
    /// Sealed under the master key.
    pub payload: String,
    pub created_at: DateTimeUtc,
    pub attempts: i32,
    pub next_attempt_at: DateTimeUtc,
    pub last_error: Option<String>,
    pub dead_at: Option<DateTimeUtc>,
    /// Webhook rows: the endpoint URL, the event type and the user it is about (the order key).
    pub endpoint: Option<String>,
    pub event_type: Option<String>,
    pub subject_id: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
