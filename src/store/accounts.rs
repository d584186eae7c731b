//! `accounts`: identities at OAuth / OpenID Connect providers linked to users, with the
//! provider's tokens (Auth.js `Account`). The tokens are sealed under the master key on every
//! write and opened on every read (`secrets.rs`): whatever stores or reads accounts through
//! `Store` sees them in clear, the database never does.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::{NotSet, Set},
    ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::{
    NewOutboxMessage, NewSession, NewUser, OtherSessions, SessionRecord, Store, UserRecord, WebhookEvent,
    entities::{accounts, users},
    is_unique_violation,
    secrets::{ACCOUNT_ACCESS_TOKEN, ACCOUNT_ID_TOKEN, ACCOUNT_REFRESH_TOKEN},
    sessions::{end_other_sessions_in, insert_session_in},
};
use crate::{
    domain::WebhookEventType,
    error::{Error, Result},
};

/// A linked provider account as the service layer sees it, tokens in clear.
pub type AccountRecord = accounts::Model;

/// What a provider's token endpoint returned, as stored in `accounts`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ProviderTokens {
    pub access_token: Option<String>,
    pub refresh_token: Option<String>,
    /// Unix seconds (Auth.js `expires_at`).
    pub expires_at: Option<i64>,
    pub token_type: Option<String>,
    pub scope: Option<String>,
    pub id_token: Option<String>,
}

impl std::fmt::Debug for ProviderTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Tokens are credentials at the provider: never in logs.
        f.debug_struct("ProviderTokens")
            .field("expires_at", &self.expires_at)
            .field("token_type", &self.token_type)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// A provider account about to be linked.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub id: String,
    pub user_id: String,
    /// Auth.js `type`: "oauth" or "oidc".
    pub kind: &'static str,
    pub provider: String,
    pub provider_account_id: String,
    pub tokens: ProviderTokens,
    pub created_at: DateTime<Utc>,
}

impl NewAccount {
    /// The row to insert, its tokens sealed by `store`.
    pub(super) fn into_active_model(self, store: &Store) -> Result<accounts::ActiveModel> {
        let mut model = accounts::ActiveModel {
            id: Set(self.id.clone()),
            user_id: Set(self.user_id),
            kind: Set(self.kind.to_owned()),
            provider: Set(self.provider),
            provider_account_id: Set(self.provider_account_id),
            session_state: Set(None),
            created_at: Set(self.created_at),
            ..Default::default()
        };
        set_tokens(store, &mut model, &self.id, self.tokens)?;
        Ok(model)
    }
}

/// The one place provider tokens become columns (sign-in, linking and the Auth.js import all
/// write through it): the access, refresh and ID tokens sealed by `store` for row `account_id`.
pub(super) fn set_tokens(
    store: &Store,
    model: &mut accounts::ActiveModel,
    account_id: &str,
    tokens: ProviderTokens,
) -> Result<()> {
    let ProviderTokens { access_token, refresh_token, expires_at, token_type, scope, id_token } = tokens;
    model.access_token = Set(store.seal_optional(access_token, ACCOUNT_ACCESS_TOKEN, account_id)?);
    model.refresh_token = Set(store.seal_optional(refresh_token, ACCOUNT_REFRESH_TOKEN, account_id)?);
    model.expires_at = Set(expires_at);
    model.token_type = Set(token_type);
    model.scope = Set(scope);
    model.id_token = Set(store.seal_optional(id_token, ACCOUNT_ID_TOKEN, account_id)?);
    Ok(())
}

impl AccountRecord {
    /// The provider tokens stored with this account (the one place columns become tokens; a
    /// record from `Store` has them opened).
    pub fn provider_tokens(&self) -> ProviderTokens {
        ProviderTokens {
            access_token: self.access_token.clone(),
            refresh_token: self.refresh_token.clone(),
            expires_at: self.expires_at,
            token_type: self.token_type.clone(),
            scope: self.scope.clone(),
            id_token: self.id_token.clone(),
        }
    }
}

/// What the provider says about a user who signs up through it.
#[derive(Debug, Clone)]
pub struct ProviderProfileFields {
    /// Set when the provider asserted the email is verified.
    pub email_verified: Option<DateTime<Utc>>,
    pub image: Option<String>,
}

/// What `unlink_account` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnlinkOutcome {
    /// Unlinked; this many other sessions ended.
    Unlinked(u64),
    /// No such account for this user.
    NotFound,
    /// It was the user's last way to sign in; nothing was deleted.
    LastSignInMethod,
}

/// Users, accounts and sessions written together.
#[derive(Debug, Clone)]
pub struct LinkedSignIn {
    pub user: UserRecord,
    pub account: AccountRecord,
    pub session: SessionRecord,
}

/// An account insert that hit the (provider, provider_account_id) unique index: someone linked
/// the same provider account between our lookup and our insert.
fn account_insert_error(err: sea_orm::DbErr) -> Error {
    if is_unique_violation(&err) { Error::OAuthAccountLinkedToOtherUser } else { err.into() }
}

impl Store {
    /// A row as read, its tokens opened.
    pub(super) fn opened_account(&self, row: accounts::Model) -> Result<AccountRecord> {
        let accounts::Model { access_token, refresh_token, id_token, .. } = row.clone();
        Ok(AccountRecord {
            access_token: self.open_optional(access_token, ACCOUNT_ACCESS_TOKEN, &row.id)?,
            refresh_token: self.open_optional(refresh_token, ACCOUNT_REFRESH_TOKEN, &row.id)?,
            id_token: self.open_optional(id_token, ACCOUNT_ID_TOKEN, &row.id)?,
            ..row
        })
    }

    /// The account for this provider identity, if linked.
    pub async fn find_account(&self, provider: &str, provider_account_id: &str) -> Result<Option<AccountRecord>> {
        let row = accounts::Entity::find()
            .filter(accounts::Column::Provider.eq(provider))
            .filter(accounts::Column::ProviderAccountId.eq(provider_account_id))
            .one(&self.db)
            .await?;
        row.map(|row| self.opened_account(row)).transpose()
    }

    /// Stores the tokens of a new sign-in through an account. A refresh token or ID token the
    /// provider did not send again is kept (Google, for one, sends the refresh token only on
    /// first consent).
    pub async fn update_account_tokens(&self, account_id: &str, tokens: ProviderTokens) -> Result<AccountRecord> {
        let ProviderTokens { access_token, refresh_token, expires_at, token_type, scope, id_token } = tokens;
        let set_if_sent = |value: Option<String>, column| -> Result<_> {
            Ok(match value {
                Some(value) => Set(Some(self.seal(&value, column, account_id)?)),
                None => NotSet,
            })
        };
        let update = accounts::ActiveModel {
            id: Set(account_id.to_owned()),
            access_token: Set(self.seal_optional(access_token, ACCOUNT_ACCESS_TOKEN, account_id)?),
            refresh_token: set_if_sent(refresh_token, ACCOUNT_REFRESH_TOKEN)?,
            expires_at: Set(expires_at),
            token_type: Set(token_type),
            scope: Set(scope),
            id_token: set_if_sent(id_token, ACCOUNT_ID_TOKEN)?,
            ..Default::default()
        };
        self.opened_account(update.update(&self.db).await?)
    }

    /// Links `account` to its (existing) user and opens a session for them, in one transaction
    /// with `notice` (the mail to the account, when it is one).
    pub async fn link_account_with_session(
        &self,
        account: NewAccount,
        session: NewSession,
        notice: Option<NewOutboxMessage>,
    ) -> Result<LinkedSignIn> {
        let txn = self.begin_write().await?;
        let user = users::Entity::find_by_id(account.user_id.clone()).one(&txn).await?.ok_or(Error::SessionInvalid)?;
        let account = account.into_active_model(self)?.insert(&txn).await.map_err(account_insert_error)?;
        let account = self.opened_account(account)?;
        let now = session.created_at;
        self.emit_in(&txn, WebhookEvent::account(WebhookEventType::AccountLinked, &account), now).await?;
        let session = insert_session_in(self, &txn, session).await?;
        if let Some(notice) = notice {
            self.enqueue_in(&txn, notice, now).await?;
        }
        txn.commit().await?;
        self.webhooks_committed();
        Ok(LinkedSignIn { user, account, session })
    }

    /// Creates a user from a provider profile, the linked account and the first session, in one
    /// transaction: all three exist afterwards or none does. A taken email is `EmailTaken`.
    pub async fn create_user_with_account(
        &self,
        user: NewUser,
        profile: ProviderProfileFields,
        account: NewAccount,
        session: NewSession,
    ) -> Result<LinkedSignIn> {
        let txn = self.begin_write().await?;
        let mut user = user.into_active_model();
        user.email_verified = Set(profile.email_verified);
        user.image = Set(profile.image);
        let user = self.insert_user_in(&txn, user).await?;
        let account = account.into_active_model(self)?.insert(&txn).await.map_err(account_insert_error)?;
        let account = self.opened_account(account)?;
        let now = user.created_at;
        self.emit_in(&txn, WebhookEvent::account(WebhookEventType::AccountLinked, &account), now).await?;
        let session = insert_session_in(self, &txn, session).await?;
        txn.commit().await?;
        self.webhooks_committed();
        Ok(LinkedSignIn { user, account, session })
    }

    /// One page of a user's accounts, newest first, strictly after the id `after`.
    pub async fn list_accounts(&self, user_id: &str, after: Option<&str>, limit: u64) -> Result<Vec<AccountRecord>> {
        let mut query = accounts::Entity::find().filter(accounts::Column::UserId.eq(user_id));
        if let Some(after) = after {
            query = query.filter(accounts::Column::Id.lt(after));
        }
        let rows = query.order_by_desc(accounts::Column::Id).limit(limit).all(&self.db).await?;
        rows.into_iter().map(|row| self.opened_account(row)).collect()
    }

    /// Deletes the user's account `account_id` unless it is their last way to sign in.
    ///
    /// Serialized with every other removal of a sign-in method by `lock_user_in`.
    /// `other` is applied to the user's other sessions in the same transaction, and `notice`
    /// makes the mail to the account from the provider's id.
    pub async fn unlink_account(
        &self,
        user_id: &str,
        account_id: &str,
        now: DateTime<Utc>,
        other: OtherSessions<'_>,
        notice: impl FnOnce(&str) -> Result<NewOutboxMessage>,
    ) -> Result<UnlinkOutcome> {
        let txn = self.begin_write().await?;
        if !Self::lock_user_in(&txn, user_id, now).await? {
            return Ok(UnlinkOutcome::NotFound);
        }
        let owned = accounts::Entity::find_by_id(account_id.to_owned())
            .filter(accounts::Column::UserId.eq(user_id))
            .one(&txn)
            .await?;
        let Some(owned) = owned else {
            return Ok(UnlinkOutcome::NotFound);
        };
        if Self::sign_in_methods_in(&txn, user_id).await?.total() <= 1 {
            return Ok(UnlinkOutcome::LastSignInMethod);
        }
        accounts::Entity::delete_by_id(account_id.to_owned()).exec(&txn).await?;
        self.emit_in(&txn, WebhookEvent::account(WebhookEventType::AccountUnlinked, &owned), now).await?;
        let ended = end_other_sessions_in(self, &txn, user_id, other, now).await?;
        self.enqueue_in(&txn, notice(&owned.provider)?, now).await?;
        self.commit_session_events(txn).await?;
        Ok(UnlinkOutcome::Unlinked(ended))
    }
}
