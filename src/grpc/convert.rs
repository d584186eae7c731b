//! Domain → proto conversions, and nothing else: the store has already decoded its columns into
//! the domain read models. Each destructures its source completely, so a new field fails the
//! build here until someone decides whether it crosses the wire.

use chrono::{DateTime, Utc};

use crate::{
    crypto::IssuedAccessToken,
    domain::{
        AuditEntry, DeviceType, LinkedAccount, Passkey, Session, SessionEvent, SessionEventKind, User, WebhookDelivery,
        passkey_provider_name,
    },
    pb,
    service::{ProviderInfo, ProviderKind, SignedIn, admin::WatchItem},
};

pub fn timestamp(at: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds: at.timestamp(), nanos: i32::try_from(at.timestamp_subsec_nanos()).unwrap_or(0) }
}

pub fn user(user: &User) -> pb::User {
    let User { id, email, name, email_verified_at, image, has_password, created_at, roles, disabled_at } = user;
    pb::User {
        id: id.clone(),
        email: email.clone(),
        name: name.clone().unwrap_or_default(),
        email_verify_time: email_verified_at.map(timestamp),
        image: image.clone().unwrap_or_default(),
        has_password: *has_password,
        create_time: Some(timestamp(*created_at)),
        roles: roles.clone(),
        disable_time: disabled_at.map(timestamp),
    }
}

/// `current` marks the session the request was made with.
pub fn session(session: &Session, current_session_id: &str) -> pb::Session {
    let Session { id, user_id, created_at, last_seen_at, idle_expires_at, expires_at, user_agent, authenticated_at } =
        session;
    pb::Session {
        id: id.clone(),
        user_id: user_id.clone(),
        create_time: Some(timestamp(*created_at)),
        last_seen_time: Some(timestamp(*last_seen_at)),
        idle_expire_time: Some(timestamp(*idle_expires_at)),
        expire_time: Some(timestamp(*expires_at)),
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

/// A linked account; the provider's tokens never reach the domain model, let alone the wire.
pub fn linked_account(account: &LinkedAccount) -> pb::LinkedAccount {
    let LinkedAccount { id, provider, provider_account_id, created_at } = account;
    pb::LinkedAccount {
        id: id.clone(),
        provider: provider.clone(),
        provider_account_id: provider_account_id.clone(),
        create_time: Some(timestamp(*created_at)),
    }
}

pub fn passkey(passkey: &Passkey) -> pb::Passkey {
    let Passkey {
        id,
        name,
        credential_id,
        created_at,
        last_used_at,
        backup_eligible,
        backed_up,
        device_type,
        transports,
        aaguid,
    } = passkey;
    let device_type = match device_type {
        DeviceType::MultiDevice => pb::PasskeyDeviceType::MultiDevice,
        DeviceType::SingleDevice => pb::PasskeyDeviceType::SingleDevice,
        DeviceType::Unknown => pb::PasskeyDeviceType::Unspecified,
    };
    pb::Passkey {
        id: id.clone(),
        name: name.clone(),
        credential_id: credential_id.clone(),
        create_time: Some(timestamp(*created_at)),
        last_used_time: last_used_at.map(timestamp),
        backup_eligible: *backup_eligible,
        backed_up: *backed_up,
        device_type: device_type.into(),
        transports: transports.clone(),
        provider_name: aaguid.as_deref().and_then(passkey_provider_name).unwrap_or_default().to_owned(),
        aaguid: aaguid.clone().unwrap_or_default(),
    }
}

/// An audit event; the client address, user agent and API key id come from its detail, where
/// the event recorded them.
pub fn webhook_delivery(delivery: &WebhookDelivery) -> pb::WebhookDelivery {
    let WebhookDelivery {
        id,
        endpoint,
        event_type,
        user_id,
        attempts,
        created_at,
        next_attempt_at,
        dead_at,
        last_error,
    } = delivery;
    let state = if dead_at.is_some() { pb::WebhookDeliveryState::Dead } else { pb::WebhookDeliveryState::Waiting };
    pb::WebhookDelivery {
        id: id.clone(),
        endpoint_url: endpoint.clone(),
        event_type: event_type.clone(),
        user_id: user_id.clone().unwrap_or_default(),
        state: state.into(),
        attempts: *attempts,
        create_time: Some(timestamp(*created_at)),
        next_attempt_time: dead_at.is_none().then(|| timestamp(*next_attempt_at)),
        dead_time: dead_at.map(timestamp),
        last_error: last_error.clone().unwrap_or_default(),
    }
}

pub fn audit_event(event: &AuditEntry) -> pb::AuditEvent {
    let AuditEntry { id, subject_id, kind, detail, created_at } = event;
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

/// One message of a WatchSessionEvents stream.
pub fn watch_item(item: &WatchItem) -> pb::WatchSessionEventsResponse {
    match item {
        WatchItem::Event(event) => {
            let SessionEvent { cursor, kind, user_id, session_id, at } = event;
            let kind = match kind {
                SessionEventKind::SessionRevoked => pb::SessionEventKind::SessionRevoked,
                SessionEventKind::UserDisabled => pb::SessionEventKind::UserDisabled,
                SessionEventKind::UserDeleted => pb::SessionEventKind::UserDeleted,
            };
            pb::WatchSessionEventsResponse {
                cursor: cursor.encode(),
                event: Some(pb::SessionEvent {
                    kind: kind.into(),
                    user_id: user_id.clone(),
                    session_id: session_id.clone().unwrap_or_default(),
                    create_time: Some(timestamp(*at)),
                }),
                caught_up: false,
            }
        }
        WatchItem::CaughtUp(cursor) => {
            pb::WatchSessionEventsResponse { cursor: cursor.encode(), event: None, caught_up: true }
        }
    }
}
