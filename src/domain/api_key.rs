//! Service credentials: the API key a machine presents to AdminService (`kw_` + 256 random bits
//! from the OS CSPRNG, base64url) and the scopes a key may carry.

use std::fmt;

use super::{
    TokenHash,
    token::{is_random_256, random_256},
};
use crate::error::Result;

/// Every API key starts with this, so a leaked one is recognisable (secret scanners) and can never
/// be mistaken for a session token (base64url of 32 bytes has no `_` at a fixed place, and no
/// session token shape starts with `kw_`).
pub const API_KEY_PREFIX: &str = "kw_";

/// An API key in clear: exists only in the output of `keyward admin keys create` and in the
/// requests that present it. Debug output is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKeySecret(String);

impl ApiKeySecret {
    pub fn generate() -> Result<Self> {
        Ok(Self(format!("{API_KEY_PREFIX}{}", random_256()?)))
    }

    /// Only the exact shape `generate` makes; anything else cannot be an API key.
    pub fn parse(raw: &str) -> Option<Self> {
        is_random_256(raw.strip_prefix(API_KEY_PREFIX)?).then(|| Self(raw.to_owned()))
    }

    /// What the store keeps and looks the key up by. A plain SHA-256 is enough: the input is 256
    /// random bits, so there is no dictionary to try (NIST SP 800-63B-4 asks for salted slow
    /// hashes only for memorized secrets).
    pub fn hash(&self) -> TokenHash {
        TokenHash::of(self.0.as_bytes())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKeySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKeySecret(<redacted>)")
    }
}

/// What an API key may do on AdminService. Least privilege: each RPC needs exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ApiScope {
    /// ListUsers, GetUser.
    UsersRead,
    /// CreateUser, UpdateUser (name only), DisableUser, EnableUser, DeleteUser.
    UsersWrite,
    /// UpdateUser's `email` and `email_verified` (with `users:write`): moving an account's
    /// address is a takeover, so it is a grant of its own.
    UsersEmail,
    /// UpdateUser's `roles` (with `users:write`): what the user may do in the apps.
    UsersRoles,
    /// RevokeUserSessions.
    SessionsRevoke,
    /// ListAuditEvents.
    AuditRead,
    /// Reserved for WatchSessionEvents (not built yet): a key may carry it already.
    EventsWatch,
    /// ListWebhookDeliveries, RetryWebhookDelivery.
    WebhooksManage,
}

impl ApiScope {
    pub const ALL: [Self; 8] = [
        Self::UsersRead,
        Self::UsersWrite,
        Self::UsersEmail,
        Self::UsersRoles,
        Self::SessionsRevoke,
        Self::AuditRead,
        Self::EventsWatch,
        Self::WebhooksManage,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::UsersRead => "users:read",
            Self::UsersWrite => "users:write",
            Self::UsersEmail => "users:email",
            Self::UsersRoles => "users:roles",
            Self::SessionsRevoke => "sessions:revoke",
            Self::AuditRead => "audit:read",
            Self::EventsWatch => "events:watch",
            Self::WebhooksManage => "webhooks:manage",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|scope| scope.as_str() == raw)
    }
}

impl fmt::Display for ApiScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A key's lifetime from the command line: a whole number and a unit (`90d`, `12h`, `30m`,
/// `3600s`). None for anything else.
pub fn parse_lifetime(raw: &str) -> Option<std::time::Duration> {
    let raw = raw.trim();
    let unit = raw.chars().last()?;
    let number: u64 = raw[..raw.len() - unit.len_utf8()].parse().ok().filter(|n| *n > 0)?;
    let seconds = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3_600,
        'd' => 86_400,
        _ => return None,
    };
    // At most ten years: a key that outlives its operators is no expiry at all.
    number.checked_mul(seconds).filter(|s| *s <= 10 * 366 * 86_400).map(std::time::Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_only_their_shape_parses() {
        let key = ApiKeySecret::generate().unwrap();
        assert!(key.expose().starts_with("kw_") && key.expose().len() == 46);
        assert_eq!(ApiKeySecret::parse(key.expose()), Some(key.clone()));
        assert_ne!(ApiKeySecret::generate().unwrap(), key);
        assert!(ApiKeySecret::parse(&key.expose()[3..]).is_none());
        assert!(ApiKeySecret::parse("kw_short").is_none());
        assert!(!format!("{key:?}").contains(&key.expose()[3..]));
    }

    #[test]
    fn scopes_and_lifetimes_parse() {
        for scope in ApiScope::ALL {
            assert_eq!(ApiScope::parse(scope.as_str()), Some(scope));
        }
        assert_eq!(ApiScope::parse("users:*"), None);
        assert_eq!(parse_lifetime("90d"), Some(std::time::Duration::from_secs(90 * 86_400)));
        assert_eq!(parse_lifetime("30m"), Some(std::time::Duration::from_secs(1_800)));
        for bad in ["", "d", "0d", "-1h", "5y", "99999d", "1.5h"] {
            assert_eq!(parse_lifetime(bad), None, "{bad}");
        }
    }
}
