//! Webhook events as outbox rows. A store write that changes a user, a session or a sign-in
//! method calls `emit_in` inside its own transaction, which writes one `webhook` outbox row per
//! endpoint subscribed to the event (fan-out at write time), so an event exists exactly when
//! its change committed — and only then is the sender woken. The payload (the JSON body the
//! receiver gets, and the endpoint URL) is sealed like mail; the endpoint, event type and
//! subject are plain columns for ordering and for AdminService's listing. Bodies carry ids,
//! names and addresses, never a token, a hash or a key.

use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, sea_query::Expr};
use serde_json::{Value, json};
use tokio::sync::Notify;

use super::{
    SessionRecord, Store, UserRecord,
    entities::{accounts, authenticators, outbox},
    outbox::{NewOutboxMessage, OutboxRoute},
};
use crate::{
    domain::{WebhookDelivery, WebhookEventType},
    error::Result,
};

/// The outbox kind of webhook rows.
pub const WEBHOOK_KIND: &str = "webhook";

/// One configured endpoint: its URL and the events it takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookRoute {
    pub url: String,
    pub events: Vec<WebhookEventType>,
}

/// The endpoints events fan out to, and the sender's wake-up. Empty: no event is written.
#[derive(Debug, Clone, Default)]
pub struct WebhookRoutes {
    routes: Vec<WebhookRoute>,
    queued: Arc<Notify>,
}

impl WebhookRoutes {
    /// `queued` is notified after a commit that wrote webhook rows.
    pub fn new(routes: Vec<WebhookRoute>, queued: Arc<Notify>) -> Self {
        Self { routes, queued }
    }
}

/// Something that happened, about `subject_id` (the user), with the receiver's `data`.
#[derive(Debug, Clone)]
pub struct WebhookEvent {
    pub event_type: WebhookEventType,
    pub subject_id: Option<String>,
    pub data: Value,
}

impl WebhookEvent {
    fn about(event_type: WebhookEventType, user_id: &str, data: Value) -> Self {
        Self { event_type, subject_id: Some(user_id.to_owned()), data }
    }

    /// `user.created` / `user.updated`: the user as it is now.
    pub(super) fn user(event_type: WebhookEventType, user: &UserRecord) -> Self {
        let data = json!({
            "id": user.id,
            "email": user.email,
            "name": user.name,
            "email_verified": user.email_verified.is_some(),
            "roles": user.role_names(),
            "disabled": user.disabled_at.is_some(),
        });
        Self::about(event_type, &user.id, data)
    }

    /// `user.deleted`, `user.disabled`, `password.changed`: just whose.
    pub(super) fn user_id(event_type: WebhookEventType, user_id: &str) -> Self {
        let key = if event_type == WebhookEventType::PasswordChanged { "user_id" } else { "id" };
        Self::about(event_type, user_id, json!({ key: user_id }))
    }

    pub(super) fn session_created(session: &SessionRecord) -> Self {
        let data = json!({
            "id": session.id,
            "user_id": session.user_id,
            "user_agent": session.user_agent,
            "expire_time": rfc3339(session.expires),
        });
        Self::about(WebhookEventType::SessionCreated, &session.user_id, data)
    }

    pub(super) fn session_revoked(user_id: &str, session_id: &str) -> Self {
        Self::about(WebhookEventType::SessionRevoked, user_id, json!({ "id": session_id, "user_id": user_id }))
    }

    pub(super) fn passkey(event_type: WebhookEventType, passkey: &authenticators::Model) -> Self {
        let data = json!({ "id": passkey.id, "user_id": passkey.user_id, "name": passkey.name });
        Self::about(event_type, &passkey.user_id, data)
    }

    pub(super) fn account(event_type: WebhookEventType, account: &accounts::Model) -> Self {
        let data = json!({
            "id": account.id,
            "user_id": account.user_id,
            "provider": account.provider,
            "provider_account_id": account.provider_account_id,
        });
        Self::about(event_type, &account.user_id, data)
    }

    /// `signin.failed`: which method, and the user when the credential named one. Not ordered
    /// with the user's other events (no subject): whoever guesses passwords could otherwise
    /// queue failures in front of that user's `user.deleted` or `session.revoked`.
    pub fn sign_in_failed(user_id: Option<&str>, method: &str, client_address: Option<&str>) -> Self {
        Self {
            event_type: WebhookEventType::SignInFailed,
            subject_id: None,
            data: json!({ "user_id": user_id, "method": method, "client_address": client_address }),
        }
    }
}

/// Which webhook rows to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookDeliveryFilter {
    /// Only those given up (dead); otherwise only those still waiting.
    pub dead: bool,
    pub event_type: Option<String>,
    pub user_id: Option<String>,
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl Store {
    /// Routes events to `routes` from now on.
    pub fn with_webhooks(mut self, routes: WebhookRoutes) -> Self {
        self.webhooks = Arc::new(routes);
        self
    }

    /// Writes `event` through `conn` (the change's transaction) for every endpoint that takes
    /// it. The body is the Standard Webhooks shape: `{type, timestamp, data}`.
    pub(super) async fn emit_in<C: ConnectionTrait>(
        &self,
        conn: &C,
        event: WebhookEvent,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let routes = self.webhooks.clone();
        let body = json!({ "type": event.event_type.as_str(), "timestamp": rfc3339(now), "data": event.data });
        for route in routes.routes.iter().filter(|route| route.events.contains(&event.event_type)) {
            let payload = json!({ "url": route.url, "body": body.to_string() }).to_string();
            let message = NewOutboxMessage { kind: WEBHOOK_KIND, payload };
            let where_to = OutboxRoute {
                endpoint: &route.url,
                event_type: event.event_type.as_str(),
                subject_id: event.subject_id.as_deref(),
            };
            self.insert_outbox_row(conn, message, Some(where_to), now).await?;
        }
        Ok(())
    }

    /// Writes each of `events` through `conn`.
    pub(super) async fn emit_all_in<C: ConnectionTrait>(
        &self,
        conn: &C,
        events: Vec<WebhookEvent>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        for event in events {
            self.emit_in(conn, event, now).await?;
        }
        Ok(())
    }

    /// Tells the sender that committed rows wait (call after the commit).
    pub(super) fn webhooks_committed(&self) {
        if !self.webhooks.routes.is_empty() {
            self.webhooks.queued.notify_one();
        }
    }

    /// Queues an event that no other write goes with (`signin.failed`).
    pub async fn emit_webhook(&self, event: WebhookEvent, now: DateTime<Utc>) -> Result<()> {
        if !self.webhooks.routes.iter().any(|route| route.events.contains(&event.event_type)) {
            return Ok(());
        }
        let txn = self.begin_write().await?;
        self.emit_in(&txn, event, now).await?;
        txn.commit().await?;
        self.webhooks_committed();
        Ok(())
    }

    /// One page of webhook rows, oldest first, after `after` (a delivery id).
    pub async fn list_webhook_deliveries(
        &self,
        filter: &WebhookDeliveryFilter,
        after: Option<&str>,
        limit: u64,
    ) -> Result<Vec<WebhookDelivery>> {
        use outbox::Column as C;
        let mut query = outbox::Entity::find().filter(C::Kind.eq(WEBHOOK_KIND));
        query = if filter.dead { query.filter(C::DeadAt.is_not_null()) } else { query.filter(C::DeadAt.is_null()) };
        if let Some(event_type) = &filter.event_type {
            query = query.filter(C::EventType.eq(event_type.as_str()));
        }
        if let Some(user_id) = &filter.user_id {
            query = query.filter(C::SubjectId.eq(user_id.as_str()));
        }
        if let Some(after) = after {
            query = query.filter(C::Id.gt(after));
        }
        let rows = query.order_by_asc(C::Id).limit(limit).all(&self.db).await?;
        Ok(rows
            .into_iter()
            .map(|row| WebhookDelivery {
                id: row.id,
                endpoint: row.endpoint.unwrap_or_default(),
                event_type: row.event_type.unwrap_or_default(),
                user_id: row.subject_id,
                attempts: row.attempts,
                created_at: row.created_at,
                next_attempt_at: row.next_attempt_at,
                dead_at: row.dead_at,
                last_error: row.last_error,
            })
            .collect())
    }

    /// Brings dead webhook row `id` back, due at `now`; false when there is no such dead row.
    /// Its attempt count and age stay (they are the fencing token and the retry budget), so it
    /// gets one more attempt: if that fails too, it is dead again.
    pub async fn retry_webhook_delivery(&self, id: &str, now: DateTime<Utc>) -> Result<bool> {
        use outbox::Column as C;
        let updated = outbox::Entity::update_many()
            .col_expr(C::DeadAt, Expr::value(Option::<DateTime<Utc>>::None))
            .col_expr(C::NextAttemptAt, Expr::value(now))
            .filter(C::Id.eq(id))
            .filter(C::Kind.eq(WEBHOOK_KIND))
            .filter(C::DeadAt.is_not_null())
            .exec(self.writer())
            .await?;
        let revived = updated.rows_affected == 1;
        if revived {
            self.webhooks.queued.notify_one();
        }
        Ok(revived)
    }
}
