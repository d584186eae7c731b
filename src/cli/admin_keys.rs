//! `keyward admin keys create|list|revoke`: service credentials for AdminService, against the
//! configured database (like `keys rotate`). `create` prints the key once; only its SHA-256 is
//! stored.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::{
    domain::ApiScope,
    service::{check_key_name, create_api_key, key_scopes, list_api_keys, revoke_api_key},
    store::{ApiKeyRecord, Store},
};

/// What `keyward admin keys create` prints: the key alone on stdout (so
/// `KEY=$(keyward admin keys create …)` captures exactly it), and a note for the operator on
/// stderr.
#[derive(Debug)]
pub struct CreatedKey {
    pub key: String,
    pub note: String,
}

/// Creates a key and returns what to print: the key (once) and a note naming its id.
pub async fn create(
    store: &Store,
    name: &str,
    scopes: &[ApiScope],
    expires_in: Option<Duration>,
    now: DateTime<Utc>,
) -> anyhow::Result<CreatedKey> {
    let name = check_key_name(name).map_err(|err| anyhow::anyhow!("--name: {err}"))?;
    if scopes.is_empty() {
        anyhow::bail!("give at least one --scope ({})", all_scopes());
    }
    let expires_at = expires_in
        .map(|lifetime| chrono::Duration::from_std(lifetime).map(|lifetime| now + lifetime))
        .transpose()
        .map_err(|err| anyhow::anyhow!("--expires-in: {err}"))?;
    let created = create_api_key(store, name, scopes, now, expires_at).await?;
    let expiry = expires_at.map_or_else(|| "never expires".to_owned(), |at| format!("expires {}", at.to_rfc3339()));
    let note = format!(
        "key {} ({name}; {}; {expiry}). This is the only time the key is shown: store it now.",
        created.record.id,
        created.record.scopes.replace(' ', ", ")
    );
    Ok(CreatedKey { key: created.secret.expose().to_owned(), note })
}

/// One line per key: id, state, scopes, name.
pub async fn list(store: &Store, now: DateTime<Utc>) -> anyhow::Result<String> {
    let keys = list_api_keys(store).await?;
    if keys.is_empty() {
        return Ok("no API keys".to_owned());
    }
    Ok(keys.iter().map(|key| describe(key, now)).collect::<Vec<_>>().join("\n"))
}

fn describe(key: &ApiKeyRecord, now: DateTime<Utc>) -> String {
    let state = match (key.revoked_at, key.expires_at) {
        (Some(at), _) => format!("revoked {}", at.to_rfc3339()),
        (None, Some(at)) if at <= now => format!("expired {}", at.to_rfc3339()),
        (None, Some(at)) => format!("expires {}", at.to_rfc3339()),
        (None, None) => "no expiry".to_owned(),
    };
    let scopes: Vec<&str> = key_scopes(key).into_iter().map(ApiScope::as_str).collect();
    format!("{}  {state}  {}  {}", key.id, scopes.join(","), key.name)
}

/// Revokes key `id`.
pub async fn revoke(store: &Store, id: &str, now: DateTime<Utc>) -> anyhow::Result<String> {
    if revoke_api_key(store, id, now).await? {
        Ok(format!("revoked key {}", id.trim()))
    } else {
        anyhow::bail!("no key {} that is not revoked already", id.trim())
    }
}

fn all_scopes() -> String {
    ApiScope::ALL.iter().map(|scope| scope.as_str()).collect::<Vec<_>>().join(", ")
}
