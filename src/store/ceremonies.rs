use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, sea_query::SimpleExpr};

use super::{Store, entities::ceremonies};
use crate::error::Result;

/// State between the two steps of a passkey ceremony or an OAuth round-trip.
pub type CeremonyRecord = ceremonies::Model;

/// A ceremony about to be stored. `id` is the random handle the client holds.
#[derive(Debug, Clone)]
pub struct NewCeremony {
    pub id: String,
    /// What kind of ceremony this is ("passkey.register", "oauth", …): a finish step only takes
    /// a ceremony of its own kind.
    pub kind: &'static str,
    /// The signed-in user who started it, when there was one.
    pub user_id: Option<String>,
    /// Serialized state (JSON).
    pub state: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// The client address (throttle key) that started it.
    pub client_key: Option<String>,
}

impl Store {
    /// Stores a pending ceremony.
    pub async fn insert_ceremony(&self, ceremony: NewCeremony) -> Result<()> {
        ceremonies::ActiveModel {
            id: Set(ceremony.id),
            kind: Set(ceremony.kind.to_owned()),
            user_id: Set(ceremony.user_id),
            state: Set(ceremony.state),
            expires_at: Set(ceremony.expires_at),
            created_at: Set(ceremony.created_at),
            client_key: Set(ceremony.client_key),
        }
        .insert(&self.db)
        .await?;
        Ok(())
    }

    /// Atomically removes and returns the ceremony `id` of `kind` (`DELETE … RETURNING`): of two
    /// concurrent finishes, on any replicas, exactly one gets it. Expired rows are returned too,
    /// so the caller can say "expired" rather than "unknown"; they are gone either way.
    pub async fn take_ceremony(&self, id: &str, kind: &str) -> Result<Option<CeremonyRecord>> {
        self.take(id, kind, None).await
    }

    /// `DELETE … RETURNING` of ceremony `id` of `kind`, narrowed by `owner` when given.
    async fn take(&self, id: &str, kind: &str, owner: Option<SimpleExpr>) -> Result<Option<CeremonyRecord>> {
        let mut query = ceremonies::Entity::delete_many()
            .filter(ceremonies::Column::Id.eq(id))
            .filter(ceremonies::Column::Kind.eq(kind));
        if let Some(owner) = owner {
            query = query.filter(owner);
        }
        Ok(query.exec_with_returning(&self.db).await?.pop())
    }

    /// Like `take_ceremony`, but only a ceremony started by `user_id` (or, for `None`, one started
    /// without a user) is taken: someone else's ceremony id takes nothing and stays usable by its
    /// owner. `Err(CeremonyNotYours)` tells that case apart from an unknown id.
    pub async fn take_ceremony_of(
        &self,
        id: &str,
        kind: &str,
        user_id: Option<&str>,
    ) -> Result<Option<CeremonyRecord>> {
        let owner = match user_id {
            Some(user_id) => ceremonies::Column::UserId.eq(user_id),
            None => ceremonies::Column::UserId.is_null(),
        };
        if let Some(ceremony) = self.take(id, kind, Some(owner)).await? {
            return Ok(Some(ceremony));
        }
        let exists = ceremonies::Entity::find_by_id(id.to_owned())
            .filter(ceremonies::Column::Kind.eq(kind))
            .one(&self.db)
            .await?
            .is_some();
        if exists { Err(crate::error::Error::CeremonyNotYours) } else { Ok(None) }
    }

    /// Deletes ceremonies that expired before `now`; returns how many.
    pub async fn delete_expired_ceremonies(&self, now: DateTime<Utc>) -> Result<u64> {
        let result =
            ceremonies::Entity::delete_many().filter(ceremonies::Column::ExpiresAt.lt(now)).exec(&self.db).await?;
        Ok(result.rows_affected)
    }
}
