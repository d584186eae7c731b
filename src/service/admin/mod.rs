//! What operators do through AdminService, with an API key's grant (`caller.rs`): find, create,
//! change, disable, enable and delete users and end their sessions (`users.rs`), read the audit
//! log (`audit_log.rs`), see and retry webhook deliveries (`webhooks.rs`), and watch sessions
//! end (`watch.rs`). Every call — reads too — is audited with the key id, the client address
//! and the user agent.

mod audit_log;
mod caller;
mod users;
mod watch;
mod webhooks;

pub use audit_log::AuditQuery;
pub use caller::{
    Admin, AdminCaller, AuditRead, EventsWatch, Scope, SessionsRevoke, UsersEmail, UsersRead, UsersRoles, UsersWrite,
    WebhooksManage,
};
pub use users::{UserDetails, UserQuery, UserUpdate};
pub use watch::{WatchItem, WatchStream};
pub use webhooks::WebhookDeliveryQuery;

use serde_json::{Value, json};

use super::Services;
use crate::error::{Error, FieldReason, Result};

/// Audit event kinds of admin calls. Stable strings, like `audit::kind`.
pub(crate) mod kind {
    pub const USERS_LISTED: &str = "admin.users.listed";
    pub const USER_READ: &str = "admin.user.read";
    pub const USER_CREATED: &str = "admin.user.created";
    pub const USER_UPDATED: &str = "admin.user.updated";
    pub const USER_DISABLED: &str = "admin.user.disabled";
    pub const USER_ENABLED: &str = "admin.user.enabled";
    pub const USER_DELETED: &str = "admin.user.deleted";
    pub const USER_SESSIONS_REVOKED: &str = "admin.user.sessions_revoked";
    pub const AUDIT_READ: &str = "admin.audit.read";
    pub const WEBHOOK_DELIVERIES_LISTED: &str = "admin.webhook_deliveries.listed";
    pub const WEBHOOK_DELIVERY_RETRIED: &str = "admin.webhook_delivery.retried";
    pub const EVENTS_WATCHED: &str = "admin.events.watched";
}

/// Longest id accepted in a `user_id` field (ids Keyward issues are 36 characters; imported
/// ones keep their source's, which Auth.js bounds well below this).
const MAX_ID_CHARS: usize = 128;

/// A required id field: trimmed, non-empty, bounded.
fn check_id<'a>(field: &'static str, raw: &'a str) -> Result<&'a str> {
    let id = raw.trim();
    if id.is_empty() {
        return Err(Error::field(field, FieldReason::Required, format!("{field} is required")));
    }
    if id.len() > MAX_ID_CHARS {
        return Err(Error::field(field, FieldReason::TooLong, format!("{field} must be at most {MAX_ID_CHARS} bytes")));
    }
    Ok(id)
}

/// `[from, to)` checked: `to` after `from` when both are given.
fn check_range<T: PartialOrd>(field: &'static str, from: Option<T>, to: Option<T>) -> Result<(Option<T>, Option<T>)> {
    if let (Some(from), Some(to)) = (&from, &to)
        && to <= from
    {
        return Err(Error::field(field, FieldReason::Malformed, format!("{field} must be after its start")));
    }
    Ok((from, to))
}

/// `detail` with who made the admin call: the key id, the client address, the user agent.
fn with_caller<S>(admin: &Admin<S>, mut detail: Value) -> Value {
    let meta = admin.meta();
    let context = json!({
        "api_key_id": admin.key_id(),
        "client": meta.client_for_audit(),
        "user_agent": meta.user_agent,
    });
    if let (Value::Object(detail), Value::Object(context)) = (&mut detail, context) {
        detail.extend(context);
    }
    detail
}

impl Services {
    /// Records an admin call: `detail` and who made it.
    async fn admin_audit<S>(&self, admin: &Admin<S>, user_id: Option<&str>, kind: &'static str, detail: Value) {
        self.audit(user_id, kind, with_caller(admin, detail)).await;
    }
}
