//! The target side of `keyward import authjs`: look-ups by the keys that make a re-run
//! idempotent (user id and email, provider account, credential id, session token hash) and one
//! transaction per batch of writes. The rules of what to write live in `service::import`.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::{NotSet, Set},
    ColumnTrait, EntityTrait, QueryFilter,
};

use super::{
    AccountRecord, AuthenticatorRecord, NewAccount, NewAuthenticator, NewSession, ProviderTokens, SessionRecord, Store,
    UserRecord,
    accounts::set_tokens,
    entities::{accounts, authenticators, sessions, users},
    is_unique_violation,
};
use crate::error::Result;

/// A user as the import writes it: Auth.js's columns, with the source's id kept.
#[derive(Debug, Clone)]
pub struct ImportedUser {
    pub id: String,
    pub email: String,
    pub name: Option<String>,
    pub email_verified: Option<DateTime<Utc>>,
    pub image: Option<String>,
    pub password_hash: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl ImportedUser {
    fn into_active_model(self) -> users::ActiveModel {
        users::ActiveModel {
            id: Set(self.id),
            name: Set(self.name),
            email: Set(self.email),
            email_verified: Set(self.email_verified),
            image: Set(self.image),
            password_hash: Set(self.password_hash),
            created_at: Set(self.created_at),
            updated_at: Set(self.updated_at),
            disabled_at: Set(None),
            roles: Set(String::new()),
        }
    }
}

/// What a re-run changes on a user that is already there.
#[derive(Debug, Clone)]
pub struct UserUpdate {
    pub id: String,
    pub name: Option<String>,
    pub email_verified: Option<DateTime<Utc>>,
    pub image: Option<String>,
    /// Set only when Keyward holds no password for the user.
    pub password_hash: Option<String>,
    pub updated_at: DateTime<Utc>,
}

/// New provider tokens for an account that is already there.
#[derive(Debug, Clone)]
pub struct AccountTokensUpdate {
    pub account_id: String,
    pub tokens: ProviderTokens,
}

/// A passkey's counter and backup state moving forward.
#[derive(Debug, Clone)]
pub struct AuthenticatorUpdate {
    pub id: String,
    pub counter: i64,
    pub credential_backed_up: bool,
}

/// Everything one batch writes, in one transaction.
#[derive(Debug, Default)]
pub struct ImportBatch {
    pub new_users: Vec<ImportedUser>,
    pub user_updates: Vec<UserUpdate>,
    pub new_accounts: Vec<NewAccount>,
    pub account_updates: Vec<AccountTokensUpdate>,
    pub new_authenticators: Vec<NewAuthenticator>,
    pub authenticator_updates: Vec<AuthenticatorUpdate>,
    pub new_sessions: Vec<NewSession>,
}

impl ImportBatch {
    pub fn is_empty(&self) -> bool {
        self.new_users.is_empty()
            && self.user_updates.is_empty()
            && self.new_accounts.is_empty()
            && self.account_updates.is_empty()
            && self.new_authenticators.is_empty()
            && self.authenticator_updates.is_empty()
            && self.new_sessions.is_empty()
    }
}

/// How a batch write ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchWrite {
    Written,
    /// A unique constraint refused a row (someone else wrote the same key since the look-up):
    /// nothing of the batch was written.
    Conflict,
}

impl Store {
    /// The users with these ids.
    pub async fn users_with_ids(&self, ids: Vec<String>) -> Result<Vec<UserRecord>> {
        Ok(users::Entity::find().filter(users::Column::Id.is_in(ids)).all(&self.db).await?)
    }

    /// The users with these (normalized) emails.
    pub async fn users_with_emails(&self, emails: Vec<String>) -> Result<Vec<UserRecord>> {
        Ok(users::Entity::find().filter(users::Column::Email.is_in(emails)).all(&self.db).await?)
    }

    /// The accounts with these provider account ids, at any provider.
    pub async fn accounts_with_provider_account_ids(&self, ids: Vec<String>) -> Result<Vec<AccountRecord>> {
        let rows =
            accounts::Entity::find().filter(accounts::Column::ProviderAccountId.is_in(ids)).all(&self.db).await?;
        rows.into_iter().map(|row| self.opened_account(row)).collect()
    }

    /// The passkeys with these base64url credential ids.
    pub async fn authenticators_with_credential_ids(&self, ids: Vec<String>) -> Result<Vec<AuthenticatorRecord>> {
        Ok(authenticators::Entity::find().filter(authenticators::Column::CredentialId.is_in(ids)).all(&self.db).await?)
    }

    /// The sessions whose tokens hash to these.
    pub async fn sessions_with_token_hashes(&self, hashes: Vec<String>) -> Result<Vec<SessionRecord>> {
        Ok(sessions::Entity::find().filter(sessions::Column::SessionToken.is_in(hashes)).all(&self.db).await?)
    }

    /// Writes one batch in one transaction: all of it, or (on `Conflict` or an error) none.
    /// Provider tokens are sealed like every account write's.
    pub async fn write_import_batch(&self, mut batch: ImportBatch) -> Result<BatchWrite> {
        let new_accounts = std::mem::take(&mut batch.new_accounts)
            .into_iter()
            .map(|account| account.into_active_model(self))
            .collect::<Result<Vec<_>>>()?;
        let account_updates = std::mem::take(&mut batch.account_updates)
            .into_iter()
            .map(|update| {
                let mut model = accounts::ActiveModel { id: Set(update.account_id.clone()), ..Default::default() };
                set_tokens(self, &mut model, &update.account_id, update.tokens)?;
                Ok(model)
            })
            .collect::<Result<Vec<_>>>()?;
        let txn = self.begin_write().await?;
        match write_batch(&txn, batch, new_accounts, account_updates).await {
            Ok(()) => {
                txn.commit().await?;
                Ok(BatchWrite::Written)
            }
            Err(err) if is_unique_violation(&err) => Ok(BatchWrite::Conflict),
            Err(err) => Err(err.into()),
        }
    }
}

/// `batch` without its accounts, which come sealed as `new_accounts` and `account_updates`.
async fn write_batch(
    txn: &sea_orm::DatabaseTransaction,
    batch: ImportBatch,
    new_accounts: Vec<accounts::ActiveModel>,
    account_updates: Vec<accounts::ActiveModel>,
) -> Result<(), sea_orm::DbErr> {
    let ImportBatch {
        new_users,
        user_updates,
        new_accounts: _,
        account_updates: _,
        new_authenticators,
        authenticator_updates,
        new_sessions,
    } = batch;
    if !new_users.is_empty() {
        users::Entity::insert_many(new_users.into_iter().map(ImportedUser::into_active_model)).exec(txn).await?;
    }
    for update in user_updates {
        users::ActiveModel {
            id: Set(update.id),
            name: Set(update.name),
            email_verified: Set(update.email_verified),
            image: Set(update.image),
            password_hash: update.password_hash.map_or(NotSet, |hash| Set(Some(hash))),
            updated_at: Set(update.updated_at),
            ..Default::default()
        }
        .update(txn)
        .await?;
    }
    if !new_accounts.is_empty() {
        accounts::Entity::insert_many(new_accounts).exec(txn).await?;
    }
    for model in account_updates {
        model.update(txn).await?;
    }
    if !new_authenticators.is_empty() {
        authenticators::Entity::insert_many(new_authenticators.into_iter().map(NewAuthenticator::into_active_model))
            .exec(txn)
            .await?;
    }
    for update in authenticator_updates {
        authenticators::ActiveModel {
            id: Set(update.id),
            counter: Set(update.counter),
            credential_backed_up: Set(update.credential_backed_up),
            ..Default::default()
        }
        .update(txn)
        .await?;
    }
    if !new_sessions.is_empty() {
        sessions::Entity::insert_many(new_sessions.into_iter().map(NewSession::into_active_model)).exec(txn).await?;
    }
    Ok(())
}
