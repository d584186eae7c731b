//! The `ceremonies` table: storing ceremony state within the caps, and taking it atomically.

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect,
    sea_query::{Expr, ExprTrait, Query, SelectStatement, SimpleExpr, SubQueryStatement},
};

use super::{Store, entities::ceremonies};
use crate::error::{Error, Result};

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
    /// Atomically removes and returns the ceremony `id` of `kind` (`DELETE … RETURNING`): of two
    /// concurrent finishes, on any replicas, exactly one gets it. Expired rows are returned too,
    /// so the caller can say "expired" rather than "unknown"; they are gone either way.
    pub async fn take_ceremony(&self, id: &str, kind: &str) -> Result<Option<CeremonyRecord>> {
        self.take(id, kind, None).await
    }

    /// `DELETE … RETURNING` of ceremony `id` of `kind`, narrowed by `owner` when given.
    async fn take(&self, id: &str, kind: &str, owner: Option<SimpleExpr>) -> Result<Option<CeremonyRecord>> {
        take_in(self.writer(), id, kind, owner).await
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

    /// The pending ceremony `id` of `kind`, left in place (to refuse a finish before taking it).
    pub async fn find_ceremony(&self, id: &str, kind: &str) -> Result<Option<CeremonyRecord>> {
        Ok(ceremonies::Entity::find_by_id(id.to_owned())
            .filter(ceremonies::Column::Kind.eq(kind))
            .one(&self.db)
            .await?)
    }

    /// Stores a pending ceremony unless its client key already has `per_client` unexpired ones,
    /// in one `INSERT … SELECT … WHERE (count) < cap` (the count reads at most `per_client`
    /// index entries): a refused start writes nothing. Under concurrency the cap may be passed
    /// by the number of starts running at the same moment (each counts what is committed), which
    /// bounds storage just the same. A refusal says when the client's oldest ceremony expires.
    pub async fn insert_ceremony_within(&self, ceremony: NewCeremony, per_client: u64) -> Result<()> {
        use ceremonies::Column as C;
        let now = ceremony.created_at;
        // A client already at its cap is refused by a read (no write lock taken, which on SQLite
        // would serialize a flood of refusals); the conditional insert below settles the rest.
        let pending_here = ceremonies::Entity::find()
            .filter(C::ExpiresAt.gt(now))
            .filter(C::ClientKey.eq(ceremony.client_key.clone()))
            .limit(per_client);
        if sea_orm::PaginatorTrait::count(pending_here, &self.db).await? >= per_client {
            return Err(self.ceremonies_full(ceremony.client_key.as_deref(), now).await);
        }
        let pending = |client_key: Option<&str>| -> SelectStatement {
            let mut count = Query::select();
            count.expr(Expr::col(C::Id).count()).from(ceremonies::Entity).and_where(C::ExpiresAt.gt(now));
            count.and_where(C::ClientKey.eq(client_key));
            count
        };
        let sub =
            |statement: SelectStatement| Expr::SubQuery(None, Box::new(SubQueryStatement::SelectStatement(statement)));
        let mut values = Query::select();
        values.exprs([
            Expr::val(ceremony.id.clone()),
            Expr::val(ceremony.kind),
            Expr::val(ceremony.user_id.clone()),
            Expr::val(ceremony.state.clone()),
            Expr::val(ceremony.expires_at),
            Expr::val(ceremony.created_at),
            Expr::val(ceremony.client_key.clone()),
        ]);
        if let Some(key) = ceremony.client_key.as_deref() {
            values.and_where(sub(pending(Some(key))).lt(per_client));
        }
        let mut insert = Query::insert();
        insert
            .into_table(ceremonies::Entity)
            .columns([C::Id, C::Kind, C::UserId, C::State, C::ExpiresAt, C::CreatedAt, C::ClientKey])
            .select_from(values)
            .map_err(|err| Error::internal(format_args!("building the ceremony insert: {err}")))?;
        let inserted = self.writer().execute(&insert).await?;
        if inserted.rows_affected() == 1 {
            return Ok(());
        }
        Err(self.ceremonies_full(ceremony.client_key.as_deref(), now).await)
    }

    /// The refusal of a client at its cap, saying when its earliest pending ceremony expires.
    async fn ceremonies_full(&self, client_key: Option<&str>, now: DateTime<Utc>) -> Error {
        use ceremonies::Column as C;
        let earliest: Result<Option<Option<DateTime<Utc>>>, sea_orm::DbErr> = ceremonies::Entity::find()
            .filter(C::ExpiresAt.gt(now))
            .filter(C::ClientKey.eq(client_key))
            .select_only()
            .column_as(C::ExpiresAt.min(), "earliest")
            .into_tuple()
            .one(&self.db)
            .await;
        match earliest {
            Ok(earliest) => {
                let retry_after = earliest.flatten().map_or(std::time::Duration::from_secs(1), |at| {
                    (at - now).to_std().unwrap_or_default().max(std::time::Duration::from_secs(1))
                });
                Error::TooManyCeremonies { retry_after }
            }
            Err(err) => err.into(),
        }
    }

    /// Unexpired ceremonies (one index range count: run it seldom).
    pub async fn count_pending_ceremonies(&self, now: DateTime<Utc>) -> Result<u64> {
        Ok(sea_orm::PaginatorTrait::count(
            ceremonies::Entity::find().filter(ceremonies::Column::ExpiresAt.gt(now)),
            &self.db,
        )
        .await?)
    }

    /// Deletes ceremonies that expired before `now`, in batches; returns how many.
    pub async fn delete_expired_ceremonies(&self, now: DateTime<Utc>) -> Result<u64> {
        let expired = sea_orm::Condition::all().add(ceremonies::Column::ExpiresAt.lt(now));
        self.delete_in_batches::<ceremonies::Entity>(ceremonies::Column::Id, expired).await
    }
}

/// `DELETE … RETURNING` of ceremony `id` of `kind` on `db` (a connection or an open
/// transaction), narrowed by `owner` when given.
async fn take_in(
    db: &impl ConnectionTrait,
    id: &str,
    kind: &str,
    owner: Option<SimpleExpr>,
) -> Result<Option<CeremonyRecord>> {
    let mut query = ceremonies::Entity::delete_many()
        .filter(ceremonies::Column::Id.eq(id))
        .filter(ceremonies::Column::Kind.eq(kind));
    if let Some(owner) = owner {
        query = query.filter(owner);
    }
    Ok(query.exec_with_returning(db).await?.pop())
}

/// Takes ceremony `id` of `kind` started without a signed-in user, on `db` (an open write
/// transaction): rolled back with it, the ceremony is still there.
pub(super) async fn take_anonymous_ceremony_in(
    db: &impl ConnectionTrait,
    id: &str,
    kind: &str,
) -> Result<Option<CeremonyRecord>> {
    take_in(db, id, kind, Some(ceremonies::Column::UserId.is_null())).await
}
