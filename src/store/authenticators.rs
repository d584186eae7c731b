use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    TransactionTrait,
};

use super::{
    NewSession, NewUser, OtherSessions, SessionWithUser, Store, entities::authenticators, is_unique_violation,
    sessions::end_other_sessions_in,
};
use crate::error::{Error, Result};

/// A passkey row as the service layer sees it.
pub type AuthenticatorRecord = authenticators::Model;

/// A passkey about to be stored (Auth.js columns plus Keyward's).
#[derive(Debug, Clone)]
pub struct NewAuthenticator {
    pub id: String,
    pub credential_id: String,
    pub user_id: String,
    pub credential_public_key: String,
    pub counter: i64,
    pub credential_device_type: &'static str,
    pub credential_backed_up: bool,
    pub backup_eligible: bool,
    pub transports: Option<String>,
    pub aaguid: Option<String>,
    pub passkey: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    /// Auth.js's `providerAccountId` (the webauthn account) of an imported passkey.
    pub provider_account_id: Option<String>,
    /// `Some("authjs")` for a passkey registered by Auth.js and imported; None for Keyward's own.
    pub imported_from: Option<&'static str>,
}

impl NewAuthenticator {
    pub(super) fn into_active_model(self) -> authenticators::ActiveModel {
        authenticators::ActiveModel {
            id: Set(self.id),
            credential_id: Set(self.credential_id),
            user_id: Set(self.user_id),
            provider_account_id: Set(self.provider_account_id),
            credential_public_key: Set(self.credential_public_key),
            counter: Set(self.counter),
            credential_device_type: Set(self.credential_device_type.to_owned()),
            credential_backed_up: Set(self.credential_backed_up),
            backup_eligible: Set(self.backup_eligible),
            transports: Set(self.transports),
            aaguid: Set(self.aaguid),
            passkey: Set(self.passkey),
            name: Set(self.name),
            created_at: Set(self.created_at),
            last_used_at: Set(None),
            imported_from: Set(self.imported_from.map(str::to_owned)),
        }
    }
}

/// What a successful sign-in changes on a passkey.
#[derive(Debug, Clone)]
pub struct AuthenticatorUse {
    pub counter: i64,
    pub credential_backed_up: bool,
    pub backup_eligible: bool,
    pub credential_device_type: &'static str,
    pub passkey: String,
    pub used_at: DateTime<Utc>,
}

/// A credential id already registered (to anyone) is `PasskeyAlreadyRegistered`: webauthn-rs does
/// not check this, the UNIQUE constraint on credential_id does.
fn map_insert_error(err: sea_orm::DbErr) -> Error {
    if is_unique_violation(&err) { Error::PasskeyAlreadyRegistered } else { err.into() }
}

impl Store {
    /// Stores a passkey for an existing user and applies `other` to their other sessions, in one
    /// transaction. Returns the passkey and how many sessions ended.
    pub async fn insert_authenticator(
        &self,
        authenticator: NewAuthenticator,
        other: OtherSessions<'_>,
    ) -> Result<(AuthenticatorRecord, u64)> {
        let txn = self.db.begin().await?;
        let user_id = authenticator.user_id.clone();
        let stored = authenticator.into_active_model().insert(&txn).await.map_err(map_insert_error)?;
        let ended = end_other_sessions_in(&txn, &user_id, other).await?;
        txn.commit().await?;
        Ok((stored, ended))
    }

    /// Creates a passwordless user, their passkey and their first session in one transaction.
    pub async fn create_user_with_passkey(
        &self,
        user: NewUser,
        authenticator: NewAuthenticator,
        session: NewSession,
    ) -> Result<(SessionWithUser, AuthenticatorRecord)> {
        let txn = self.db.begin().await?;
        let user = match user.into_active_model().insert(&txn).await {
            Ok(user) => user,
            Err(err) if is_unique_violation(&err) => return Err(Error::EmailTaken),
            Err(err) => return Err(err.into()),
        };
        let authenticator = authenticator.into_active_model().insert(&txn).await.map_err(map_insert_error)?;
        let session = super::sessions::insert_session_in(&txn, session).await?;
        txn.commit().await?;
        Ok((SessionWithUser { session, user }, authenticator))
    }

    /// Every passkey of a user (for excludeCredentials / allowCredentials).
    pub async fn user_authenticators(&self, user_id: &str) -> Result<Vec<AuthenticatorRecord>> {
        Ok(authenticators::Entity::find()
            .filter(authenticators::Column::UserId.eq(user_id))
            .order_by_desc(authenticators::Column::Id)
            .all(&self.db)
            .await?)
    }

    /// One page of a user's passkeys, newest first, after `after` (a passkey id).
    pub async fn list_user_authenticators(
        &self,
        user_id: &str,
        after: Option<&str>,
        limit: u64,
    ) -> Result<Vec<AuthenticatorRecord>> {
        let mut query = authenticators::Entity::find().filter(authenticators::Column::UserId.eq(user_id));
        if let Some(after) = after {
            query = query.filter(authenticators::Column::Id.lt(after));
        }
        Ok(query.order_by_desc(authenticators::Column::Id).limit(limit).all(&self.db).await?)
    }

    /// The passkey with this base64url credential id, whoever owns it.
    pub async fn find_authenticator_by_credential_id(
        &self,
        credential_id: &str,
    ) -> Result<Option<AuthenticatorRecord>> {
        Ok(authenticators::Entity::find()
            .filter(authenticators::Column::CredentialId.eq(credential_id))
            .one(&self.db)
            .await?)
    }

    /// The passkey `id` if it belongs to `user_id`.
    pub async fn find_user_authenticator(&self, user_id: &str, id: &str) -> Result<Option<AuthenticatorRecord>> {
        Ok(authenticators::Entity::find_by_id(id.to_owned())
            .filter(authenticators::Column::UserId.eq(user_id))
            .one(&self.db)
            .await?)
    }

    /// Records a sign-in with passkey `id`: counter, backup state, serialized passkey, last use.
    pub async fn record_authenticator_use(&self, id: &str, update: AuthenticatorUse) -> Result<()> {
        authenticators::ActiveModel {
            id: Set(id.to_owned()),
            counter: Set(update.counter),
            credential_backed_up: Set(update.credential_backed_up),
            backup_eligible: Set(update.backup_eligible),
            credential_device_type: Set(update.credential_device_type.to_owned()),
            passkey: Set(update.passkey),
            last_used_at: Set(Some(update.used_at)),
            ..Default::default()
        }
        .update(&self.db)
        .await?;
        Ok(())
    }

    /// Renames passkey `id` of `user_id`; None when there is no such passkey of theirs.
    pub async fn rename_authenticator(
        &self,
        user_id: &str,
        id: &str,
        name: String,
    ) -> Result<Option<AuthenticatorRecord>> {
        let Some(existing) = self.find_user_authenticator(user_id, id).await? else { return Ok(None) };
        let mut model: authenticators::ActiveModel = existing.into();
        model.name = Set(name);
        Ok(Some(model.update(&self.db).await?))
    }

    /// Deletes passkey `id` of `user_id` unless it is their last way to sign in, and applies
    /// `other` to their other sessions: the user lock (`lock_user_in`), the count, the delete and
    /// the session ends are one transaction. Ok(None): no such passkey of theirs; Ok(Some(n)):
    /// deleted, n sessions ended.
    pub async fn delete_authenticator_unless_last_method(
        &self,
        user_id: &str,
        id: &str,
        now: DateTime<Utc>,
        other: OtherSessions<'_>,
    ) -> Result<Option<u64>> {
        let txn = self.db.begin().await?;
        if !Self::lock_user_in(&txn, user_id, now).await? {
            return Ok(None);
        }
        let methods = Self::sign_in_methods_in(&txn, user_id).await?;
        let exists = authenticators::Entity::find_by_id(id.to_owned())
            .filter(authenticators::Column::UserId.eq(user_id))
            .one(&txn)
            .await?
            .is_some();
        if !exists {
            return Ok(None);
        }
        if methods.total() <= 1 {
            return Err(Error::LastSignInMethod);
        }
        authenticators::Entity::delete_by_id(id.to_owned()).exec(&txn).await?;
        let ended = end_other_sessions_in(&txn, user_id, other).await?;
        txn.commit().await?;
        Ok(Some(ended))
    }
}
