//! `keyward.v1.OAuthService`: providers, the OAuth round-trip and linked accounts, as thin handlers.

use tonic::{Request, Response, Status};

use super::{
    caller::{
        CookieSettings, SignInContext, authenticate, authenticate_session, optional_caller, request_meta as meta,
    },
    convert::{self, count},
    status::to_status,
};
use crate::{
    pb::{self, o_auth_service_server::OAuthService},
    service::{OAuthCallback, OAuthIntent, Services},
};

/// `keyward.v1.OAuthService` over the service layer.
#[derive(Debug, Clone)]
pub struct OAuthApi {
    services: Services,
    cookies: CookieSettings,
}

impl OAuthApi {
    pub fn new(services: Services, cookies: CookieSettings) -> Self {
        Self { services, cookies }
    }
}

#[tonic::async_trait]
impl OAuthService for OAuthApi {
    async fn list_providers(
        &self,
        request: Request<pb::ListProvidersRequest>,
    ) -> Result<Response<pb::ListProvidersResponse>, Status> {
        let pb::ListProvidersRequest {} = request.into_inner();
        let providers = self.services.list_oauth_providers().iter().map(convert::provider).collect();
        Ok(Response::new(pb::ListProvidersResponse { providers }))
    }

    async fn start_o_auth(
        &self,
        request: Request<pb::StartOAuthRequest>,
    ) -> Result<Response<pb::StartOAuthResponse>, Status> {
        let intent = match pb::IdentityProviderIntent::try_from(request.get_ref().intent) {
            Ok(pb::IdentityProviderIntent::Unspecified | pb::IdentityProviderIntent::SignIn) => OAuthIntent::SignIn,
            Ok(pb::IdentityProviderIntent::Link) => OAuthIntent::Link,
            Err(_) => {
                return Err(to_status(crate::error::Error::field(
                    "intent",
                    crate::error::FieldReason::Malformed,
                    "unknown intent",
                )));
            }
        };
        // Linking needs the caller; signing in ignores whatever session is around.
        let caller = match intent {
            OAuthIntent::Link => Some(authenticate_session(&self.services, &request).await?),
            OAuthIntent::SignIn => None,
        };
        let meta = meta(&request);
        let pb::StartOAuthRequest { provider, redirect_uri, intent: _ } = request.into_inner();
        let started = self
            .services
            .start_oauth(&provider, &redirect_uri, intent, caller.as_ref(), &meta)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::StartOAuthResponse {
            authorization_url: started.authorization_url,
            state: started.state.expose().to_owned(),
            expire_time: Some(convert::timestamp(started.expires_at)),
        }))
    }

    async fn o_auth_callback(
        &self,
        request: Request<pb::OAuthCallbackRequest>,
    ) -> Result<Response<pb::OAuthCallbackResponse>, Status> {
        let meta = meta(&request);
        let context = SignInContext::of(&request);
        let caller = optional_caller(&self.services, &request).await;
        let pb::OAuthCallbackRequest { state, code, error, iss } = request.into_inner();
        let callback = OAuthCallback { state: &state, code: &code, error: &error, issuer: &iss };
        let done = self.services.oauth_callback(callback, caller, &meta).await.map_err(to_status)?;
        let account = convert::linked_account(&done.account);
        let user_created = done.user_created;
        self.cookies
            .signed_in_response(&self.services, &context, &done.signed_in, |signed_in| pb::OAuthCallbackResponse {
                signed_in: Some(signed_in),
                account: Some(account),
                user_created,
            })
            .await
    }

    async fn list_linked_accounts(
        &self,
        request: Request<pb::ListLinkedAccountsRequest>,
    ) -> Result<Response<pb::ListLinkedAccountsResponse>, Status> {
        let caller = authenticate(&self.services, &request).await?;
        let pb::ListLinkedAccountsRequest { page_size, page_token } = request.into_inner();
        let (accounts, next) =
            self.services.list_linked_accounts(&caller, page_size, &page_token).await.map_err(to_status)?;
        Ok(Response::new(pb::ListLinkedAccountsResponse {
            accounts: accounts.iter().map(convert::linked_account).collect(),
            next_page_token: next.unwrap_or_default(),
        }))
    }

    async fn unlink_account(
        &self,
        request: Request<pb::UnlinkAccountRequest>,
    ) -> Result<Response<pb::UnlinkAccountResponse>, Status> {
        let caller = authenticate_session(&self.services, &request).await?;
        let meta = meta(&request);
        let pb::UnlinkAccountRequest { account_id, keep_other_sessions } = request.into_inner();
        let revoked =
            self.services.unlink_account(&caller, &account_id, keep_other_sessions, &meta).await.map_err(to_status)?;
        Ok(Response::new(pb::UnlinkAccountResponse { revoked_sessions: count(revoked) }))
    }
}
