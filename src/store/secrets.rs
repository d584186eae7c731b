//! Secrets at rest: the store seals what it writes to secret columns under the master key and
//! opens what it reads (`crypto::MasterKey`, AAD = `table.column` + row id). Also: server
//! secrets by purpose (`secrets` table), sealing rows left in clear by older versions, which
//! master keys the database uses, and re-sealing everything under a new master key.

use std::{collections::BTreeSet, sync::Arc};

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::{
    Store,
    entities::{accounts, outbox, secrets, signing_keys},
    is_unique_violation,
};
use crate::{
    crypto::{Envelope, MasterKey, SealedAt},
    error::{Error, Result},
};

/// Secret columns, named as in the AAD.
pub(super) const SIGNING_KEY_PRIVATE: &str = "signing_keys.private_key";
pub(super) const ACCOUNT_ACCESS_TOKEN: &str = "accounts.access_token";
pub(super) const ACCOUNT_REFRESH_TOKEN: &str = "accounts.refresh_token";
pub(super) const ACCOUNT_ID_TOKEN: &str = "accounts.id_token";
const SECRET_VALUE: &str = "secrets.value";
pub(super) const OUTBOX_PAYLOAD: &str = "outbox.payload";

/// Accounts handled per transaction when sealing or re-sealing the whole table.
const BATCH: u64 = 500;

/// What `seal_plaintext_secrets` and `rewrap_secrets` changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SecretsReport {
    pub signing_keys: u64,
    pub accounts: u64,
    pub secrets: u64,
    /// Queued messages (mail carrying links).
    pub outbox: u64,
}

impl SecretsReport {
    pub fn total(&self) -> u64 {
        self.signing_keys + self.accounts + self.secrets + self.outbox
    }
}

impl Store {
    /// The store, sealing and opening secrets with `master_key`.
    pub fn with_master_key(mut self, master_key: Arc<MasterKey>) -> Self {
        self.master_key = Some(master_key);
        self
    }

    fn key(&self) -> Result<&MasterKey> {
        self.master_key.as_deref().ok_or_else(|| Error::internal("the store has no master key"))
    }

    pub(super) fn seal(&self, plaintext: &str, column: &'static str, row: &str) -> Result<String> {
        self.key()?.seal(plaintext.as_bytes(), SealedAt { column, row })
    }

    pub(super) fn open(&self, sealed: &str, column: &'static str, row: &str) -> Result<String> {
        let plaintext = self.key()?.open(sealed, SealedAt { column, row })?;
        String::from_utf8(plaintext).map_err(|_| Error::internal(format_args!("{column} of {row} is not text")))
    }

    pub(super) fn seal_optional(
        &self,
        value: Option<String>,
        column: &'static str,
        row: &str,
    ) -> Result<Option<String>> {
        value.map(|value| self.seal(&value, column, row)).transpose()
    }

    pub(super) fn open_optional(
        &self,
        value: Option<String>,
        column: &'static str,
        row: &str,
    ) -> Result<Option<String>> {
        value.map(|value| self.open(&value, column, row)).transpose()
    }

    /// The server secret `id`, created with `generate` (and sealed) the first time. Two
    /// replicas starting at once agree on one value: the loser of the insert reads the winner's.
    pub async fn server_secret(
        &self,
        id: &str,
        now: DateTime<Utc>,
        generate: impl FnOnce() -> Result<Vec<u8>>,
    ) -> Result<Vec<u8>> {
        let key = self.key()?;
        let at = SealedAt { column: SECRET_VALUE, row: id };
        if let Some(row) = secrets::Entity::find_by_id(id.to_owned()).one(&self.db).await? {
            return key.open(&row.value, at);
        }
        let value = generate()?;
        let row =
            secrets::ActiveModel { id: Set(id.to_owned()), value: Set(key.seal(&value, at)?), created_at: Set(now) };
        match row.insert(self.writer()).await {
            Ok(_) => Ok(value),
            Err(err) if is_unique_violation(&err) => {
                let row = secrets::Entity::find_by_id(id.to_owned()).one(&self.db).await?;
                key.open(&row.ok_or_else(|| Error::internal("secret vanished"))?.value, at)
            }
            Err(err) => Err(err.into()),
        }
    }

    /// Sets the server secret `id` to `value` (sealed), replacing what was there.
    pub async fn put_server_secret(&self, id: &str, value: &[u8], now: DateTime<Utc>) -> Result<()> {
        let sealed = self.key()?.seal(value, SealedAt { column: SECRET_VALUE, row: id })?;
        let txn = self.begin_write().await?;
        secrets::Entity::delete_by_id(id.to_owned()).exec(&txn).await?;
        secrets::ActiveModel { id: Set(id.to_owned()), value: Set(sealed), created_at: Set(now) }.insert(&txn).await?;
        txn.commit().await?;
        Ok(())
    }

    /// The server secret `id`, if there is one (never creates it).
    pub async fn find_server_secret(&self, id: &str) -> Result<Option<Vec<u8>>> {
        let Some(row) = secrets::Entity::find_by_id(id.to_owned()).one(&self.db).await? else { return Ok(None) };
        Ok(Some(self.key()?.open(&row.value, SealedAt { column: SECRET_VALUE, row: id })?))
    }

    /// The ids of the master keys the database's secrets are sealed under (every signing key and
    /// server secret, and one linked account): empty for a new database. Start-up compares it
    /// with the configured key, so a wrong key stops the process instead of failing requests.
    pub async fn master_key_ids(&self) -> Result<BTreeSet<String>> {
        let mut values: Vec<String> =
            signing_keys::Entity::find().all(&self.db).await?.into_iter().map(|k| k.private_key).collect();
        values.extend(secrets::Entity::find().all(&self.db).await?.into_iter().map(|s| s.value));
        let sealed_account = accounts::Entity::find()
            .filter(sealed_account_tokens())
            .order_by_asc(accounts::Column::Id)
            .one(&self.db)
            .await?;
        values.extend(sealed_account.into_iter().flat_map(|a| [a.access_token, a.refresh_token, a.id_token]).flatten());
        Ok(values.iter().filter_map(|value| Envelope::parse(value)).map(|e| e.key_id.to_owned()).collect())
    }

    /// Seals every secret column still in clear (rows written before secrets were sealed).
    /// Idempotent; runs at every start.
    pub async fn seal_plaintext_secrets(&self) -> Result<SecretsReport> {
        // A value under another key is an error here: start-up already refused a wrong key.
        self.reseal(|_| None).await
    }

    /// Re-seals every secret under `to`, opening each with whichever of `from` (or `to`) sealed
    /// it; values in clear are sealed too. Idempotent: run it again after replicas that still
    /// had the old key wrote a few more. A value sealed under a key not given is an error naming
    /// that key, and that batch is left as it was.
    pub async fn rewrap_secrets(&self, from: &[Arc<MasterKey>], to: Arc<MasterKey>) -> Result<SecretsReport> {
        let target = self.clone().with_master_key(to);
        let keys: Vec<Arc<MasterKey>> = from.to_vec();
        target.reseal(move |key_id| keys.iter().find(|key| key.id() == key_id).cloned()).await
    }

    /// Walks every secret column: values sealed under this store's key stay; values in clear are
    /// sealed; values under another key are opened with `old_key(id)` and sealed under this one.
    async fn reseal(&self, old_key: impl Fn(&str) -> Option<Arc<MasterKey>>) -> Result<SecretsReport> {
        let key = self.key()?;
        // One value: Some(new sealed value) when it must change.
        let reseal = |value: &str, column: &'static str, row: &str| -> Result<Option<String>> {
            let at = SealedAt { column, row };
            match Envelope::parse(value) {
                Some(envelope) if envelope.key_id == key.id() => Ok(None),
                Some(envelope) => {
                    let old = old_key(envelope.key_id).ok_or_else(|| {
                        Error::Startup(format!(
                            "{column} of {row} is sealed under master key {}, which was not given",
                            envelope.key_id
                        ))
                    })?;
                    Ok(Some(key.seal(&old.open(value, at)?, at)?))
                }
                None => Ok(Some(key.seal(value.as_bytes(), at)?)),
            }
        };
        let mut report = SecretsReport::default();

        let txn = self.begin_write().await?;
        for row in signing_keys::Entity::find().all(&txn).await? {
            if let Some(sealed) = reseal(&row.private_key, SIGNING_KEY_PRIVATE, &row.id)? {
                signing_keys::ActiveModel { id: Set(row.id), private_key: Set(sealed), ..Default::default() }
                    .update(&txn)
                    .await?;
                report.signing_keys += 1;
            }
        }
        for row in secrets::Entity::find().all(&txn).await? {
            if let Some(sealed) = reseal(&row.value, SECRET_VALUE, &row.id)? {
                secrets::ActiveModel { id: Set(row.id), value: Set(sealed), ..Default::default() }.update(&txn).await?;
                report.secrets += 1;
            }
        }
        // Queued messages are few (delivered within seconds, or dead and kept): one pass.
        for row in outbox::Entity::find().all(&txn).await? {
            if let Some(sealed) = reseal(&row.payload, OUTBOX_PAYLOAD, &row.id)? {
                outbox::ActiveModel { id: Set(row.id), payload: Set(sealed), ..Default::default() }
                    .update(&txn)
                    .await?;
                report.outbox += 1;
            }
        }
        txn.commit().await?;

        let mut after: Option<String> = None;
        loop {
            let txn = self.begin_write().await?;
            let mut page = accounts::Entity::find().order_by_asc(accounts::Column::Id).limit(BATCH);
            if let Some(after) = &after {
                page = page.filter(accounts::Column::Id.gt(after.clone()));
            }
            let rows = page.all(&txn).await?;
            let Some(last) = rows.last().map(|row| row.id.clone()) else { break };
            for row in rows {
                let column = |value: &Option<String>, name| {
                    value.as_deref().map(|value| reseal(value, name, &row.id)).transpose().map(Option::flatten)
                };
                let access = column(&row.access_token, ACCOUNT_ACCESS_TOKEN)?;
                let refresh = column(&row.refresh_token, ACCOUNT_REFRESH_TOKEN)?;
                let id_token = column(&row.id_token, ACCOUNT_ID_TOKEN)?;
                if access.is_none() && refresh.is_none() && id_token.is_none() {
                    continue;
                }
                let set = |value: Option<String>| value.map_or(sea_orm::ActiveValue::NotSet, |v| Set(Some(v)));
                accounts::ActiveModel {
                    id: Set(row.id.clone()),
                    access_token: set(access),
                    refresh_token: set(refresh),
                    id_token: set(id_token),
                    ..Default::default()
                }
                .update(&txn)
                .await?;
                report.accounts += 1;
            }
            txn.commit().await?;
            after = Some(last);
        }
        Ok(report)
    }
}

/// Accounts with at least one sealed token.
fn sealed_account_tokens() -> Condition {
    Condition::any()
        .add(accounts::Column::AccessToken.like("kw1:%"))
        .add(accounts::Column::RefreshToken.like("kw1:%"))
        .add(accounts::Column::IdToken.like("kw1:%"))
}
