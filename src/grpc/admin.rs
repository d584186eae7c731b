//! `keyward.v1.AdminService` over the service layer: thin handlers. The caller is an API key from
//! `authorization: Bearer kw_…` only (never a cookie, never a user's token), granted the one
//! scope each RPC needs before its request is looked at.

use std::pin::Pin;

use chrono::{DateTime, Utc};
use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status};

use super::{
    caller::{bearer_token, request_meta},
    convert::{self, count},
    status::to_status,
};
use crate::{
    error::{Error, FieldReason},
    pb::{self, admin_service_server::AdminService},
    service::{
        Services,
        admin::{
            Admin, AuditQuery, AuditRead, EventsWatch, Scope, SessionsRevoke, UserQuery, UserUpdate, UsersRead,
            UsersWrite, WebhookDeliveryQuery, WebhooksManage,
        },
    },
};

/// `keyward.v1.AdminService` over the service layer.
#[derive(Debug, Clone)]
pub struct AdminApi {
    services: Services,
}

impl AdminApi {
    pub fn new(services: Services) -> Self {
        Self { services }
    }

    /// The API key's grant of scope `S`: authentication, then the scope, before anything else.
    async fn admin<S: Scope, T>(&self, request: &Request<T>) -> Result<Admin<S>, Status> {
        let presented = bearer_token(request.metadata());
        let meta = request_meta(request);
        let granted = match self.services.authenticate_api_key(presented.as_deref(), meta.clone()).await {
            Ok(caller) => caller.grant::<S>(),
            Err(err) => Err(err),
        };
        if let Err(err) = &granted {
            // One audit row per refused call, bounded per client (service/refusals.rs).
            self.services.audit_admin_refusal(err, S::SCOPE.as_str(), &meta).await;
        }
        granted.map_err(to_status)
    }
}

/// An optional proto timestamp as a time; one out of range is the caller's fault.
fn time(field: &'static str, at: Option<prost_types::Timestamp>) -> Result<Option<DateTime<Utc>>, Status> {
    at.map(|at| {
        u32::try_from(at.nanos).ok().and_then(|nanos| DateTime::from_timestamp(at.seconds, nanos)).ok_or_else(|| {
            to_status(Error::field(field, FieldReason::Malformed, format!("{field} is not a valid time")))
        })
    })
    .transpose()
}

/// The messages of a WatchSessionEvents stream.
type WatchStream = Pin<Box<dyn Stream<Item = Result<pb::WatchSessionEventsResponse, Status>> + Send>>;

#[tonic::async_trait]
impl AdminService for AdminApi {
    type WatchSessionEventsStream = WatchStream;

    async fn watch_session_events(
        &self,
        request: Request<pb::WatchSessionEventsRequest>,
    ) -> Result<Response<Self::WatchSessionEventsStream>, Status> {
        let admin = self.admin::<EventsWatch, _>(&request).await?;
        let pb::WatchSessionEventsRequest { cursor } = request.into_inner();
        let items = self.services.admin_watch_session_events(admin, &cursor).await.map_err(to_status)?;
        let messages = items.map(|item| item.map(|item| convert::watch_item(&item)).map_err(to_status));
        Ok(Response::new(Box::pin(messages)))
    }

    async fn list_users(
        &self,
        request: Request<pb::ListUsersRequest>,
    ) -> Result<Response<pb::ListUsersResponse>, Status> {
        let admin = self.admin::<UsersRead, _>(&request).await?;
        let pb::ListUsersRequest { page_size, page_token, email_prefix, create_time_from, create_time_to, state } =
            request.into_inner();
        let disabled = match pb::UserStateFilter::try_from(state) {
            Ok(pb::UserStateFilter::Unspecified) => None,
            Ok(pb::UserStateFilter::Enabled) => Some(false),
            Ok(pb::UserStateFilter::Disabled) => Some(true),
            Err(_) => {
                return Err(to_status(Error::field("state", FieldReason::Malformed, "state is not a UserStateFilter")));
            }
        };
        let query = UserQuery {
            page_size,
            page_token: &page_token,
            email_prefix: &email_prefix,
            created_from: time("create_time_from", create_time_from)?,
            created_to: time("create_time_to", create_time_to)?,
            disabled,
        };
        let (users, next) = self.services.admin_list_users(&admin, query).await.map_err(to_status)?;
        Ok(Response::new(pb::ListUsersResponse {
            users: users.iter().map(convert::user).collect(),
            next_page_token: next.unwrap_or_default(),
        }))
    }

    async fn get_user(&self, request: Request<pb::GetUserRequest>) -> Result<Response<pb::GetUserResponse>, Status> {
        let admin = self.admin::<UsersRead, _>(&request).await?;
        let pb::GetUserRequest { user_id } = request.into_inner();
        let details = self.services.admin_get_user(&admin, &user_id).await.map_err(to_status)?;
        Ok(Response::new(pb::GetUserResponse {
            user: Some(convert::user(&details.user)),
            passkeys: details.passkeys.iter().map(convert::passkey).collect(),
            linked_accounts: details.linked_accounts.iter().map(convert::linked_account).collect(),
            sessions: details.sessions.iter().map(|s| convert::session(s, "")).collect(),
        }))
    }

    async fn create_user(
        &self,
        request: Request<pb::CreateUserRequest>,
    ) -> Result<Response<pb::CreateUserResponse>, Status> {
        let admin = self.admin::<UsersWrite, _>(&request).await?;
        let pb::CreateUserRequest { email, name, send_invitation } = request.into_inner();
        let user = self.services.admin_create_user(&admin, &email, &name, send_invitation).await.map_err(to_status)?;
        Ok(Response::new(pb::CreateUserResponse { user: Some(convert::user(&user)) }))
    }

    async fn update_user(
        &self,
        request: Request<pb::AdminServiceUpdateUserRequest>,
    ) -> Result<Response<pb::AdminServiceUpdateUserResponse>, Status> {
        let admin = self.admin::<UsersWrite, _>(&request).await?;
        let pb::AdminServiceUpdateUserRequest { user_id, update_mask, name, email, email_verified, roles } =
            request.into_inner();
        let paths = update_mask.map(|mask| mask.paths).unwrap_or_default();
        let update = UserUpdate { paths: &paths, name: &name, email: &email, email_verified, roles: &roles };
        let user = self.services.admin_update_user(&admin, &user_id, update).await.map_err(to_status)?;
        Ok(Response::new(pb::AdminServiceUpdateUserResponse { user: Some(convert::user(&user)) }))
    }

    async fn disable_user(
        &self,
        request: Request<pb::DisableUserRequest>,
    ) -> Result<Response<pb::DisableUserResponse>, Status> {
        let admin = self.admin::<UsersWrite, _>(&request).await?;
        let pb::DisableUserRequest { user_id } = request.into_inner();
        let (user, ended) = self.services.admin_disable_user(&admin, &user_id).await.map_err(to_status)?;
        Ok(Response::new(pb::DisableUserResponse { user: Some(convert::user(&user)), revoked_sessions: count(ended) }))
    }

    async fn enable_user(
        &self,
        request: Request<pb::EnableUserRequest>,
    ) -> Result<Response<pb::EnableUserResponse>, Status> {
        let admin = self.admin::<UsersWrite, _>(&request).await?;
        let pb::EnableUserRequest { user_id } = request.into_inner();
        let user = self.services.admin_enable_user(&admin, &user_id).await.map_err(to_status)?;
        Ok(Response::new(pb::EnableUserResponse { user: Some(convert::user(&user)) }))
    }

    async fn delete_user(
        &self,
        request: Request<pb::DeleteUserRequest>,
    ) -> Result<Response<pb::DeleteUserResponse>, Status> {
        let admin = self.admin::<UsersWrite, _>(&request).await?;
        let pb::DeleteUserRequest { user_id } = request.into_inner();
        self.services.admin_delete_user(&admin, &user_id).await.map_err(to_status)?;
        Ok(Response::new(pb::DeleteUserResponse {}))
    }

    async fn revoke_user_sessions(
        &self,
        request: Request<pb::RevokeUserSessionsRequest>,
    ) -> Result<Response<pb::RevokeUserSessionsResponse>, Status> {
        let admin = self.admin::<SessionsRevoke, _>(&request).await?;
        let pb::RevokeUserSessionsRequest { user_id } = request.into_inner();
        let ended = self.services.admin_revoke_user_sessions(&admin, &user_id).await.map_err(to_status)?;
        Ok(Response::new(pb::RevokeUserSessionsResponse { revoked_sessions: count(ended) }))
    }

    async fn list_audit_events(
        &self,
        request: Request<pb::ListAuditEventsRequest>,
    ) -> Result<Response<pb::ListAuditEventsResponse>, Status> {
        let admin = self.admin::<AuditRead, _>(&request).await?;
        let pb::ListAuditEventsRequest { page_size, page_token, user_id, kind, create_time_from, create_time_to } =
            request.into_inner();
        let query = AuditQuery {
            page_size,
            page_token: &page_token,
            user_id: &user_id,
            kind: &kind,
            from: time("create_time_from", create_time_from)?,
            to: time("create_time_to", create_time_to)?,
        };
        let (events, next) = self.services.admin_list_audit_events(&admin, query).await.map_err(to_status)?;
        Ok(Response::new(pb::ListAuditEventsResponse {
            audit_events: events.iter().map(convert::audit_event).collect(),
            next_page_token: next.unwrap_or_default(),
        }))
    }

    async fn list_webhook_deliveries(
        &self,
        request: Request<pb::ListWebhookDeliveriesRequest>,
    ) -> Result<Response<pb::ListWebhookDeliveriesResponse>, Status> {
        let admin = self.admin::<WebhooksManage, _>(&request).await?;
        let pb::ListWebhookDeliveriesRequest { page_size, page_token, state, event_type, user_id } =
            request.into_inner();
        let dead = match pb::WebhookDeliveryState::try_from(state) {
            Ok(pb::WebhookDeliveryState::Waiting) => Some(false),
            Ok(pb::WebhookDeliveryState::Dead) => Some(true),
            Ok(pb::WebhookDeliveryState::Unspecified) => None,
            Err(_) => {
                return Err(to_status(Error::field("state", FieldReason::Malformed, "state is WAITING or DEAD")));
            }
        };
        let query = WebhookDeliveryQuery {
            page_size,
            page_token: &page_token,
            dead,
            event_type: &event_type,
            user_id: &user_id,
        };
        let (deliveries, next) = self.services.admin_list_webhook_deliveries(&admin, query).await.map_err(to_status)?;
        Ok(Response::new(pb::ListWebhookDeliveriesResponse {
            webhook_deliveries: deliveries.iter().map(convert::webhook_delivery).collect(),
            next_page_token: next.unwrap_or_default(),
        }))
    }

    async fn retry_webhook_delivery(
        &self,
        request: Request<pb::RetryWebhookDeliveryRequest>,
    ) -> Result<Response<pb::RetryWebhookDeliveryResponse>, Status> {
        let admin = self.admin::<WebhooksManage, _>(&request).await?;
        let pb::RetryWebhookDeliveryRequest { delivery_id } = request.into_inner();
        self.services.admin_retry_webhook_delivery(&admin, &delivery_id).await.map_err(to_status)?;
        Ok(Response::new(pb::RetryWebhookDeliveryResponse {}))
    }
}
