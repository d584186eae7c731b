//! The mix of password-hash kinds among the accounts: how many hold a password at all, and how
//! many of those still hold an imported hash: bcrypt, per cost, or better-auth's scrypt. What an address without a
//! password is verified against at sign-in follows this mix (`service/login_timing.rs`).

use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect, sea_query::Expr};

use super::{Store, entities::users};
use crate::error::Result;

/// Accounts by the kind of password hash they hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PasswordHashMix {
    /// Accounts with any password hash.
    pub with_password: u64,
    /// Accounts still holding a bcrypt hash, as (cost, how many), by cost.
    pub bcrypt_by_cost: Vec<(u32, u64)>,
    /// Accounts still holding an imported better-auth scrypt hash (one fixed cost).
    pub better_auth_scrypt: u64,
}

impl Store {
    /// Counts the accounts' password hashes by kind (three aggregate queries, no hash leaves SQL).
    pub async fn password_hash_mix(&self) -> Result<PasswordHashMix> {
        let with_password =
            users::Entity::find().filter(users::Column::PasswordHash.is_not_null()).count(&self.db).await?;
        // `$2b$12$…`: the cost is characters 5–6 (SQL's substr is 1-based), on both backends.
        let cost = || Expr::cust("substr(password_hash, 5, 2)");
        let rows: Vec<(String, i64)> = users::Entity::find()
            .select_only()
            .column_as(cost(), "cost")
            .column_as(Expr::cust("count(*)"), "accounts")
            .filter(users::Column::PasswordHash.like("$2%"))
            .group_by(cost())
            .into_tuple()
            .all(&self.db)
            .await?;
        let mut bcrypt_by_cost: Vec<(u32, u64)> = rows
            .into_iter()
            .filter_map(|(cost, count)| Some((cost.parse().ok()?, u64::try_from(count).ok()?)))
            .collect();
        bcrypt_by_cost.sort_unstable();
        let better_auth_scrypt = users::Entity::find()
            .filter(users::Column::PasswordHash.like(format!("{}%", crate::crypto::BETTER_AUTH_SCRYPT_PREFIX)))
            .count(&self.db)
            .await?;
        Ok(PasswordHashMix { with_password, bcrypt_by_cost, better_auth_scrypt })
    }
}
