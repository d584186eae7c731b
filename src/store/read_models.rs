//! Rows → domain read models: the one place that knows how the columns encode what the rest of
//! Keyward reads (`credential_device_type` strings, comma-joined `transports`, a password hash
//! that only says "has a password", a session row whose `session_token` column is a hash).

use super::{AccountRecord, AuditRecord, AuthenticatorRecord, SessionRecord, UserRecord};
use crate::domain::{AuditEntry, DeviceType, LinkedAccount, Passkey, Session, User};

/// `credential_device_type` as SimpleWebAuthn and Auth.js write it.
const MULTI_DEVICE: &str = "multiDevice";
const SINGLE_DEVICE: &str = "singleDevice";

/// The `credential_device_type` column for a passkey: backup eligible means synced
/// ("multiDevice").
pub fn device_type_column(backup_eligible: bool) -> &'static str {
    if backup_eligible { MULTI_DEVICE } else { SINGLE_DEVICE }
}

impl AuthenticatorRecord {
    /// The `transports` column as a list (it is stored comma-joined).
    pub fn transport_list(&self) -> Vec<String> {
        self.transports.as_deref().map(|t| t.split(',').map(str::to_owned).collect()).unwrap_or_default()
    }
}

impl From<&UserRecord> for User {
    fn from(user: &UserRecord) -> Self {
        let UserRecord {
            id,
            name,
            email,
            email_verified,
            image,
            password_hash,
            created_at,
            updated_at: _,
            disabled_at,
            roles: _,
        } = user;
        Self {
            id: id.clone(),
            email: email.clone(),
            name: name.clone(),
            email_verified_at: *email_verified,
            image: image.clone(),
            has_password: password_hash.is_some(),
            created_at: *created_at,
            roles: user.role_names(),
            disabled_at: *disabled_at,
        }
    }
}

impl From<&SessionRecord> for Session {
    fn from(session: &SessionRecord) -> Self {
        let SessionRecord {
            id,
            session_token: _,
            user_id,
            expires,
            idle_expires,
            created_at,
            last_seen_at,
            user_agent,
            authenticated_at,
        } = session;
        Self {
            id: id.clone(),
            user_id: user_id.clone(),
            created_at: *created_at,
            last_seen_at: *last_seen_at,
            idle_expires_at: *idle_expires,
            expires_at: *expires,
            user_agent: user_agent.clone(),
            authenticated_at: *authenticated_at,
        }
    }
}

impl From<&AuthenticatorRecord> for Passkey {
    fn from(record: &AuthenticatorRecord) -> Self {
        let AuthenticatorRecord {
            id,
            credential_id,
            user_id: _,
            provider_account_id: _,
            credential_public_key: _,
            counter: _,
            credential_device_type,
            credential_backed_up,
            backup_eligible,
            transports: _,
            aaguid,
            passkey: _,
            name,
            created_at,
            last_used_at,
            imported_from: _,
        } = record;
        Self {
            id: id.clone(),
            name: name.clone(),
            credential_id: credential_id.clone(),
            created_at: *created_at,
            last_used_at: *last_used_at,
            backup_eligible: *backup_eligible,
            backed_up: *credential_backed_up,
            device_type: match credential_device_type.as_str() {
                MULTI_DEVICE => DeviceType::MultiDevice,
                SINGLE_DEVICE => DeviceType::SingleDevice,
                _ => DeviceType::Unknown,
            },
            transports: record.transport_list(),
            aaguid: aaguid.clone(),
        }
    }
}

impl From<&AccountRecord> for LinkedAccount {
    fn from(account: &AccountRecord) -> Self {
        let AccountRecord {
            id,
            user_id: _,
            kind: _,
            provider,
            provider_account_id,
            refresh_token: _,
            access_token: _,
            expires_at: _,
            token_type: _,
            scope: _,
            id_token: _,
            session_state: _,
            created_at,
        } = account;
        Self {
            id: id.clone(),
            provider: provider.clone(),
            provider_account_id: provider_account_id.clone(),
            created_at: *created_at,
        }
    }
}

impl From<&AuditRecord> for AuditEntry {
    fn from(event: &AuditRecord) -> Self {
        let AuditRecord { id, user_id: _, subject_id, kind, detail, created_at } = event;
        Self {
            id: id.clone(),
            subject_id: subject_id.clone(),
            kind: kind.clone(),
            detail: detail.clone(),
            created_at: *created_at,
        }
    }
}
