//! The `authenticators` table: storing, listing, using, renaming and deleting passkeys.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::{
    NewOutboxMessage, NewSession, NewUser, OtherSessions, SessionWithUser, Store, WebhookEvent,
    entities::authenticators, is_unique_violation, sessions::end_other_sessions_in,
};
use crate::{
    domain::WebhookEventType,
    error::{Error, Result},
};

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
    /// WebAuthn transports as the authenticator reported them (stored comma-joined; none: NULL).
    pub transports: Vec<String>,
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
            transports: Set((!self.transports.is_empty()).then(|| self.transports.join(","))),
            aaguid: Set(self.aaguid),
            passkey: Set(self.passkey),
            name: Set(self.name),
            created_at: Set(self.created_at),
            last_used_at: Set(None),
            imported_from: Set(self.imported_from.map(str::to_owned)),
        }
    }
}

/// What a successful sign-in changes on a passkey (the counter is passed on its own).
#[derive(Debug, Clone)]
pub struct AuthenticatorUse {
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
    /// Stores a passkey for an existing user who has fewer than `max_per_user`, and applies
    /// `other` to their other sessions: the user lock (`lock_user_in`), the count, the insert and
    /// the session ends are one transaction, so two concurrent registrations cannot pass the
    /// limit. `notice` (the mail to the account) commits with it. Returns the passkey and how
    /// many sessions ended.
    pub async fn insert_authenticator_within(
        &self,
        authenticator: NewAuthenticator,
        max_per_user: u64,
        other: OtherSessions<'_>,
        notice: NewOutboxMessage,
    ) -> Result<(AuthenticatorRecord, u64)> {
        use sea_orm::PaginatorTrait;
        let txn = self.begin_write().await?;
        if !Self::lock_user_in(&txn, &authenticator.user_id, authenticator.created_at).await? {
            return Err(Error::SessionInvalid); // the user is gone
        }
        let existing = authenticators::Entity::find()
            .filter(authenticators::Column::UserId.eq(authenticator.user_id.as_str()))
            .count(&txn)
            .await?;
        if existing >= max_per_user {
            return Err(Error::TooManyPasskeys);
        }
        let user_id = authenticator.user_id.clone();
        let now = authenticator.created_at;
        let stored = authenticator.into_active_model().insert(&txn).await.map_err(map_insert_error)?;
        self.emit_in(&txn, WebhookEvent::passkey(WebhookEventType::PasskeyAdded, &stored), now).await?;
        let ended = end_other_sessions_in(self, &txn, &user_id, other, now).await?;
        self.enqueue_in(&txn, notice, now).await?;
        self.commit_session_events(txn).await?;
        Ok((stored, ended))
    }

    /// How many passkeys a user has.
    pub async fn count_user_authenticators(&self, user_id: &str) -> Result<u64> {
        use sea_orm::PaginatorTrait;
        Ok(authenticators::Entity::find().filter(authenticators::Column::UserId.eq(user_id)).count(&self.db).await?)
    }

    /// Creates a passwordless user, their passkey and their first session in one transaction.
    pub async fn create_user_with_passkey(
        &self,
        user: NewUser,
        authenticator: NewAuthenticator,
        session: NewSession,
    ) -> Result<(SessionWithUser, AuthenticatorRecord)> {
        let txn = self.begin_write().await?;
        let user = self.insert_user_in(&txn, user.into_active_model()).await?;
        let authenticator = authenticator.into_active_model().insert(&txn).await.map_err(map_insert_error)?;
        let now = user.created_at;
        self.emit_in(&txn, WebhookEvent::passkey(WebhookEventType::PasskeyAdded, &authenticator), now).await?;
        let session = super::sessions::insert_session_in(self, &txn, session).await?;
        txn.commit().await?;
        self.webhooks_committed();
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

    /// Every passkey of the user with this normalized email (none for an unknown email), in
    /// one query, so a known and an unknown email cost the same.
    pub async fn authenticators_of_email(&self, email: &str) -> Result<Vec<AuthenticatorRecord>> {
        use sea_orm::sea_query::Query;

        use super::entities::users;
        let user = Query::select()
            .column(users::Column::Id)
            .from(users::Entity)
            .and_where(users::Column::Email.eq(email))
            .to_owned();
        Ok(authenticators::Entity::find()
            .filter(authenticators::Column::UserId.in_subquery(user))
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

    /// Records a sign-in with passkey `id`: backup state, serialized passkey, last use, and —
    /// with `advance_counter_to` — the signature counter, only if the stored one is lower
    /// (`WHERE counter < new`): of two concurrent sign-ins presenting the same counter, exactly
    /// one advances it, so clone detection cannot be raced and the counter never goes back.
    /// False when the counter condition did not hold (nothing was written).
    pub async fn record_authenticator_use(
        &self,
        id: &str,
        update: AuthenticatorUse,
        advance_counter_to: Option<i64>,
    ) -> Result<bool> {
        record_authenticator_use_in(self.writer(), id, update, advance_counter_to).await
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
        Ok(Some(model.update(self.writer()).await?))
    }

    /// Deletes passkey `id` of `user_id` unless it is their last way to sign in, and applies
    /// `other` to their other sessions: the user lock (`lock_user_in`), the count, the delete and
    /// the session ends are one transaction. Ok(None): no such passkey of theirs; Ok(Some(n)):
    /// deleted, n sessions ended. `notice` makes the mail to the account from the passkey's name;
    /// it commits with the delete.
    pub async fn delete_authenticator_unless_last_method(
        &self,
        user_id: &str,
        id: &str,
        now: DateTime<Utc>,
        other: OtherSessions<'_>,
        notice: impl FnOnce(&str) -> Result<NewOutboxMessage>,
    ) -> Result<Option<u64>> {
        let txn = self.begin_write().await?;
        if !Self::lock_user_in(&txn, user_id, now).await? {
            return Ok(None);
        }
        let methods = Self::sign_in_methods_in(&txn, user_id).await?;
        let Some(passkey) = authenticators::Entity::find_by_id(id.to_owned())
            .filter(authenticators::Column::UserId.eq(user_id))
            .one(&txn)
            .await?
        else {
            return Ok(None);
        };
        if methods.total() <= 1 {
            return Err(Error::LastSignInMethod);
        }
        authenticators::Entity::delete_by_id(id.to_owned()).exec(&txn).await?;
        self.emit_in(&txn, WebhookEvent::passkey(WebhookEventType::PasskeyRemoved, &passkey), now).await?;
        let ended = end_other_sessions_in(self, &txn, user_id, other, now).await?;
        self.enqueue_in(&txn, notice(&passkey.name)?, now).await?;
        self.commit_session_events(txn).await?;
        Ok(Some(ended))
    }
}

/// `Store::record_authenticator_use` on `db` (a connection or an open transaction).
pub(super) async fn record_authenticator_use_in(
    db: &impl sea_orm::ConnectionTrait,
    id: &str,
    update: AuthenticatorUse,
    advance_counter_to: Option<i64>,
) -> Result<bool> {
    use sea_orm::sea_query::Expr;
    let mut query = authenticators::Entity::update_many()
        .col_expr(authenticators::Column::CredentialBackedUp, Expr::value(update.credential_backed_up))
        .col_expr(authenticators::Column::BackupEligible, Expr::value(update.backup_eligible))
        .col_expr(authenticators::Column::CredentialDeviceType, Expr::value(update.credential_device_type))
        .col_expr(authenticators::Column::Passkey, Expr::value(update.passkey))
        .col_expr(authenticators::Column::LastUsedAt, Expr::value(Some(update.used_at)))
        .filter(authenticators::Column::Id.eq(id));
    if let Some(counter) = advance_counter_to {
        query = query
            .col_expr(authenticators::Column::Counter, Expr::value(counter))
            .filter(authenticators::Column::Counter.lt(counter));
    }
    Ok(query.exec(db).await?.rows_affected == 1)
}
