//! The `users` table: finding users, changing the name and the password hash, and the sign-in
//! methods a user has (to refuse removing the last one).

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};

use super::{Store, UserRecord, entities::users};
use crate::error::{Error, Result};

/// What registration knows about a new user.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub id: String,
    pub email: String,
    pub name: Option<String>,
    pub password_hash: Option<String>,
    pub created_at: DateTime<Utc>,
    /// When the address was proved (a mailed sign-up code), if it already is.
    pub email_verified: Option<DateTime<Utc>>,
}

impl NewUser {
    pub(super) fn into_active_model(self) -> users::ActiveModel {
        users::ActiveModel {
            id: Set(self.id),
            name: Set(self.name),
            email: Set(self.email),
            email_verified: Set(self.email_verified),
            image: Set(None),
            password_hash: Set(self.password_hash),
            created_at: Set(self.created_at),
            updated_at: Set(self.created_at),
            disabled_at: Set(None),
            roles: Set(String::new()),
        }
    }
}

impl Store {
    /// Inserts `user` through `txn` (a write transaction) with its `user.created` event. A
    /// taken email is `EmailTaken`.
    pub(super) async fn insert_user_in(
        &self,
        txn: &sea_orm::DatabaseTransaction,
        user: users::ActiveModel,
    ) -> Result<UserRecord> {
        let user = match user.insert(txn).await {
            Ok(user) => user,
            Err(err) if super::is_unique_violation(&err) => return Err(Error::EmailTaken),
            Err(err) => return Err(err.into()),
        };
        let event = super::WebhookEvent::user(crate::domain::WebhookEventType::UserCreated, &user);
        self.emit_in(txn, event, user.created_at).await?;
        Ok(user)
    }

    /// The user with this normalized email, if any.
    pub async fn find_user_by_email(&self, email: &str) -> Result<Option<UserRecord>> {
        Ok(users::Entity::find().filter(users::Column::Email.eq(email)).one(&self.db).await?)
    }

    /// The user with this id, if any.
    pub async fn find_user(&self, id: &str) -> Result<Option<UserRecord>> {
        Ok(users::Entity::find_by_id(id.to_owned()).one(&self.db).await?)
    }

    /// Sets a user's display name (None clears it) and returns the updated user.
    pub async fn set_user_name(&self, user_id: &str, name: Option<String>, now: DateTime<Utc>) -> Result<UserRecord> {
        let update = users::ActiveModel {
            id: Set(user_id.to_owned()),
            name: Set(name),
            updated_at: Set(now),
            ..Default::default()
        };
        let txn = self.begin_write().await?;
        let user = update.update(&txn).await?;
        self.emit_in(&txn, super::WebhookEvent::user(crate::domain::WebhookEventType::UserUpdated, &user), now).await?;
        txn.commit().await?;
        self.webhooks_committed();
        Ok(user)
    }

    /// Replaces a user's password hash (re-hash on login, after checking the old one).
    pub async fn set_password_hash(&self, user_id: &str, password_hash: String, now: DateTime<Utc>) -> Result<()> {
        let update = users::ActiveModel {
            id: Set(user_id.to_owned()),
            password_hash: Set(Some(password_hash)),
            updated_at: Set(now),
            ..Default::default()
        };
        update.update(self.writer()).await.map_err(Error::from)?;
        Ok(())
    }
}

/// The ways a user can sign in, to refuse removing the last one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignInMethods {
    pub password: bool,
    pub passkeys: u64,
    pub linked_accounts: u64,
}

impl SignInMethods {
    pub fn total(&self) -> u64 {
        u64::from(self.password) + self.passkeys + self.linked_accounts
    }
}

impl Store {
    /// How the user can sign in: password, passkeys, linked OAuth accounts.
    pub async fn sign_in_methods(&self, user_id: &str) -> Result<SignInMethods> {
        Self::sign_in_methods_in(&self.db, user_id).await
    }

    /// Writes the user row (`updated_at`) inside a transaction: on PostgreSQL that takes the
    /// row lock, on SQLite the write lock. Every removal of a sign-in method (passkey, linked
    /// account) does this first, so two concurrent removals of a user's last two methods are
    /// serialized and the second sees that only one is left. False when there is no such user.
    pub(super) async fn lock_user_in(
        txn: &impl sea_orm::ConnectionTrait,
        user_id: &str,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        use sea_orm::sea_query::Expr;
        let locked = users::Entity::update_many()
            .col_expr(users::Column::UpdatedAt, Expr::value(now))
            .filter(users::Column::Id.eq(user_id))
            .exec(txn)
            .await?;
        Ok(locked.rows_affected > 0)
    }

    pub(super) async fn sign_in_methods_in(db: &impl sea_orm::ConnectionTrait, user_id: &str) -> Result<SignInMethods> {
        use sea_orm::PaginatorTrait;

        use super::entities::{accounts, authenticators};
        let password = users::Entity::find_by_id(user_id.to_owned())
            .one(db)
            .await?
            .is_some_and(|user| user.password_hash.is_some());
        let passkeys =
            authenticators::Entity::find().filter(authenticators::Column::UserId.eq(user_id)).count(db).await?;
        let linked_accounts = accounts::Entity::find().filter(accounts::Column::UserId.eq(user_id)).count(db).await?;
        Ok(SignInMethods { password, passkeys, linked_accounts })
    }
}
