//! `keyward.v1.PasskeyService`: passkey ceremonies and passkey management, as thin handlers.

use tonic::{Request, Response, Status};

use super::{
    caller::{CookieSettings, SignInContext, authenticate, authenticate_session, request_meta},
    convert::{self, count},
    status::to_status,
};
use crate::{
    pb::{self, passkey_service_server::PasskeyService},
    service::{CeremonyStart, Services},
};

/// `keyward.v1.PasskeyService` over the service layer.
#[derive(Debug, Clone)]
pub struct PasskeyApi {
    services: Services,
    cookies: CookieSettings,
}

impl PasskeyApi {
    pub fn new(services: Services, cookies: CookieSettings) -> Self {
        Self { services, cookies }
    }
}

#[tonic::async_trait]
impl PasskeyService for PasskeyApi {
    async fn start_passkey_registration(
        &self,
        request: Request<pb::StartPasskeyRegistrationRequest>,
    ) -> Result<Response<pb::StartPasskeyRegistrationResponse>, Status> {
        let caller = authenticate_session(&self.services, &request).await?;
        let meta = request_meta(&request);
        let pb::StartPasskeyRegistrationRequest {} = request.into_inner();
        let CeremonyStart { ceremony_id, options_json } =
            self.services.start_passkey_registration(&caller, &meta).await.map_err(to_status)?;
        Ok(Response::new(pb::StartPasskeyRegistrationResponse { ceremony_id, options_json }))
    }

    async fn finish_passkey_registration(
        &self,
        request: Request<pb::FinishPasskeyRegistrationRequest>,
    ) -> Result<Response<pb::FinishPasskeyRegistrationResponse>, Status> {
        let caller = authenticate_session(&self.services, &request).await?;
        let meta = request_meta(&request);
        let pb::FinishPasskeyRegistrationRequest { ceremony_id, credential_json, name, revoke_other_sessions } =
            request.into_inner();
        let (passkey, revoked) = self
            .services
            .finish_passkey_registration(&caller, &ceremony_id, &credential_json, &name, revoke_other_sessions, &meta)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::FinishPasskeyRegistrationResponse {
            passkey: Some(convert::passkey(&passkey)),
            revoked_sessions: count(revoked),
        }))
    }

    async fn start_passkey_sign_up(
        &self,
        request: Request<pb::StartPasskeySignUpRequest>,
    ) -> Result<Response<pb::StartPasskeySignUpResponse>, Status> {
        let meta = request_meta(&request);
        let pb::StartPasskeySignUpRequest { email, name } = request.into_inner();
        let CeremonyStart { ceremony_id, options_json } =
            self.services.start_passkey_sign_up(&email, &name, &meta).await.map_err(to_status)?;
        Ok(Response::new(pb::StartPasskeySignUpResponse { ceremony_id, options_json }))
    }

    async fn finish_passkey_sign_up(
        &self,
        request: Request<pb::FinishPasskeySignUpRequest>,
    ) -> Result<Response<pb::FinishPasskeySignUpResponse>, Status> {
        let meta = request_meta(&request);
        let context = SignInContext::of(&request);
        let pb::FinishPasskeySignUpRequest { ceremony_id, credential_json, passkey_name, code } = request.into_inner();
        let (signed_in, passkey) = self
            .services
            .finish_passkey_sign_up(&ceremony_id, &credential_json, &passkey_name, &code, &meta)
            .await
            .map_err(to_status)?;
        self.cookies
            .signed_in_response(&self.services, &context, &signed_in, |s| pb::FinishPasskeySignUpResponse {
                signed_in: Some(s),
                passkey: Some(convert::passkey(&passkey)),
            })
            .await
    }

    async fn start_passkey_login(
        &self,
        request: Request<pb::StartPasskeyLoginRequest>,
    ) -> Result<Response<pb::StartPasskeyLoginResponse>, Status> {
        let meta = request_meta(&request);
        let pb::StartPasskeyLoginRequest { email } = request.into_inner();
        let CeremonyStart { ceremony_id, options_json } =
            self.services.start_passkey_login(&email, &meta).await.map_err(to_status)?;
        Ok(Response::new(pb::StartPasskeyLoginResponse { ceremony_id, options_json }))
    }

    async fn finish_passkey_login(
        &self,
        request: Request<pb::FinishPasskeyLoginRequest>,
    ) -> Result<Response<pb::FinishPasskeyLoginResponse>, Status> {
        let meta = request_meta(&request);
        let context = SignInContext::of(&request);
        let pb::FinishPasskeyLoginRequest { ceremony_id, credential_json } = request.into_inner();
        let signed_in =
            self.services.finish_passkey_login(&ceremony_id, &credential_json, &meta).await.map_err(to_status)?;
        self.cookies
            .signed_in_response(&self.services, &context, &signed_in, |s| pb::FinishPasskeyLoginResponse {
                signed_in: Some(s),
            })
            .await
    }

    async fn list_passkeys(
        &self,
        request: Request<pb::ListPasskeysRequest>,
    ) -> Result<Response<pb::ListPasskeysResponse>, Status> {
        let caller = authenticate(&self.services, &request).await?;
        let pb::ListPasskeysRequest { page_size, page_token } = request.into_inner();
        let (passkeys, next) = self.services.list_passkeys(&caller, page_size, &page_token).await.map_err(to_status)?;
        Ok(Response::new(pb::ListPasskeysResponse {
            passkeys: passkeys.iter().map(convert::passkey).collect(),
            next_page_token: next.unwrap_or_default(),
        }))
    }

    async fn rename_passkey(
        &self,
        request: Request<pb::RenamePasskeyRequest>,
    ) -> Result<Response<pb::RenamePasskeyResponse>, Status> {
        let caller = authenticate_session(&self.services, &request).await?;
        let pb::RenamePasskeyRequest { passkey_id, name } = request.into_inner();
        let passkey = self.services.rename_passkey(&caller, &passkey_id, &name).await.map_err(to_status)?;
        Ok(Response::new(pb::RenamePasskeyResponse { passkey: Some(convert::passkey(&passkey)) }))
    }

    async fn delete_passkey(
        &self,
        request: Request<pb::DeletePasskeyRequest>,
    ) -> Result<Response<pb::DeletePasskeyResponse>, Status> {
        let caller = authenticate_session(&self.services, &request).await?;
        let meta = request_meta(&request);
        let pb::DeletePasskeyRequest { passkey_id, keep_other_sessions } = request.into_inner();
        let revoked =
            self.services.delete_passkey(&caller, &passkey_id, keep_other_sessions, &meta).await.map_err(to_status)?;
        Ok(Response::new(pb::DeletePasskeyResponse { revoked_sessions: count(revoked) }))
    }

    async fn start_passkey_reauthentication(
        &self,
        request: Request<pb::StartPasskeyReauthenticationRequest>,
    ) -> Result<Response<pb::StartPasskeyReauthenticationResponse>, Status> {
        let caller = authenticate_session(&self.services, &request).await?;
        let meta = request_meta(&request);
        let pb::StartPasskeyReauthenticationRequest {} = request.into_inner();
        let CeremonyStart { ceremony_id, options_json } =
            self.services.start_passkey_reauthentication(&caller, &meta).await.map_err(to_status)?;
        Ok(Response::new(pb::StartPasskeyReauthenticationResponse { ceremony_id, options_json }))
    }

    async fn finish_passkey_reauthentication(
        &self,
        request: Request<pb::FinishPasskeyReauthenticationRequest>,
    ) -> Result<Response<pb::FinishPasskeyReauthenticationResponse>, Status> {
        let caller = authenticate_session(&self.services, &request).await?;
        let pb::FinishPasskeyReauthenticationRequest { ceremony_id, credential_json } = request.into_inner();
        let session = self
            .services
            .finish_passkey_reauthentication(&caller, &ceremony_id, &credential_json)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::FinishPasskeyReauthenticationResponse {
            session: Some(convert::session(&session, &session.id)),
        }))
    }
}
