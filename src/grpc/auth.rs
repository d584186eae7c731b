//! `keyward.v1.AuthService`: register, login, sessions, password and profile, as thin handlers.

use tonic::{Request, Response, Status};

use super::{
    caller::{CookieSettings, SignInContext, authenticate, authenticate_session, request_meta as meta},
    convert::{self, count},
    status::to_status,
};
use crate::{
    error::{Error, FieldReason},
    pb::{self, auth_service_server::AuthService},
    service::{Caller, Services, SessionCaller, SignedIn},
};

/// Longest token accepted in `GetSessionRequest.token`.
const MAX_TOKEN_FIELD_BYTES: usize = 4096;

/// `keyward.v1.AuthService` over the service layer.
#[derive(Debug, Clone)]
pub struct AuthApi {
    services: Services,
    cookies: CookieSettings,
}

impl AuthApi {
    pub fn new(services: Services, cookies: CookieSettings) -> Self {
        Self { services, cookies }
    }

    async fn caller<T>(&self, request: &Request<T>) -> Result<Caller, Status> {
        authenticate(&self.services, request).await
    }

    async fn session_caller<T>(&self, request: &Request<T>) -> Result<SessionCaller, Status> {
        authenticate_session(&self.services, request).await
    }

    async fn signed_in_response<T>(
        &self,
        context: &SignInContext,
        signed_in: &SignedIn,
        wrap: impl FnOnce(pb::SignedIn) -> T,
    ) -> Result<Response<T>, Status> {
        self.cookies.signed_in_response(&self.services, context, signed_in, wrap).await
    }
}

#[tonic::async_trait]
impl AuthService for AuthApi {
    async fn register(&self, request: Request<pb::RegisterRequest>) -> Result<Response<pb::RegisterResponse>, Status> {
        let meta = meta(&request);
        let context = SignInContext::of(&request);
        let pb::RegisterRequest { email, password, name } = request.into_inner();
        let signed_in = self.services.register(&email, &password, &name, &meta).await.map_err(to_status)?;
        self.signed_in_response(&context, &signed_in, |s| pb::RegisterResponse { signed_in: Some(s) }).await
    }

    async fn login(&self, request: Request<pb::LoginRequest>) -> Result<Response<pb::LoginResponse>, Status> {
        let meta = meta(&request);
        let context = SignInContext::of(&request);
        let pb::LoginRequest { email, password } = request.into_inner();
        let signed_in = self.services.login(&email, &password, &meta).await.map_err(to_status)?;
        self.signed_in_response(&context, &signed_in, |s| pb::LoginResponse { signed_in: Some(s) }).await
    }

    async fn logout(&self, request: Request<pb::LogoutRequest>) -> Result<Response<pb::LogoutResponse>, Status> {
        let caller = self.session_caller(&request).await?;
        let pb::LogoutRequest {} = request.into_inner();
        self.services.logout(&caller).await.map_err(to_status)?;
        let mut response = Response::new(pb::LogoutResponse {});
        self.cookies.clear(&mut response)?;
        Ok(response)
    }

    async fn get_session(
        &self,
        request: Request<pb::GetSessionRequest>,
    ) -> Result<Response<pb::GetSessionResponse>, Status> {
        let pb::GetSessionRequest { token } = request.get_ref();
        let caller = if token.is_empty() {
            self.caller(&request).await?
        } else if token.len() > MAX_TOKEN_FIELD_BYTES {
            return Err(to_status(Error::field(
                "token",
                FieldReason::TooLong,
                "token is longer than any token Keyward issues",
            )));
        } else {
            self.services.authenticate(token).await.map_err(to_status)?
        };
        Ok(Response::new(pb::GetSessionResponse {
            user: Some(convert::user(&caller.user())),
            session: Some(convert::session(&caller.session(), caller.session_id())),
        }))
    }

    async fn refresh_session(
        &self,
        request: Request<pb::RefreshSessionRequest>,
    ) -> Result<Response<pb::RefreshSessionResponse>, Status> {
        let caller = self.session_caller(&request).await?;
        let pb::RefreshSessionRequest {} = request.into_inner();
        let (session, access_token) = self.services.refresh(&caller).await.map_err(to_status)?;
        Ok(Response::new(pb::RefreshSessionResponse {
            session: Some(convert::session(&session, &session.id)),
            access_token: Some(convert::access_token(&access_token)),
        }))
    }

    async fn list_sessions(
        &self,
        request: Request<pb::ListSessionsRequest>,
    ) -> Result<Response<pb::ListSessionsResponse>, Status> {
        let caller = self.caller(&request).await?;
        let pb::ListSessionsRequest { page_size, page_token } = request.into_inner();
        let (sessions, next) = self.services.list_sessions(&caller, page_size, &page_token).await.map_err(to_status)?;
        Ok(Response::new(pb::ListSessionsResponse {
            sessions: sessions.iter().map(|s| convert::session(s, caller.session_id())).collect(),
            next_page_token: next.unwrap_or_default(),
        }))
    }

    async fn revoke_session(
        &self,
        request: Request<pb::RevokeSessionRequest>,
    ) -> Result<Response<pb::RevokeSessionResponse>, Status> {
        let caller = self.session_caller(&request).await?;
        let pb::RevokeSessionRequest { session_id } = request.into_inner();
        self.services.revoke_session(&caller, &session_id).await.map_err(to_status)?;
        let mut response = Response::new(pb::RevokeSessionResponse {});
        if session_id.trim() == caller.session_id() {
            self.cookies.clear(&mut response)?;
        }
        Ok(response)
    }

    async fn change_password(
        &self,
        request: Request<pb::ChangePasswordRequest>,
    ) -> Result<Response<pb::ChangePasswordResponse>, Status> {
        let caller = self.session_caller(&request).await?;
        let meta = meta(&request);
        let pb::ChangePasswordRequest { current_password, new_password } = request.into_inner();
        let revoked =
            self.services.change_password(&caller, &current_password, &new_password, &meta).await.map_err(to_status)?;
        Ok(Response::new(pb::ChangePasswordResponse { revoked_sessions: count(revoked) }))
    }

    async fn update_user(
        &self,
        request: Request<pb::UpdateUserRequest>,
    ) -> Result<Response<pb::UpdateUserResponse>, Status> {
        let caller = self.session_caller(&request).await?;
        let pb::UpdateUserRequest { name } = request.into_inner();
        let user = self.services.update_user_name(&caller, &name).await.map_err(to_status)?;
        Ok(Response::new(pb::UpdateUserResponse { user: Some(convert::user(&user)) }))
    }

    async fn revoke_other_sessions(
        &self,
        request: Request<pb::RevokeOtherSessionsRequest>,
    ) -> Result<Response<pb::RevokeOtherSessionsResponse>, Status> {
        let caller = self.session_caller(&request).await?;
        let pb::RevokeOtherSessionsRequest {} = request.into_inner();
        let revoked = self.services.revoke_other_sessions(&caller).await.map_err(to_status)?;
        Ok(Response::new(pb::RevokeOtherSessionsResponse { revoked_sessions: count(revoked) }))
    }

    async fn reauthenticate(
        &self,
        request: Request<pb::ReauthenticateRequest>,
    ) -> Result<Response<pb::ReauthenticateResponse>, Status> {
        let caller = self.session_caller(&request).await?;
        let pb::ReauthenticateRequest { password } = request.into_inner();
        let session = self.services.reauthenticate_with_password(&caller, &password).await.map_err(to_status)?;
        Ok(Response::new(pb::ReauthenticateResponse { session: Some(convert::session(&session, &session.id)) }))
    }

    async fn delete_account(
        &self,
        request: Request<pb::DeleteAccountRequest>,
    ) -> Result<Response<pb::DeleteAccountResponse>, Status> {
        let caller = self.session_caller(&request).await?;
        let pb::DeleteAccountRequest {} = request.into_inner();
        self.services.delete_account(&caller).await.map_err(to_status)?;
        let mut response = Response::new(pb::DeleteAccountResponse {});
        self.cookies.clear(&mut response)?;
        Ok(response)
    }
}
