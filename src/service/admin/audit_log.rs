//! Reading the audit log: newest first, filtered by user, kind and time.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::{Admin, AuditRead, check_id, check_range, kind};
use crate::{
    domain::{AuditEntry, PageRequest},
    error::{Error, FieldReason, Result},
    service::Services,
    store::AuditFilter,
};

/// Longest event kind (the ones Keyward writes are far shorter).
const MAX_KIND_CHARS: usize = 64;

/// ListAuditEvents' request, as the handler read it.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery<'a> {
    pub page_size: i32,
    pub page_token: &'a str,
    pub user_id: &'a str,
    pub kind: &'a str,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

impl Services {
    /// One page of audit events, newest first, and the next page token.
    pub async fn admin_list_audit_events(
        &self,
        admin: &Admin<AuditRead>,
        query: AuditQuery<'_>,
    ) -> Result<(Vec<AuditEntry>, Option<String>)> {
        let page = PageRequest::parse(query.page_size, query.page_token)?;
        let user_id = if query.user_id.trim().is_empty() { None } else { Some(check_id("user_id", query.user_id)?) };
        let event_kind = query.kind.trim();
        if event_kind.len() > MAX_KIND_CHARS
            || !event_kind.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._".contains(&b))
        {
            return Err(Error::field("kind", FieldReason::Malformed, "kind is an event kind such as login.succeeded"));
        }
        let (after, before) = check_range("create_time_to", query.from, query.to)?;
        let filter = AuditFilter {
            user_id: user_id.map(str::to_owned),
            kind: (!event_kind.is_empty()).then(|| event_kind.to_owned()),
            after,
            before,
        };
        let events = self.inner.store.list_audit_events(&filter, page.after.as_deref(), page.fetch_limit()).await?;
        let (events, next) = page.finish(events, |event| &event.id);
        self.admin_audit(admin, None, kind::AUDIT_READ, json!({ "count": events.len() })).await;
        Ok((events.iter().map(AuditEntry::from).collect(), next))
    }
}
