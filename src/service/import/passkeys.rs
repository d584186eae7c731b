//! Passkeys: each Auth.js `Authenticator` becomes a Keyward passkey that signs in at once when
//! Keyward's `rp_id` is the Auth.js app's. Auth.js keeps the credential id and the COSE public
//! key as standard base64 (with padding); the webauthn-rs credential is built from the COSE key
//! (validated), with the counter, backup state and transports kept. The row is marked as
//! imported: its user handle is unknown (see `service::passkeys::user_handle_names_owner`).

use std::collections::HashMap;

use super::{Change, ImportTable, Phase, Planned, Run};
use crate::{
    crypto::{ForeignPasskey, passkey_from_cose},
    error::Result,
    store::{
        AuthenticatorRecord, AuthenticatorUpdate, NewAuthenticator,
        authjs::{SourceAuthenticator, SourceRow, SourceRows},
        new_id,
    },
};
use base64::{
    Engine,
    engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD},
};
use tokio_stream::Stream;

const TABLE: ImportTable = ImportTable::Passkeys;
const NAME: &str = "Passkey (imported)";

/// The longest passkey name kept (what Keyward allows a user to give).
const MAX_NAME_CHARS: usize = 100;

/// The source's name for the passkey when it is a usable one, else "Passkey (imported)".
fn passkey_name(name: Option<String>) -> String {
    name.and_then(|name| crate::domain::DisplayName::parse("name", &name).ok()?.into_inner())
        .filter(|name| name.chars().count() <= MAX_NAME_CHARS)
        .unwrap_or_else(|| NAME.to_owned())
}

/// Auth.js writes standard base64 with padding; other tools drop the padding or use base64url.
fn decode_base64(value: &str) -> Option<Vec<u8>> {
    let value = value.trim();
    STANDARD.decode(value).or_else(|_| STANDARD_NO_PAD.decode(value)).or_else(|_| URL_SAFE_NO_PAD.decode(value)).ok()
}

impl Run<'_> {
    /// `imported_from` names the source in the rows (`authjs`, `better-auth`).
    pub(super) async fn passkeys(
        &mut self,
        rows: Option<SourceRows<impl Stream<Item = SourceRow<SourceAuthenticator>>>>,
        imported_from: &'static str,
    ) -> Result<()> {
        let Some(rows) = rows else { return Ok(()) };
        self.drive(&mut Passkeys { imported_from }, rows).await
    }
}

pub(super) struct Passkeys {
    pub(super) imported_from: &'static str,
}

impl Phase for Passkeys {
    const TABLE: ImportTable = TABLE;
    type Row = SourceAuthenticator;
    type Mapped = (String, NewAuthenticator);

    fn map(&mut self, run: &mut Run<'_>, row: SourceAuthenticator) -> Option<Self::Mapped> {
        run.map_passkey(row, self.imported_from)
    }

    async fn write(&mut self, run: &mut Run<'_>, batch: Vec<Self::Mapped>) -> Result<()> {
        run.passkey_batch(batch).await
    }
}

impl Run<'_> {
    pub(super) fn map_passkey(
        &mut self,
        source: SourceAuthenticator,
        imported_from: &'static str,
    ) -> Option<(String, NewAuthenticator)> {
        let SourceAuthenticator {
            credential_id,
            user_id,
            provider_account_id,
            credential_public_key,
            counter,
            credential_device_type,
            credential_backed_up,
            transports,
            name,
            aaguid,
        } = source;
        let source_id = credential_id.clone();
        if !self.present_users.contains(&user_id) {
            self.user_missing(TABLE, Some(source_id), &user_id);
            return None;
        }
        let Some(raw_id) = decode_base64(&credential_id) else {
            self.report.failed(TABLE, Some(source_id), "credentialID is not base64");
            return None;
        };
        let Some(cose) = decode_base64(&credential_public_key) else {
            self.report.failed(TABLE, Some(source_id), "credentialPublicKey is not base64");
            return None;
        };
        let Ok(counter) = u32::try_from(counter) else {
            self.report.failed(TABLE, Some(source_id), "counter is outside 0..2^32");
            return None;
        };
        // SimpleWebAuthn names a backup-eligible credential "multiDevice"; a backed-up one is
        // eligible whatever the column says.
        let backup_eligible = match credential_device_type.as_deref() {
            Some("multiDevice") => true,
            Some("singleDevice") => credential_backed_up,
            _ => credential_backed_up,
        };
        let transports: Vec<String> = transports
            .as_deref()
            .map(|list| list.split(',').map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()).collect())
            .unwrap_or_default();
        let foreign = ForeignPasskey {
            credential_id: &raw_id,
            cose_public_key: &cose,
            counter,
            backup_eligible,
            backed_up: credential_backed_up,
            transports: &transports,
        };
        let passkey = match passkey_from_cose(&foreign) {
            Ok(passkey) => passkey,
            Err(reason) => {
                self.report.failed(TABLE, Some(source_id), reason);
                return None;
            }
        };
        let Ok(passkey_json) = serde_json::to_string(&passkey) else {
            self.report.failed(TABLE, Some(source_id), "the passkey could not be serialized");
            return None;
        };
        Some((
            source_id,
            NewAuthenticator {
                id: new_id(),
                credential_id: URL_SAFE_NO_PAD.encode(&raw_id),
                user_id,
                credential_public_key: URL_SAFE_NO_PAD.encode(&cose),
                counter: i64::from(counter),
                credential_device_type: crate::store::device_type_column(backup_eligible),
                credential_backed_up,
                backup_eligible,
                transports,
                // Kept only when it is one (a UUID), in Keyward's hyphenated form.
                aaguid: aaguid
                    .and_then(|aaguid| uuid::Uuid::parse_str(aaguid.trim()).ok())
                    .map(|u| u.hyphenated().to_string()),
                passkey: passkey_json,
                name: passkey_name(name),
                created_at: self.now,
                provider_account_id,
                imported_from: Some(imported_from),
            },
        ))
    }

    pub(super) async fn passkey_batch(&mut self, batch: Vec<(String, NewAuthenticator)>) -> Result<()> {
        let existing = match self.store() {
            Some(store) => {
                let ids = batch.iter().map(|(_, passkey)| passkey.credential_id.clone()).collect();
                store.authenticators_with_credential_ids(ids).await?
            }
            None => Vec::new(),
        };
        let existing: HashMap<String, AuthenticatorRecord> =
            existing.into_iter().map(|record| (record.credential_id.clone(), record)).collect();
        let mut planned = Vec::new();
        for (source_id, passkey) in batch {
            match existing.get(&passkey.credential_id) {
                Some(stored) if stored.user_id != passkey.user_id => {
                    self.report.failed(TABLE, Some(source_id), "this credential is registered to another Keyward user");
                }
                // The counter only moves forward (a lower one would let a clone pass).
                Some(stored)
                    if passkey.counter > stored.counter
                        || passkey.credential_backed_up != stored.credential_backed_up =>
                {
                    planned.push(Planned {
                        source_id: Some(source_id),
                        change: Change::UpdatePasskey(AuthenticatorUpdate {
                            id: stored.id.clone(),
                            counter: passkey.counter.max(stored.counter),
                            credential_backed_up: passkey.credential_backed_up,
                        }),
                    });
                }
                Some(_) => self.report.count_mut(TABLE).skipped += 1,
                None => planned.push(Planned { source_id: Some(source_id), change: Change::NewPasskey(passkey) }),
            }
        }
        self.commit(TABLE, planned).await?;
        Ok(())
    }
}
