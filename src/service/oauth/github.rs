//! GitHub (and GitHub Enterprise): OAuth 2.0 authorization code + PKCE, then the REST API for
//! who the user is. GitHub is not an OpenID Connect provider: there is no ID token, and the email
//! comes from `/user/emails`, where only the primary *and* verified address counts.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, Scope, TokenResponse, TokenUrl, basic::BasicClient,
};
use serde::Deserialize;

use super::{
    ProviderIdentity,
    providers::{ProviderInfo, ProviderKind},
    settings::GitHubSettings,
    tokens::{http_error, token_error, tokens_from},
};
use crate::{
    domain::OAuthState,
    error::{Error, Result},
};

/// A configured GitHub provider.
#[derive(Debug)]
pub(super) struct GitHub {
    pub(super) info: ProviderInfo,
    pub(super) allow_email_account_linking: bool,
    /// Own redirect URIs (empty: the shared list).
    pub(super) redirect_uris: Vec<String>,
    /// What an RFC 9207 `iss` on the callback must be; None: no `iss` is acceptable.
    pub(super) issuer: Option<String>,
    client_id: ClientId,
    client_secret: ClientSecret,
    auth_url: AuthUrl,
    token_url: TokenUrl,
    api_url: String,
    scopes: Vec<String>,
    http: super::http::OutboundHttp,
}

#[derive(Deserialize)]
struct GitHubUser {
    id: u64,
    login: String,
    name: Option<String>,
    avatar_url: Option<String>,
}

#[derive(Deserialize)]
struct GitHubEmail {
    email: String,
    primary: bool,
    verified: bool,
}

impl GitHub {
    pub(super) fn new(id: &str, config: &GitHubSettings, http: super::http::OutboundHttp) -> Result<Self> {
        let bad = |setting: &str| Error::internal(format_args!("oauth.github.{setting} is not a valid URL"));
        Ok(Self {
            info: ProviderInfo {
                id: id.to_owned(),
                display_name: config.display_name.clone(),
                kind: ProviderKind::GitHub,
            },
            allow_email_account_linking: config.allow_email_account_linking,
            redirect_uris: config.redirect_uris.clone(),
            issuer: config.issuer.clone(),
            client_id: ClientId::new(config.client_id.clone()),
            client_secret: config.client_secret.clone(),
            auth_url: AuthUrl::new(config.authorization_url.clone()).map_err(|_| bad("authorization_url"))?,
            token_url: TokenUrl::new(config.token_url.clone()).map_err(|_| bad("token_url"))?,
            api_url: config.api_url.trim_end_matches('/').to_owned(),
            scopes: config.scopes.clone(),
            http,
        })
    }

    fn client(
        &self,
    ) -> oauth2::basic::BasicClient<
        oauth2::EndpointSet,
        oauth2::EndpointNotSet,
        oauth2::EndpointNotSet,
        oauth2::EndpointNotSet,
        oauth2::EndpointSet,
    > {
        BasicClient::new(self.client_id.clone())
            .set_client_secret(self.client_secret.clone())
            .set_auth_uri(self.auth_url.clone())
            .set_token_uri(self.token_url.clone())
            // GitHub documents client_id/client_secret as form parameters.
            .set_auth_type(AuthType::RequestBody)
    }

    /// The URL to send the browser to.
    pub(super) fn authorization_url(
        &self,
        state: &OAuthState,
        pkce: PkceCodeChallenge,
        redirect_uri: &RedirectUrl,
    ) -> url::Url {
        let state = CsrfToken::new(state.expose().to_owned());
        let (url, _) = self
            .client()
            .authorize_url(|| state)
            .add_scopes(self.scopes.iter().cloned().map(Scope::new))
            .set_pkce_challenge(pkce)
            .set_redirect_uri(Cow::Borrowed(redirect_uri))
            .url();
        url
    }

    /// Exchanges the code (with the PKCE verifier and the same redirect URI), then reads the
    /// user and their emails with the new access token.
    #[tracing::instrument(name = "oauth.github.identify", skip_all, fields(otel.kind = "client"))]
    pub(super) async fn identify(
        &self,
        code: AuthorizationCode,
        pkce: PkceCodeVerifier,
        redirect_uri: &RedirectUrl,
        now: DateTime<Utc>,
    ) -> Result<ProviderIdentity> {
        let response = self
            .client()
            .exchange_code(code)
            .set_pkce_verifier(pkce)
            .set_redirect_uri(Cow::Borrowed(redirect_uri))
            .request_async(&self.http)
            .await
            .map_err(|err| token_error(&self.info.id, err))?;
        let access_token = response.access_token().secret().clone();
        let user: GitHubUser = self.get_json("/user", &access_token).await?;
        let emails: Vec<GitHubEmail> = self.get_json("/user/emails", &access_token).await?;
        let email = emails.into_iter().find(|e| e.primary && e.verified).map(|e| e.email);
        Ok(ProviderIdentity {
            account_id: user.id.to_string(),
            email_verified: email.is_some(),
            email,
            name: user.name.filter(|n| !n.trim().is_empty()).or(Some(user.login)),
            image: user.avatar_url,
            tokens: tokens_from(&response, None, now),
        })
    }

    async fn get_json<T: for<'de> Deserialize<'de>>(&self, path: &str, access_token: &str) -> Result<T> {
        let response = self
            .http
            .get(format!("{}{path}", self.api_url))?
            .bearer_auth(access_token)
            .header(reqwest::header::ACCEPT, "application/vnd.github+json")
            .header("x-github-api-version", "2022-11-28")
            .send()
            .await
            .map_err(|err| http_error(&self.info.id, path, &err))?;
        let status = response.status();
        if status.is_server_error() {
            tracing::warn!(provider = %self.info.id, path, %status, "provider API answered with a server error");
            return Err(Error::OAuthProviderUnavailable);
        }
        if !status.is_success() {
            tracing::warn!(provider = %self.info.id, path, %status, "provider API refused the new access token");
            return Err(Error::OAuthTokenExchangeFailed);
        }
        response.json().await.map_err(|err| {
            tracing::warn!(provider = %self.info.id, path, error = %err, "provider API answered with unexpected JSON");
            Error::OAuthTokenExchangeFailed
        })
    }
}
