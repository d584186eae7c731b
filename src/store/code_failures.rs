//! Wrong mailed one-time codes per address and purpose, counted in the database so that every
//! replica and every mail shares one count (NIST SP 800-63B-4 §3.2.2). A try is reserved before
//! its code is compared — one conditional UPDATE (`failures = failures + 1 … WHERE failures <
//! limit`) that the row lock serializes — so no more than `limit` wrong codes are ever compared
//! for one address and purpose, on any number of replicas. A right code, a used link or a
//! sign-in by another method deletes the count. Only an address with a mail pending is counted,
//! so strangers cannot grow the table with addresses of their own choosing.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    sea_query::{Expr, ExprTrait},
};

use super::{Store, entities::code_failures};
use crate::error::Result;

impl Store {
    /// Reserves one code try under `key`, counted as a failure; false (nothing written) when
    /// `limit` failures are counted already.
    pub async fn reserve_code_try(&self, key: &str, limit: u32, now: DateTime<Utc>) -> Result<bool> {
        use code_failures::Column as C;
        let fresh = code_failures::ActiveModel { key: Set(key.to_owned()), failures: Set(0), updated_at: Set(now) };
        // The insert only makes sure the row exists; the UPDATE decides.
        code_failures::Entity::insert(fresh).on_conflict_do_nothing().exec_without_returning(self.writer()).await?;
        let counted = code_failures::Entity::update_many()
            .col_expr(C::Failures, Expr::col(C::Failures).add(1))
            .col_expr(C::UpdatedAt, Expr::value(now))
            .filter(C::Key.eq(key))
            .filter(C::Failures.lt(i64::from(limit)))
            .exec(self.writer())
            .await?;
        Ok(counted.rows_affected == 1)
    }

    /// Forgets the failures counted under `keys` (a success).
    pub async fn clear_code_failures(&self, keys: &[String]) -> Result<()> {
        clear_code_failures_in(self.writer(), keys).await
    }

    /// The failures counted under `key`.
    pub async fn code_failures(&self, key: &str) -> Result<u32> {
        let row = code_failures::Entity::find_by_id(key.to_owned()).one(&self.db).await?;
        Ok(row.map_or(0, |row| u32::try_from(row.failures).unwrap_or(0)))
    }
}

/// `Store::clear_code_failures` on `db` (a connection or an open transaction).
pub(super) async fn clear_code_failures_in(db: &impl ConnectionTrait, keys: &[String]) -> Result<()> {
    code_failures::Entity::delete_many()
        .filter(code_failures::Column::Key.is_in(keys.iter().cloned()))
        .exec(db)
        .await?;
    Ok(())
}
