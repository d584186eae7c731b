//! Webhook event types: the names an operator subscribes an endpoint to (`[[webhooks]] events`),
//! and the `type` field of every delivered payload; a delivery as operators list it; and the
//! addresses no webhook may reach. Pure; no I/O.

use std::{
    fmt,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
};

use chrono::{DateTime, Utc};

/// One event on its way to one endpoint, as an operator sees it (never the body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookDelivery {
    pub id: String,
    pub endpoint: String,
    pub event_type: String,
    pub user_id: Option<String>,
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
    pub next_attempt_at: DateTime<Utc>,
    /// Set once it was given up.
    pub dead_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

/// Whether `ip` belongs to a cloud metadata service or another link-local range, where a
/// webhook must never go (it would let whoever configures or redirects an endpoint read
/// instance credentials: OWASP ASVS 5 V1.3.6 / the SSRF cheat sheet): 169.254.0.0/16 (AWS, GCP,
/// Azure, OpenStack: 169.254.169.254), fe80::/10, AWS's IPv6 fd00:ec2::254, Alibaba's
/// 100.100.100.200 — also as IPv4-mapped IPv6 addresses.
pub fn is_metadata_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_metadata_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_metadata_v4(v4),
            None => (v6.segments()[0] & 0xffc0) == 0xfe80 || v6 == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254),
        },
    }
}

fn is_metadata_v4(v4: Ipv4Addr) -> bool {
    v4.is_link_local() || v4 == Ipv4Addr::new(100, 100, 100, 200)
}

/// What happened, as a webhook receiver sees it (`"user.created"`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WebhookEventType {
    UserCreated,
    UserUpdated,
    UserDeleted,
    UserDisabled,
    SessionCreated,
    SessionRevoked,
    PasskeyAdded,
    PasskeyRemoved,
    PasswordChanged,
    AccountLinked,
    AccountUnlinked,
    /// Opt-in: delivered only to an endpoint that lists it by name (it can be many per second
    /// under a credential-stuffing attack, and most receivers do not want it).
    SignInFailed,
}

impl WebhookEventType {
    pub const ALL: [Self; 12] = [
        Self::UserCreated,
        Self::UserUpdated,
        Self::UserDeleted,
        Self::UserDisabled,
        Self::SessionCreated,
        Self::SessionRevoked,
        Self::PasskeyAdded,
        Self::PasskeyRemoved,
        Self::PasswordChanged,
        Self::AccountLinked,
        Self::AccountUnlinked,
        Self::SignInFailed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::UserCreated => "user.created",
            Self::UserUpdated => "user.updated",
            Self::UserDeleted => "user.deleted",
            Self::UserDisabled => "user.disabled",
            Self::SessionCreated => "session.created",
            Self::SessionRevoked => "session.revoked",
            Self::PasskeyAdded => "passkey.added",
            Self::PasskeyRemoved => "passkey.removed",
            Self::PasswordChanged => "password.changed",
            Self::AccountLinked => "account.linked",
            Self::AccountUnlinked => "account.unlinked",
            Self::SignInFailed => "signin.failed",
        }
    }

    /// The exact name, or `None` (names are case-sensitive, as receivers compare them).
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|event| event.as_str() == raw)
    }
}

impl fmt::Display for WebhookEventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_parses_back_and_nothing_else_does() {
        for event in WebhookEventType::ALL {
            assert_eq!(WebhookEventType::parse(event.as_str()), Some(event));
        }
        assert_eq!(WebhookEventType::parse("User.Created"), None);
        assert_eq!(WebhookEventType::parse("user.*"), None);
    }

    #[test]
    fn metadata_addresses_are_recognised_in_every_spelling() {
        for refused in
            ["169.254.169.254", "169.254.0.1", "fe80::1", "fd00:ec2::254", "100.100.100.200", "::ffff:169.254.169.254"]
        {
            assert!(is_metadata_address(refused.parse().unwrap()), "{refused}");
        }
        for allowed in ["127.0.0.1", "10.0.0.1", "93.184.216.34", "::1", "fd00:ec2::253", "100.100.100.201"] {
            assert!(!is_metadata_address(allowed.parse().unwrap()), "{allowed}");
        }
    }
}
