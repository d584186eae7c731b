//! `keyward.v1.VerificationService` over the service layer: mailed links for password reset,
//! email verification and magic-link sign-in; each finish by the link's token or the mail's code.

use tonic::{Request, Response, Status};

use super::{
    caller::{CookieSettings, SignInContext, authenticate_session, request_meta as meta},
    convert::{self, count},
    status::to_status,
};
use crate::{
    pb::{self, verification_service_server::VerificationService},
    service::{MailedProof, Services},
};

#[derive(Debug, Clone)]
pub struct VerificationApi {
    services: Services,
    cookies: CookieSettings,
}

impl VerificationApi {
    pub fn new(services: Services, cookies: CookieSettings) -> Self {
        Self { services, cookies }
    }
}

#[tonic::async_trait]
impl VerificationService for VerificationApi {
    async fn request_password_reset(
        &self,
        request: Request<pb::RequestPasswordResetRequest>,
    ) -> Result<Response<pb::RequestPasswordResetResponse>, Status> {
        let meta = meta(&request);
        let pb::RequestPasswordResetRequest { email, redirect_uri } = request.into_inner();
        self.services.request_password_reset(&email, &redirect_uri, &meta).await.map_err(to_status)?;
        Ok(Response::new(pb::RequestPasswordResetResponse {}))
    }

    async fn reset_password(
        &self,
        request: Request<pb::ResetPasswordRequest>,
    ) -> Result<Response<pb::ResetPasswordResponse>, Status> {
        let meta = meta(&request);
        let pb::ResetPasswordRequest { token, new_password, email, code, remove_other_factors } = request.into_inner();
        let proof = MailedProof { token: &token, email: &email, code: &code };
        let revoked =
            self.services.reset_password(proof, &new_password, remove_other_factors, &meta).await.map_err(to_status)?;
        Ok(Response::new(pb::ResetPasswordResponse { revoked_sessions: count(revoked) }))
    }

    async fn send_verification_email(
        &self,
        request: Request<pb::SendVerificationEmailRequest>,
    ) -> Result<Response<pb::SendVerificationEmailResponse>, Status> {
        let caller = authenticate_session(&self.services, &request).await?;
        let meta = meta(&request);
        let pb::SendVerificationEmailRequest { redirect_uri } = request.into_inner();
        self.services.send_verification_email(&caller, &redirect_uri, &meta).await.map_err(to_status)?;
        Ok(Response::new(pb::SendVerificationEmailResponse {}))
    }

    async fn verify_email(
        &self,
        request: Request<pb::VerifyEmailRequest>,
    ) -> Result<Response<pb::VerifyEmailResponse>, Status> {
        let meta = meta(&request);
        let pb::VerifyEmailRequest { token, email, code } = request.into_inner();
        let proof = MailedProof { token: &token, email: &email, code: &code };
        let user = self.services.verify_email(proof, &meta).await.map_err(to_status)?;
        Ok(Response::new(pb::VerifyEmailResponse { user: Some(convert::user(&user)) }))
    }

    async fn send_magic_link(
        &self,
        request: Request<pb::SendMagicLinkRequest>,
    ) -> Result<Response<pb::SendMagicLinkResponse>, Status> {
        let meta = meta(&request);
        let pb::SendMagicLinkRequest { email, redirect_uri } = request.into_inner();
        self.services.send_magic_link(&email, &redirect_uri, &meta).await.map_err(to_status)?;
        Ok(Response::new(pb::SendMagicLinkResponse {}))
    }

    async fn request_email_change(
        &self,
        request: Request<pb::RequestEmailChangeRequest>,
    ) -> Result<Response<pb::RequestEmailChangeResponse>, Status> {
        let caller = authenticate_session(&self.services, &request).await?;
        let meta = meta(&request);
        let pb::RequestEmailChangeRequest { new_email, redirect_uri } = request.into_inner();
        self.services.request_email_change(&caller, &new_email, &redirect_uri, &meta).await.map_err(to_status)?;
        Ok(Response::new(pb::RequestEmailChangeResponse {}))
    }

    async fn confirm_email_change(
        &self,
        request: Request<pb::ConfirmEmailChangeRequest>,
    ) -> Result<Response<pb::ConfirmEmailChangeResponse>, Status> {
        let meta = meta(&request);
        let pb::ConfirmEmailChangeRequest { token, email, code } = request.into_inner();
        let proof = MailedProof { token: &token, email: &email, code: &code };
        let user = self.services.confirm_email_change(proof, &meta).await.map_err(to_status)?;
        Ok(Response::new(pb::ConfirmEmailChangeResponse { user: Some(convert::user(&user)) }))
    }

    async fn sign_in_with_magic_link(
        &self,
        request: Request<pb::SignInWithMagicLinkRequest>,
    ) -> Result<Response<pb::SignInWithMagicLinkResponse>, Status> {
        let meta = meta(&request);
        let context = SignInContext::of(&request);
        let pb::SignInWithMagicLinkRequest { token, email, code } = request.into_inner();
        let proof = MailedProof { token: &token, email: &email, code: &code };
        let current = context.signed_in(&self.services).await;
        let signed_in =
            self.services.sign_in_with_magic_link(proof, current.as_ref(), &meta).await.map_err(to_status)?;
        self.cookies
            .signed_in_response(&self.services, &context, &signed_in, |s| pb::SignInWithMagicLinkResponse {
                signed_in: Some(s),
            })
            .await
    }
}
