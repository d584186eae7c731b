//! Consecutive failed sign-ins per account and factor, counted in the database so that every
//! replica sees one count (NIST SP 800-63B-4 §3.2.2). An attempt is reserved *before* the
//! credential is checked, with one conditional UPDATE (`failures = failures + 1 … WHERE
//! failures < limit AND next_attempt_at <= now`, which also closes the window from the first
//! delayed failure on): the row lock serializes concurrent attempts on any replicas, so no more
//! pass than the policy allows. A success resets the count.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    sea_query::{Expr, ExprTrait},
};

use super::{Store, entities::sign_in_failures};
use crate::error::Result;

/// How failures slow an account down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailurePolicy {
    /// Failures answered without delay.
    pub free_attempts: u32,
    /// The wait after the first delayed failure; doubles with each further one…
    pub delay: Duration,
    /// …up to this.
    pub max_delay: Duration,
    /// Consecutive failures after which no attempt passes until the count is cleared or
    /// forgotten.
    pub limit: u32,
}

impl FailurePolicy {
    /// The wait before the next attempt, once `failures` attempts in a row have failed.
    pub fn delay_after(&self, failures: u32) -> Duration {
        if failures < self.free_attempts {
            return Duration::ZERO;
        }
        let doublings = Ord::min(failures - self.free_attempts, 30);
        Ord::min(self.delay.saturating_mul(1 << doublings), self.max_delay)
    }
}

/// Whether an attempt may go ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// Counted as a failure until `clear_sign_in_failures` says otherwise.
    Allowed,
    /// Not now: the next attempt is possible at `retry_at`.
    Refused { retry_at: DateTime<Utc> },
}

fn chrono(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

impl Store {
    /// Reserves one attempt for `key` at `now` under `policy`, counting it as a failure.
    pub async fn reserve_sign_in_attempt(
        &self,
        key: &str,
        now: DateTime<Utc>,
        policy: FailurePolicy,
    ) -> Result<Attempt> {
        // The sweep may forget (delete) the row between the insert and the update; the attempt
        // then simply starts over.
        let mut counted = None;
        for _ in 0..3 {
            if let Some(row) = self.count_attempt(key, now, policy).await? {
                counted = Some(row);
                break;
            }
            let Some(row) = sign_in_failures::Entity::find_by_id(key.to_owned()).one(&self.db).await? else {
                continue;
            };
            let retry_at = if u32::try_from(row.failures).unwrap_or(u32::MAX) >= policy.limit {
                row.updated_at + chrono(policy.max_delay)
            } else if row.next_attempt_at > now {
                row.next_attempt_at
            } else {
                continue; // reset by a success meanwhile: open again
            };
            return Ok(Attempt::Refused { retry_at: Ord::max(retry_at, now + chrono::Duration::seconds(1)) });
        }
        let Some(row) = counted else {
            return Ok(Attempt::Refused { retry_at: now + chrono::Duration::seconds(1) });
        };
        // The doubled delay, once the window is closed (nobody else can pass meanwhile).
        let failures = u32::try_from(row.failures).unwrap_or(u32::MAX);
        if failures > policy.free_attempts {
            sign_in_failures::Entity::update_many()
                .col_expr(
                    sign_in_failures::Column::NextAttemptAt,
                    Expr::value(now + chrono(policy.delay_after(failures))),
                )
                .filter(sign_in_failures::Column::Key.eq(key))
                .filter(sign_in_failures::Column::Failures.eq(row.failures))
                .exec(self.writer())
                .await?;
        }
        Ok(Attempt::Allowed)
    }

    /// Makes sure the row exists, then counts one attempt if the window is open and the limit not
    /// reached: one atomic UPDATE that, from the first delayed failure on, also closes the window
    /// (at least the first delay), so of concurrent attempts on any replicas only those the row
    /// lock lets through before it closes pass. None: not counted (closed, at the limit, or the
    /// row vanished meanwhile).
    async fn count_attempt(
        &self,
        key: &str,
        now: DateTime<Utc>,
        policy: FailurePolicy,
    ) -> Result<Option<sign_in_failures::Model>> {
        let fresh = sign_in_failures::ActiveModel {
            key: Set(key.to_owned()),
            failures: Set(0),
            next_attempt_at: Set(DateTime::UNIX_EPOCH),
            updated_at: Set(now),
        };
        sign_in_failures::Entity::insert(fresh).on_conflict_do_nothing().exec(self.writer()).await?;
        let closes = policy.free_attempts.saturating_sub(1);
        let counted = sign_in_failures::Entity::update_many()
            .col_expr(sign_in_failures::Column::Failures, Expr::col(sign_in_failures::Column::Failures).add(1))
            .col_expr(
                sign_in_failures::Column::NextAttemptAt,
                Expr::case(
                    Expr::col(sign_in_failures::Column::Failures).gte(i64::from(closes)),
                    Expr::value(now + chrono(policy.delay)),
                )
                // Not `now`: a concurrent attempt that read its clock a moment earlier must
                // not find the window closed by this one.
                .finally(Expr::col(sign_in_failures::Column::NextAttemptAt))
                .into(),
            )
            .col_expr(sign_in_failures::Column::UpdatedAt, Expr::value(now))
            .filter(sign_in_failures::Column::Key.eq(key))
            .filter(sign_in_failures::Column::Failures.lt(i64::from(policy.limit)))
            .filter(sign_in_failures::Column::NextAttemptAt.lte(now))
            .exec_with_returning(self.writer())
            .await?;
        Ok(counted.into_iter().next())
    }

    /// Gives back an attempt reserved under `key` that was never checked (the hashing queue was
    /// full, the database failed): an overloaded server must not count against an account.
    pub async fn release_sign_in_attempt(&self, key: &str, policy: FailurePolicy) -> Result<()> {
        sign_in_failures::Entity::update_many()
            .col_expr(sign_in_failures::Column::Failures, Expr::col(sign_in_failures::Column::Failures).sub(1))
            .col_expr(
                sign_in_failures::Column::NextAttemptAt,
                Expr::case(
                    Expr::col(sign_in_failures::Column::Failures).lte(i64::from(policy.free_attempts)),
                    Expr::value(DateTime::<Utc>::UNIX_EPOCH),
                )
                .finally(Expr::col(sign_in_failures::Column::NextAttemptAt))
                .into(),
            )
            .filter(sign_in_failures::Column::Key.eq(key))
            .filter(sign_in_failures::Column::Failures.gt(0))
            .exec(self.writer())
            .await?;
        Ok(())
    }

    /// Resets the failures counted under `keys` to none (after a successful sign-in). The rows
    /// stay (the sweep forgets them later): deleting one under an attempt being reserved on
    /// another call would make that attempt start over.
    pub async fn clear_sign_in_failures(&self, keys: &[String], now: DateTime<Utc>) -> Result<()> {
        clear_sign_in_failures_in(self.writer(), keys, now).await
    }

    /// The failures counted under `key` (for tests and admin views).
    pub async fn sign_in_failures(&self, key: &str) -> Result<u32> {
        let row = sign_in_failures::Entity::find_by_id(key.to_owned()).one(&self.db).await?;
        Ok(row.map_or(0, |row| u32::try_from(row.failures).unwrap_or(0)))
    }

    /// Deletes counts whose last failure is older than `before`; returns how many.
    pub async fn forget_sign_in_failures(&self, before: DateTime<Utc>) -> Result<u64> {
        let stale = sea_orm::Condition::all().add(sign_in_failures::Column::UpdatedAt.lt(before));
        self.delete_in_batches::<sign_in_failures::Entity>(sign_in_failures::Column::Key, stale).await
    }
}

/// `Store::clear_sign_in_failures` on `db` (a connection or an open transaction).
pub(super) async fn clear_sign_in_failures_in(
    db: &impl ConnectionTrait,
    keys: &[String],
    now: DateTime<Utc>,
) -> Result<()> {
    sign_in_failures::Entity::update_many()
        .col_expr(sign_in_failures::Column::Failures, Expr::value(0))
        .col_expr(sign_in_failures::Column::NextAttemptAt, Expr::value(DateTime::<Utc>::UNIX_EPOCH))
        .col_expr(sign_in_failures::Column::UpdatedAt, Expr::value(now))
        .filter(sign_in_failures::Column::Key.is_in(keys.iter().cloned()))
        .filter(sign_in_failures::Column::Failures.gt(0))
        .exec(db)
        .await?;
    Ok(())
}

/// Whether the failures counted under `key` refuse an attempt at `now` (the limit reached, or
/// the window closed), read on `db` (an open write transaction): what `reserve_sign_in_attempt`
/// would refuse, without counting anything.
pub(super) async fn sign_in_refused_in(
    db: &impl ConnectionTrait,
    key: &str,
    now: DateTime<Utc>,
    policy: FailurePolicy,
) -> Result<bool> {
    let closed = sign_in_failures::Entity::find_by_id(key.to_owned())
        .filter(
            sea_orm::Condition::any()
                .add(sign_in_failures::Column::Failures.gte(i64::from(policy.limit)))
                .add(sign_in_failures::Column::NextAttemptAt.gt(now)),
        )
        .one(db)
        .await?;
    Ok(closed.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delay_doubles_from_the_first_delayed_failure_up_to_the_cap() {
        let policy = FailurePolicy {
            free_attempts: 5,
            delay: Duration::from_secs(2),
            max_delay: Duration::from_secs(900),
            limit: 100,
        };
        let delays: Vec<u64> = (1..=15).map(|n| policy.delay_after(n).as_secs()).collect();
        assert_eq!(delays, [0, 0, 0, 0, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900]);
        assert_eq!(policy.delay_after(99).as_secs(), 900);
    }
}
