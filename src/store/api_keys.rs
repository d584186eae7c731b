//! `api_keys`: service credentials for AdminService. Rows hold the SHA-256 of the key only.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, sea_query::Expr};

use super::{Store, entities::api_keys};
use crate::error::Result;

/// An API key row as the service layer sees it.
pub type ApiKeyRecord = api_keys::Model;

/// What `keyward admin keys create` stores.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub id: String,
    pub name: String,
    pub key_hash: String,
    /// Space-separated scope names.
    pub scopes: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
}

impl Store {
    /// Stores a new key.
    pub async fn insert_api_key(&self, key: NewApiKey) -> Result<ApiKeyRecord> {
        Ok(api_keys::ActiveModel {
            id: Set(key.id),
            name: Set(key.name),
            key_hash: Set(key.key_hash),
            scopes: Set(key.scopes),
            created_at: Set(key.created_at),
            expires_at: Set(key.expires_at),
            revoked_at: Set(None),
        }
        .insert(self.writer())
        .await?)
    }

    /// The key whose SHA-256 is `key_hash`, revoked or expired or not (the caller decides). The
    /// lookup is by an indexed equality on the hash, so no secret is compared in this process.
    pub async fn find_api_key_by_hash(&self, key_hash: &str) -> Result<Option<ApiKeyRecord>> {
        Ok(api_keys::Entity::find().filter(api_keys::Column::KeyHash.eq(key_hash)).one(&self.db).await?)
    }

    /// The key with id `id`.
    pub async fn find_api_key(&self, id: &str) -> Result<Option<ApiKeyRecord>> {
        Ok(api_keys::Entity::find_by_id(id.to_owned()).one(&self.db).await?)
    }

    /// Every key, oldest first (operators have few).
    pub async fn list_api_keys(&self) -> Result<Vec<ApiKeyRecord>> {
        Ok(api_keys::Entity::find().order_by_asc(api_keys::Column::Id).all(&self.db).await?)
    }

    /// Marks key `id` revoked at `now` (kept, so the audit log's key ids still name something).
    /// False when there is no such key or it was already revoked.
    pub async fn revoke_api_key(&self, id: &str, now: DateTime<Utc>) -> Result<bool> {
        let revoked = api_keys::Entity::update_many()
            .col_expr(api_keys::Column::RevokedAt, Expr::value(now))
            .filter(api_keys::Column::Id.eq(id))
            .filter(api_keys::Column::RevokedAt.is_null())
            .exec(self.writer())
            .await?;
        Ok(revoked.rows_affected > 0)
    }
}
