//! Service credentials: `keyward admin keys create|list|revoke` (functions over the `Store`, run
//! by the CLI against the configured database, like `keys rotate`) and the check of a presented
//! key (`Services::authenticate_api_key`).

use chrono::{DateTime, Utc};

use super::{RequestMeta, Services, admin::AdminCaller};
use crate::{
    domain::{ApiKeySecret, ApiScope},
    error::{Error, Result},
    store::{ApiKeyRecord, NewApiKey, Store, new_id},
};

/// Longest key name.
const MAX_KEY_NAME_CHARS: usize = 100;

/// A new key: its row and the key in clear, which exists only here (print it once).
#[derive(Debug)]
pub struct CreatedApiKey {
    pub record: ApiKeyRecord,
    pub secret: ApiKeySecret,
}

/// Scope names of a stored key, as parsed scopes (an unknown name — from a newer version — is
/// skipped: it grants nothing here).
pub fn key_scopes(record: &ApiKeyRecord) -> Vec<ApiScope> {
    record.scopes.split_whitespace().filter_map(ApiScope::parse).collect()
}

/// Whether a stored key may be used at `now`: not revoked, not expired.
pub(super) fn key_is_live(record: &ApiKeyRecord, now: DateTime<Utc>) -> bool {
    record.revoked_at.is_none() && record.expires_at.is_none_or(|expires| now < expires)
}

/// Checks a key name: 1–100 printable characters once trimmed.
pub fn check_key_name(name: &str) -> std::result::Result<&str, String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_KEY_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(format!("a key name is 1-{MAX_KEY_NAME_CHARS} printable characters"));
    }
    Ok(name)
}

/// Creates a key named `name` (checked with `check_key_name`) with `scopes` (at least one),
/// expiring at `expires_at` when given.
pub async fn create_api_key(
    store: &Store,
    name: &str,
    scopes: &[ApiScope],
    now: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
) -> Result<CreatedApiKey> {
    let mut unique: Vec<ApiScope> = Vec::new();
    for scope in scopes {
        if !unique.contains(scope) {
            unique.push(*scope);
        }
    }
    let secret = ApiKeySecret::generate()?;
    let record = store
        .insert_api_key(NewApiKey {
            id: new_id(),
            name: name.to_owned(),
            key_hash: secret.hash().as_str().to_owned(),
            scopes: unique.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" "),
            created_at: now,
            expires_at,
        })
        .await?;
    Ok(CreatedApiKey { record, secret })
}

/// Every key, oldest first.
pub async fn list_api_keys(store: &Store) -> Result<Vec<ApiKeyRecord>> {
    store.list_api_keys().await
}

/// Revokes key `id`; false when there is no such key or it was already revoked. Takes effect on
/// the next call that presents it, on every replica (keys are looked up on every call, never
/// cached).
pub async fn revoke_api_key(store: &Store, id: &str, now: DateTime<Utc>) -> Result<bool> {
    store.revoke_api_key(id.trim(), now).await
}

impl Services {
    /// The admin caller behind `authorization: Bearer kw_…`. A missing token is
    /// `ApiKeyRequired`; anything else that is not a live key — malformed, a user's session or
    /// access token, unknown, revoked, expired — is `ApiKeyInvalid`, one answer for all.
    pub async fn authenticate_api_key(&self, presented: Option<&str>, meta: RequestMeta) -> Result<AdminCaller> {
        let presented = presented.ok_or(Error::ApiKeyRequired)?;
        let secret = ApiKeySecret::parse(presented).ok_or(Error::ApiKeyInvalid)?;
        let record =
            self.inner.store.find_api_key_by_hash(secret.hash().as_str()).await?.ok_or(Error::ApiKeyInvalid)?;
        if !key_is_live(&record, self.inner.clock.now()) {
            return Err(Error::ApiKeyInvalid);
        }
        Ok(AdminCaller::new(record.id.clone(), key_scopes(&record), meta))
    }
}
