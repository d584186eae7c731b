//! `RowCounts`: rows per table, so tests can prove a refused request wrote nothing.

use sea_orm::{EntityTrait, PaginatorTrait};

use super::{Store, entities};
use crate::error::Result;

/// How many rows each table holds: lets tests prove a refused request wrote nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowCounts {
    pub users: u64,
    pub sessions: u64,
    pub accounts: u64,
    pub verification_tokens: u64,
    pub authenticators: u64,
    pub ceremonies: u64,
    pub signing_keys: u64,
    pub audit_events: u64,
    pub secrets: u64,
    pub api_keys: u64,
    pub outbox: u64,
}

impl Store {
    /// Row counts of every table.
    pub async fn row_counts(&self) -> Result<RowCounts> {
        Ok(RowCounts {
            users: entities::users::Entity::find().count(&self.db).await?,
            sessions: entities::sessions::Entity::find().count(&self.db).await?,
            accounts: entities::accounts::Entity::find().count(&self.db).await?,
            verification_tokens: entities::verification_tokens::Entity::find().count(&self.db).await?,
            authenticators: entities::authenticators::Entity::find().count(&self.db).await?,
            ceremonies: entities::ceremonies::Entity::find().count(&self.db).await?,
            signing_keys: entities::signing_keys::Entity::find().count(&self.db).await?,
            audit_events: entities::audit_events::Entity::find().count(&self.db).await?,
            secrets: entities::secrets::Entity::find().count(&self.db).await?,
            api_keys: entities::api_keys::Entity::find().count(&self.db).await?,
            outbox: entities::outbox::Entity::find().count(&self.db).await?,
        })
    }
}
