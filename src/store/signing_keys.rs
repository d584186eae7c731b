//! `signing_keys`: the JWT signing keys. A key is published from creation, signs from
//! `activates_at` until its successor activates (`retired_at`), and stays published until every
//! token it signed has expired. The private key is sealed under the master key.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
    sea_query::{Expr, ExprTrait},
};

use super::{Store, entities::signing_keys, secrets::SIGNING_KEY_PRIVATE};
use crate::error::Result;

/// A JWT signing key as stored, its private key in clear (the row holds it sealed under the
/// master key). `Debug` leaves the private key out.
#[derive(Clone)]
pub struct StoredSigningKey {
    pub kid: String,
    pub algorithm: String,
    /// PKCS#8 DER, base64 (standard alphabet).
    pub private_key: String,
    /// Raw public key, base64url.
    pub public_key: String,
    pub created_at: DateTime<Utc>,
    /// When it stops signing (its successor's activation); None while it has no successor.
    pub retired_at: Option<DateTime<Utc>>,
    /// When it starts signing.
    pub activates_at: DateTime<Utc>,
}

impl std::fmt::Debug for StoredSigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredSigningKey")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .field("created_at", &self.created_at)
            .field("retired_at", &self.retired_at)
            .field("activates_at", &self.activates_at)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// A row as read, its private key opened.
    fn opened_signing_key(&self, m: signing_keys::Model) -> Result<StoredSigningKey> {
        Ok(StoredSigningKey {
            private_key: self.open(&m.private_key, SIGNING_KEY_PRIVATE, &m.id)?,
            kid: m.id,
            algorithm: m.algorithm,
            public_key: m.public_key,
            created_at: m.created_at,
            retired_at: m.retired_at,
            activates_at: m.activates_at,
        })
    }
}

impl Store {
    /// Keys not retired, or retired after `retired_after` (pending ones included), newest first.
    pub async fn live_signing_keys(&self, retired_after: DateTime<Utc>) -> Result<Vec<StoredSigningKey>> {
        let rows = signing_keys::Entity::find()
            .filter(signing_keys::Column::RetiredAt.is_null().or(signing_keys::Column::RetiredAt.gt(retired_after)))
            .order_by_desc(signing_keys::Column::CreatedAt)
            .order_by_desc(signing_keys::Column::Id)
            .all(&self.db)
            .await?;
        rows.into_iter().map(|row| self.opened_signing_key(row)).collect()
    }

    /// Adds `key` as the successor of every key not yet retired: they retire (stop signing) when
    /// it activates. Atomic.
    pub async fn rotate_signing_key(&self, key: StoredSigningKey) -> Result<()> {
        let txn = self.begin_write().await?;
        signing_keys::Entity::update_many()
            .col_expr(signing_keys::Column::RetiredAt, Expr::value(Some(key.activates_at)))
            .filter(signing_keys::Column::RetiredAt.is_null())
            .exec(&txn)
            .await?;
        let private_key = self.seal(&key.private_key, SIGNING_KEY_PRIVATE, &key.kid)?;
        signing_keys::ActiveModel {
            id: Set(key.kid),
            algorithm: Set(key.algorithm),
            private_key: Set(private_key),
            public_key: Set(key.public_key),
            created_at: Set(key.created_at),
            retired_at: Set(None),
            activates_at: Set(key.activates_at),
        }
        .insert(&txn)
        .await?;
        txn.commit().await?;
        Ok(())
    }
}
