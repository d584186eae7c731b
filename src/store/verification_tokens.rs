//! `verification_tokens` for mailed links: issuing one (replacing older ones of the same address
//! and purpose) together with the mail that carries it, in one transaction; taking one
//! atomically (`DELETE … RETURNING`, so a link works once, on any replica); and the writes the
//! flows finish with.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, EntityTrait, QueryFilter,
    sea_query::{Expr, ExprTrait, Func},
};

use super::{
    NewOutboxMessage, Store, UserRecord, WebhookEvent,
    entities::{accounts, authenticators, users, verification_tokens},
    sign_in_failures::clear_sign_in_failures_in,
};
use crate::{domain::WebhookEventType, error::Result};

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
    /// Keyed hash of the one-time code the mail also carries.
    pub code_hash: Option<String>,
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
        let txn = self.begin_write().await?;
        self.issue_verification_token_in(&txn, token, mails).await?;
        txn.commit().await?;
        Ok(())
    }

    /// `issue_verification_token` inside the caller's write transaction `txn`.
    pub(super) async fn issue_verification_token_in(
        &self,
        txn: &sea_orm::DatabaseTransaction,
        token: NewVerificationToken,
        mails: Vec<NewOutboxMessage>,
    ) -> Result<()> {
        use verification_tokens::Column as C;
        verification_tokens::Entity::delete_many()
            .filter(C::Identifier.eq(token.identifier.clone()))
            .filter(C::Purpose.eq(token.purpose))
            .exec(txn)
            .await?;
        let row = verification_tokens::ActiveModel {
            identifier: Set(token.identifier),
            token: Set(token.token_hash),
            expires: Set(token.expires),
            purpose: Set(Some(token.purpose.to_owned())),
            user_id: Set(Some(token.user_id)),
            created_at: Set(Some(token.created_at)),
            subject_email: Set(token.subject_email),
            code_hash: Set(token.code_hash),
            code_attempts: Set(0),
        };
        verification_tokens::Entity::insert(row).exec_without_returning(txn).await?;
        for mail in mails {
            self.enqueue_in(txn, mail, token.created_at).await?;
        }
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

    /// Counts one code attempt against the `purpose` row of `identifier` (there is at most one:
    /// a new request replaces the older) and returns it, unless it has no code or already had
    /// `max_attempts`: one conditional UPDATE, so concurrent guesses on any replica each use up
    /// an attempt and no more than `max_attempts` codes are ever compared with it.
    pub async fn count_code_attempt(
        &self,
        identifier: &str,
        purpose: &str,
        max_attempts: i32,
    ) -> Result<Option<VerificationTokenRecord>> {
        use verification_tokens::Column as C;
        Ok(verification_tokens::Entity::update_many()
            .col_expr(C::CodeAttempts, Expr::col(C::CodeAttempts).add(1))
            .filter(C::Identifier.eq(identifier))
            .filter(C::Purpose.eq(purpose))
            .filter(C::CodeHash.is_not_null())
            .filter(C::CodeAttempts.lt(max_attempts))
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

    /// Sets the password of `user_id`, ends every one of its sessions, clears the account's
    /// failed sign-ins under `failure_keys` (the reset proved control of the address, so a
    /// suspended password comes back with the new one) and queues `notice`, in one transaction;
    /// returns how many sessions ended.
    pub async fn reset_password(
        &self,
        user_id: &str,
        password_hash: String,
        failure_keys: &[String],
        remove_other_factors: bool,
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
        self.emit_in(&txn, WebhookEvent::user_id(WebhookEventType::PasswordChanged, user_id), now).await?;
        if remove_other_factors {
            // Every passkey and linked provider, each with its webhook event.
            let passkeys =
                authenticators::Entity::find().filter(authenticators::Column::UserId.eq(user_id)).all(&txn).await?;
            authenticators::Entity::delete_many().filter(authenticators::Column::UserId.eq(user_id)).exec(&txn).await?;
            for passkey in &passkeys {
                self.emit_in(&txn, WebhookEvent::passkey(WebhookEventType::PasskeyRemoved, passkey), now).await?;
            }
            let linked = accounts::Entity::find().filter(accounts::Column::UserId.eq(user_id)).all(&txn).await?;
            accounts::Entity::delete_many().filter(accounts::Column::UserId.eq(user_id)).exec(&txn).await?;
            for account in &linked {
                self.emit_in(&txn, WebhookEvent::account(WebhookEventType::AccountUnlinked, account), now).await?;
            }
        }
        let ended = self.end_all_sessions_in(&txn, user_id, now).await?;
        clear_sign_in_failures_in(&txn, failure_keys, now).await?;
        self.enqueue_in(&txn, notice, now).await?;
        self.commit_session_events(txn).await?;
        Ok(ended)
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
        let txn = self.begin_write().await?;
        let updated = users::Entity::update_many()
            .col_expr(C::EmailVerified, Func::coalesce([Expr::col(C::EmailVerified), Expr::value(now)]).into())
            .filter(C::Id.eq(user_id))
            .filter(C::Email.eq(email))
            .exec_with_returning(&txn)
            .await?;
        self.user_updated_in(txn, updated.into_iter().next(), now).await
    }

    /// Changes `user_id`'s address from `from` to `to` (verified at `now`, since the link to it
    /// was followed). None when the address is no longer `from`; `EmailTaken` when another
    /// account has `to` by now (the UNIQUE constraint decides, as at registration). `notice`
    /// (the mail to the old address) commits with the change.
    pub async fn change_user_email(
        &self,
        user_id: &str,
        from: &str,
        to: &str,
        notice: NewOutboxMessage,
        now: DateTime<Utc>,
    ) -> Result<Option<UserRecord>> {
        use users::Column as C;
        let txn = self.begin_write().await?;
        let updated = users::Entity::update_many()
            .col_expr(C::Email, Expr::value(to))
            .col_expr(C::EmailVerified, Expr::value(now))
            .col_expr(C::UpdatedAt, Expr::value(now))
            .filter(C::Id.eq(user_id))
            .filter(C::Email.eq(from))
            .exec_with_returning(&txn)
            .await;
        let user = match updated {
            Ok(rows) => rows.into_iter().next(),
            Err(err) if super::is_unique_violation(&err) => return Err(crate::error::Error::EmailTaken),
            Err(err) => return Err(err.into()),
        };
        if user.is_some() {
            self.enqueue_in(&txn, notice, now).await?;
        }
        self.user_updated_in(txn, user, now).await
    }

    /// Emits `user.updated` for `user` (when there is one) and commits `txn`.
    async fn user_updated_in(
        &self,
        txn: sea_orm::DatabaseTransaction,
        user: Option<UserRecord>,
        now: DateTime<Utc>,
    ) -> Result<Option<UserRecord>> {
        if let Some(user) = &user {
            self.emit_in(&txn, WebhookEvent::user(WebhookEventType::UserUpdated, user), now).await?;
        }
        txn.commit().await?;
        self.webhooks_committed();
        Ok(user)
    }

    /// Deletes verification tokens that expired before `now`, in batches; returns how many.
    pub async fn delete_expired_verification_tokens(&self, now: DateTime<Utc>) -> Result<u64> {
        let expired = sea_orm::Condition::all().add(verification_tokens::Column::Expires.lt(now));
        self.delete_in_batches::<verification_tokens::Entity>(verification_tokens::Column::Token, expired).await
    }
}
