//! Domain → proto conversions. Each destructures its source completely, so a new field fails
//! the build here until someone decides whether it crosses the wire.

use chrono::{DateTime, Utc};

use crate::{
    crypto::IssuedAccessToken,
    domain::passkey_provider_name,
    pb,
    service::{ProviderInfo, ProviderKind, SignedIn},
    store::{AccountRecord, AuditRecord, AuthenticatorRecord, SessionRecord, UserRecord},
};

pub fn timestamp(at: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds: at.timestamp(), nanos: i32::try_from(at.timestamp_subsec_nanos()).unwrap_or(0) }
}

pub fn user(user: &UserRecord) -> pb::User {
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
    pb::User {
        id: id.clone(),
        email: email.clone(),
        name: name.clone().unwrap_or_default(),
        email_verify_time: email_verified.map(timestamp),
        image: image.clone().unwrap_or_default(),
        has_password: password_hash.is_some(),
        create_time: Some(timestamp(*created_at)),
        roles: user.role_names(),
        disable_time: disabled_at.map(timestamp),
    }
}

/// `current` marks the session the request was made with.
pub fn session(session: &SessionRecord, current_session_id: &str) -> pb::Session {
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
    pb::Session {
        id: id.clone(),
        user_id: user_id.clone(),
        create_time: Some(timestamp(*created_at)),
        last_seen_time: Some(timestamp(*last_seen_at)),
        idle_expire_time: Some(timestamp(*idle_expires)),
        expire_time: Some(timestamp(*expires)),
        user_agent: user_agent.clone().unwrap_or_default(),
        current: id == current_session_id,
        authenticate_time: Some(timestamp(*authenticated_at)),
    }
}

/// A row count for an `int32` field.
pub fn count(rows: u64) -> i32 {
    i32::try_from(rows).unwrap_or(i32::MAX)
}

pub fn access_token(token: &IssuedAccessToken) -> pb::AccessToken {
    let IssuedAccessToken { token, expires_at } = token;
    pb::AccessToken { token: token.clone(), expire_time: Some(timestamp(*expires_at)) }
}

pub fn signed_in(signed_in: &SignedIn) -> pb::SignedIn {
    let SignedIn { user: u, session: s, token, access_token: a } = signed_in;
    pb::SignedIn {
        user: Some(user(u)),
        session: Some(session(s, &s.id)),
        session_token: token.expose().to_owned(),
        access_token: Some(access_token(a)),
    }
}

pub fn provider(provider: &ProviderInfo) -> pb::OAuthProvider {
    let ProviderInfo { id, display_name, kind } = provider;
    pb::OAuthProvider {
        id: id.clone(),
        display_name: display_name.clone(),
        kind: match kind {
            ProviderKind::GitHub => pb::IdentityProviderKind::Github,
            ProviderKind::Oidc => pb::IdentityProviderKind::Oidc,
        }
        .into(),
    }
}

/// A linked account; the provider's tokens never cross the wire.
pub fn linked_account(account: &AccountRecord) -> pb::LinkedAccount {
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
    pb::LinkedAccount {
        id: id.clone(),
        provider: provider.clone(),
        provider_account_id: provider_account_id.clone(),
        create_time: Some(timestamp(*created_at)),
    }
}

pub fn passkey(record: &AuthenticatorRecord) -> pb::Passkey {
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
        transports,
        aaguid,
        passkey: _,
        name,
        created_at,
        last_used_at,
        imported_from: _,
    } = record;
    let device_type = match credential_device_type.as_str() {
        "multiDevice" => pb::PasskeyDeviceType::MultiDevice,
        "singleDevice" => pb::PasskeyDeviceType::SingleDevice,
        _ => pb::PasskeyDeviceType::Unspecified,
    };
    pb::Passkey {
        id: id.clone(),
        name: name.clone(),
        credential_id: credential_id.clone(),
        create_time: Some(timestamp(*created_at)),
        last_used_time: last_used_at.map(timestamp),
        backup_eligible: *backup_eligible,
        backed_up: *credential_backed_up,
        device_type: device_type.into(),
        transports: transports.as_deref().map(|t| t.split(',').map(str::to_owned).collect()).unwrap_or_default(),
        provider_name: aaguid.as_deref().and_then(passkey_provider_name).unwrap_or_default().to_owned(),
        aaguid: aaguid.clone().unwrap_or_default(),
    }
}

/// An audit event; the client address, user agent and API key id come from its detail, where
/// the event recorded them.
pub fn audit_event(event: &AuditRecord) -> pb::AuditEvent {
    let AuditRecord { id, user_id: _, subject_id, kind, detail, created_at } = event;
    let parsed: serde_json::Value = serde_json::from_str(detail).unwrap_or(serde_json::Value::Null);
    let text = |key: &str| parsed.get(key).and_then(serde_json::Value::as_str).unwrap_or_default().to_owned();
    pb::AuditEvent {
        id: id.clone(),
        user_id: subject_id.clone().unwrap_or_default(),
        kind: kind.clone(),
        create_time: Some(timestamp(*created_at)),
        client_address: text("client"),
        user_agent: text("user_agent"),
        api_key_id: text("api_key_id"),
        detail_json: detail.clone(),
    }
}
