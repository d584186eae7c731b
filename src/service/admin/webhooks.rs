//! Operators and the webhook outbox: list the deliveries still waiting or given up (dead), and
//! give a dead one another attempt. Scope `webhooks:manage`; every call is audited.

use serde_json::json;

use super::{Admin, WebhooksManage, check_id, kind};
use crate::{
    domain::{PageRequest, WebhookDelivery, WebhookEventType},
    error::{Error, FieldReason, Resource, Result},
    service::Services,
    store::WebhookDeliveryFilter,
};

/// ListWebhookDeliveries' request, as the handler read it.
#[derive(Debug, Clone, Default)]
pub struct WebhookDeliveryQuery<'a> {
    pub page_size: i32,
    pub page_token: &'a str,
    /// Waiting (false) or dead (true); None: the request did not say (refused).
    pub dead: Option<bool>,
    pub event_type: &'a str,
    pub user_id: &'a str,
}

impl Services {
    /// One page of webhook deliveries, oldest first, and the next page token.
    pub async fn admin_list_webhook_deliveries(
        &self,
        admin: &Admin<WebhooksManage>,
        query: WebhookDeliveryQuery<'_>,
    ) -> Result<(Vec<WebhookDelivery>, Option<String>)> {
        let page = PageRequest::parse(query.page_size, query.page_token)?;
        let dead = query
            .dead
            .ok_or_else(|| Error::field("state", FieldReason::Required, "state is required: WAITING or DEAD"))?;
        let event_type = query.event_type.trim();
        let event_type = if event_type.is_empty() {
            None
        } else {
            let known = WebhookEventType::parse(event_type).ok_or_else(|| {
                Error::field("event_type", FieldReason::Malformed, "event_type is an event such as user.created")
            })?;
            Some(known.as_str().to_owned())
        };
        let user_id = if query.user_id.trim().is_empty() { None } else { Some(check_id("user_id", query.user_id)?) };
        let filter = WebhookDeliveryFilter { dead, event_type, user_id: user_id.map(str::to_owned) };
        let rows = self.inner.store.list_webhook_deliveries(&filter, page.after.as_deref(), page.fetch_limit()).await?;
        let (rows, next) = page.finish(rows, |row| &row.id);
        self.admin_audit(admin, None, kind::WEBHOOK_DELIVERIES_LISTED, json!({ "dead": dead, "count": rows.len() }))
            .await;
        Ok((rows, next))
    }

    /// Brings dead delivery `delivery_id` back for one more attempt, now.
    pub async fn admin_retry_webhook_delivery(&self, admin: &Admin<WebhooksManage>, delivery_id: &str) -> Result<()> {
        let id = check_id("delivery_id", delivery_id)?;
        if !self.inner.store.retry_webhook_delivery(id, self.inner.clock.now()).await? {
            return Err(Error::NotFound(Resource::WebhookDelivery));
        }
        self.admin_audit(admin, None, kind::WEBHOOK_DELIVERY_RETRIED, json!({ "delivery_id": id })).await;
        Ok(())
    }
}
