//! Audit rows for refusals: an AdminService call refused for its key (none, not a live key, a
//! missing scope) and an OAuth round-trip refused (state, issuer, provider answer, code exchange,
//! ID token, linking rules). Each refusal writes one `audit_events` row with the client address
//! and user agent (OWASP ASVS 5 V16.3.1–V16.3.3: authentication and authorization failures are
//! logged with what is needed to investigate), so a probe shows up in ListAuditEvents.
//!
//! A flood must not grow the table without bound, so the rows are bounded per client: at most
//! `PER_WINDOW` rows per client key (an IPv4 address or an IPv6 /64) per `WINDOW`, per replica;
//! past it the refusal is still refused, only not recorded, and one WARN line per client and
//! window says so. The count is in memory on purpose, like the per-client budgets: it bounds
//! writes, it need not be exact across replicas (N replicas: N× the rows), and checking it costs
//! no database round trip. It is on whether or not `rate_limits` are, since it bounds storage,
//! not traffic; at most `MAX_CLIENTS` windows are kept, and when full a new client's refusals
//! are not recorded until the sweep drops stale windows.

use std::{collections::HashMap, sync::Mutex};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::{RequestMeta, Services};
use crate::error::Error;

/// Audit event kinds of refusals. Stable strings, like `audit::kind`.
pub(crate) mod kind {
    /// An AdminService call refused for its API key (detail: `reason`, `scope`).
    pub const ADMIN_REFUSED: &str = "admin.refused";
    /// An OAuth callback refused (detail: `reason`, and `provider` when known).
    pub const OAUTH_REFUSED: &str = "oauth.refused";
}

/// Refusal rows one client may cause per window, per replica.
pub const PER_WINDOW: u32 = 20;
/// The window.
pub const WINDOW: chrono::Duration = chrono::Duration::minutes(1);
/// Clients with a window open at once (bounds the memory).
const MAX_CLIENTS: usize = 100_000;

/// The per-client refusal counts of the current windows.
#[derive(Debug, Default)]
pub(super) struct RefusalBound {
    windows: Mutex<HashMap<String, Window>>,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    started: DateTime<Utc>,
    count: u32,
}

/// What the bound says about one more refusal of a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Admission {
    Record,
    /// The first refusal past the bound in this window: not recorded, said once in the log.
    JustFull,
    Full,
}

impl RefusalBound {
    fn admit(&self, client: &str, now: DateTime<Utc>) -> Admission {
        let Ok(mut windows) = self.windows.lock() else { return Admission::Full };
        let full = windows.len() >= MAX_CLIENTS;
        let window = match windows.get_mut(client) {
            Some(window) => window,
            None if full => return Admission::Full,
            None => windows.entry(client.to_owned()).or_insert(Window { started: now, count: 0 }),
        };
        if now - window.started >= WINDOW || now < window.started {
            *window = Window { started: now, count: 0 };
        }
        window.count = window.count.saturating_add(1);
        match window.count {
            n if n <= PER_WINDOW => Admission::Record,
            n if n == PER_WINDOW + 1 => Admission::JustFull,
            _ => Admission::Full,
        }
    }

    /// Drops windows that ended (the sweep calls it).
    pub(super) fn prune(&self, now: DateTime<Utc>) {
        if let Ok(mut windows) = self.windows.lock() {
            windows.retain(|_, window| now - window.started < WINDOW && now >= window.started);
            windows.shrink_to_fit();
        }
    }
}

impl Services {
    /// Records refusal `kind` of the caller `meta` describes, within the per-client bound.
    /// Best effort, like every audit write: a failure is logged, never returned.
    pub(super) async fn audit_refusal(&self, kind: &'static str, meta: &RequestMeta, detail: Value) {
        let client = meta.client_key();
        match self.inner.refusals.admit(&client, self.inner.clock.now()) {
            Admission::Record => {}
            Admission::JustFull => {
                tracing::warn!(kind, client = %client, per_minute = PER_WINDOW, "refusals from this client are no longer audited this minute");
                return;
            }
            Admission::Full => return,
        }
        let mut detail = detail;
        if let Value::Object(fields) = &mut detail {
            fields.insert("client".into(), meta.client_for_audit());
            fields.insert("user_agent".into(), json!(meta.user_agent));
        }
        self.audit(None, kind, detail).await;
    }

    /// An AdminService refusal of `error` for a call that needed `scope`, recorded when it is
    /// the key's fault (none, not live, scope missing); other errors are not refusals.
    pub async fn audit_admin_refusal(&self, error: &Error, scope: &str, meta: &RequestMeta) {
        let reason = match error {
            Error::ApiKeyRequired => "api_key_required",
            Error::ApiKeyInvalid => "api_key_invalid",
            Error::ApiKeyScopeMissing(_) => "api_key_scope_missing",
            _ => return,
        };
        let missing = match error {
            Error::ApiKeyScopeMissing(missing) => missing.as_str(),
            _ => scope,
        };
        self.audit_refusal(kind::ADMIN_REFUSED, meta, json!({ "reason": reason, "scope": missing })).await;
    }

    /// An OAuth callback refused with `error`, recorded when it is a refusal of the round-trip
    /// (bad input and the server's own faults are not).
    pub(super) async fn audit_oauth_refusal(&self, error: &Error, meta: &RequestMeta) {
        let reason = match error {
            Error::OAuthStateInvalid => "state_invalid",
            Error::OAuthStateExpired => "state_expired",
            Error::OAuthAccessDenied => "access_denied",
            Error::OAuthProviderError(_) => "provider_error",
            Error::OAuthTokenExchangeFailed => "token_exchange_failed",
            Error::OAuthIdTokenInvalid(_) => "id_token_invalid",
            Error::OAuthAccountNotLinked => "account_not_linked",
            Error::OAuthAccountLinkedToOtherUser => "account_linked_to_other_user",
            Error::OAuthLinkUserMismatch => "link_user_mismatch",
            Error::OAuthEmailUnavailable => "email_unavailable",
            Error::OAuthEmailUnverified => "email_unverified",
            Error::OAuthIssuerMismatch => "issuer_mismatch",
            Error::UserDisabled => "user_disabled",
            _ => return,
        };
        self.audit_refusal(kind::OAUTH_REFUSED, meta, json!({ "reason": reason })).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_gets_its_rows_per_window_then_none_until_the_next() {
        let bound = RefusalBound::default();
        let start = DateTime::from_timestamp(1_780_000_000, 0).unwrap();
        for _ in 0..PER_WINDOW {
            assert_eq!(bound.admit("192.0.2.1", start), Admission::Record);
        }
        assert_eq!(bound.admit("192.0.2.1", start), Admission::JustFull);
        assert_eq!(bound.admit("192.0.2.1", start + chrono::Duration::seconds(59)), Admission::Full);
        assert_eq!(bound.admit("192.0.2.2", start), Admission::Record, "another client has its own count");
        let next = start + WINDOW;
        assert_eq!(bound.admit("192.0.2.1", next), Admission::Record, "a new window");
        bound.prune(next + WINDOW);
        assert!(bound.windows.lock().unwrap().is_empty(), "ended windows are dropped");
    }
}
