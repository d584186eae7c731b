//! `verification_tokens` for mailed links: issuing one (replacing older ones of the same address
//! and purpose) together with the mail that carries it, in one transaction; taking one
//! atomically (`DELETE … RETURNING`, so a link works once, on any replica); and the writes the
//! flows finish with.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, EntityTrait, QueryFilter,
    sea_query::{Expr, Func},
};

use super::{
    NewOutboxMessage, Store, UserRecord,
    entities::{sessions, users, verification_tokens},
};
use crate::error::Result;

/// A mailed link's token as the store keeps it (never the token itself).
pub type VerificationTokenRecord = verification_tokens::Model;

/// A token about to be issued.
#[derive(Debug, Clone)]
pub struct NewVerificationToken {
    /// The address the link goes to.
    pub identifier: String,
    /// Hex SHA-256 of the token.
    pub token_hash: String,
    pub purpose: &'static str,
    pub user_id: String,
    pub created_at: DateTime<Utc>,
    pub expires: DateTime<Utc>,
    /// Email change: the account's address now (`identifier` is the new one).
    pub subject_email: Option<String>,
}

impl Store {
    /// Stores `token`, deleting any older token of the same address and purpose, and queues
    /// `mails` (the link, and any notice that goes with it), all in one transaction: the link
    /// exists exactly when its mail does.
    pub async fn issue_verification_token(
        &self,
        token: NewVerificationToken,
        mails: Vec<NewOutboxMessage>,
    ) -> Result<()> {
        use verification_tokens::Column as C;
        let txn = self.begin_write().await?;
        verification_tokens::Entity::delete_many()
            .filter(C::Identifier.eq(token.identifier.clone()))
            .filter(C::Purpose.eq(token.purpose))
            .exec(&txn)
            .await?;
        let row = verification_tokens::ActiveModel {
            identifier: Set(token.identifier),
            token: Set(token.token_hash),
            expires: Set(token.expires),
            purpose: Set(Some(token.purpose.to_owned())),
            user_id: Set(Some(token.user_id)),
            created_at: Set(Some(token.created_at)),
            subject_email: Set(token.subject_email),
        };
        verification_tokens::Entity::insert(row).exec_without_returning(&txn).await?;
        for mail in mails {
            self.enqueue_in(&txn, mail, token.created_at).await?;
        }
        txn.commit().await?;
        Ok(())
    }

    /// Removes and returns the token with hash `token_hash` if it is for `purpose` (expired or
    /// not: the caller tells those apart). A token of another purpose is left alone.
    pub async fn take_verification_token(
        &self,
        token_hash: &str,
        purpose: &str,
    ) -> Result<Option<VerificationTokenRecord>> {
        use verification_tokens::Column as C;
        Ok(verification_tokens::Entity::delete_many()
            .filter(C::Token.eq(token_hash))
            .filter(C::Purpose.eq(purpose))
            .exec_with_returning(self.writer())
            .await?
            .pop())
    }

    /// The token with hash `token_hash` for `purpose`, left in place.
    pub async fn find_verification_token(
        &self,
        token_hash: &str,
        purpose: &str,
    ) -> Result<Option<VerificationTokenRecord>> {
        use verification_tokens::Column as C;
        Ok(verification_tokens::Entity::find()
            .filter(C::Token.eq(token_hash))
            .filter(C::Purpose.eq(purpose))
            .one(&self.db)
            .await?)
    }

    /// Sets the password of `user_id`, ends every one of its sessions and queues `notice`, in one
    /// transaction; returns how many sessions ended.
    pub async fn reset_password(
        &self,
        user_id: &str,
        password_hash: String,
        notice: NewOutboxMessage,
        now: DateTime<Utc>,
    ) -> Result<u64> {
        let txn = self.begin_write().await?;
        users::Entity::update_many()
            .col_expr(users::Column::PasswordHash, Expr::value(password_hash))
            .col_expr(users::Column::UpdatedAt, Expr::value(now))
            .filter(users::Column::Id.eq(user_id))
            .exec(&txn)
            .await?;
        let ended = sessions::Entity::delete_many().filter(sessions::Column::UserId.eq(user_id)).exec(&txn).await?;
        self.enqueue_in(&txn, notice, now).await?;
        txn.commit().await?;
        Ok(ended.rows_affected)
    }

    /// Marks `user_id`'s address verified at `now` (kept if it already was), if the address is
    /// still `email`; returns the user, or None when it is not (the address changed).
    pub async fn verify_user_email(
        &self,
        user_id: &str,
        email: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<UserRecord>> {
        use users::Column as C;
        let updated = users::Entity::update_many()
            .col_expr(C::EmailVerified, Func::coalesce([Expr::col(C::EmailVerified), Expr::value(now)]).into())
            .filter(C::Id.eq(user_id))
            .filter(C::Email.eq(email))
            .exec_with_returning(self.writer())
            .await?;
        Ok(updated.into_iter().next())
    }

    /// Changes `user_id`'s address from `from` to `to` (verified at `now`, since the link to it
    /// was followed). None when the address is no longer `from`; `EmailTaken` when another
    /// account has `to` by now (the UNIQUE constraint decides, as at registration).
    pub async fn change_user_email(
        &self,
        user_id: &str,
        from: &str,
        to: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<UserRecord>> {
        use users::Column as C;
        let updated = users::Entity::update_many()
            .col_expr(C::Email, Expr::value(to))
            .col_expr(C::EmailVerified, Expr::value(now))
            .col_expr(C::UpdatedAt, Expr::value(now))
            .filter(C::Id.eq(user_id))
            .filter(C::Email.eq(from))
            .exec_with_returning(self.writer())
            .await;
        match updated {
            Ok(rows) => Ok(rows.into_iter().next()),
            Err(err) if super::is_unique_violation(&err) => Err(crate::error::Error::EmailTaken),
            Err(err) => Err(err.into()),
        }
    }

    /// Deletes verification tokens that expired before `now`, in batches; returns how many.
    pub async fn delete_expired_verification_tokens(&self, now: DateTime<Utc>) -> Result<u64> {
        let expired = sea_orm::Condition::all().add(verification_tokens::Column::Expires.lt(now));
        self.delete_in_batches::<verification_tokens::Entity>(verification_tokens::Column::Token, expired).await
    }
}
