//! Generic OpenID Connect providers: discovery (cached), authorization code + PKCE + nonce, and
//! ID-token validation (JWKS signature, iss, aud, exp, nonce) by the `openidconnect` crate.

use std::{borrow::Cow, time::Duration};

use chrono::{DateTime, Utc};
use openidconnect::{
    AuthenticationFlow, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken, IssuerUrl,
    Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, SignatureVerificationError,
    TokenResponse,
    core::{CoreClient, CoreJwsSigningAlgorithm, CoreProviderMetadata, CoreResponseType},
};
use tokio::sync::RwLock;

use super::{
    ProviderIdentity,
    providers::{ProviderInfo, ProviderKind},
    settings::OidcSettings,
    tokens::{token_error, tokens_from},
};
use crate::{
    domain::OAuthState,
    error::{Error, IdTokenCheck, Result},
    service::Clock,
};

/// How long discovery (and the JWKS fetched with it) is reused before being fetched again. An
/// unknown signing key also triggers a fresh fetch (key rotation at the provider).
const DISCOVERY_TTL: Duration = Duration::from_secs(3600);
/// After a failed discovery, StartOAuth for this provider answers OAUTH_PROVIDER_UNAVAILABLE at
/// once for this long instead of fetching again: 40 concurrent calls against a hung provider
/// made 40 outbound requests, each held for the HTTP timeout.
const DISCOVERY_FAILURE_TTL: Duration = Duration::from_secs(10);

/// Asymmetric algorithms only: HS256 would make the client secret a signing key, and `none` is
/// never acceptable (OpenID Connect Core §3.1.3.7 items 6–8).
const ALLOWED_ALGS: [CoreJwsSigningAlgorithm; 9] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EdDsa,
];

/// A configured OpenID Connect provider.
#[derive(Debug)]
pub(super) struct Oidc {
    pub(super) info: ProviderInfo,
    pub(super) allow_email_account_linking: bool,
    /// Own redirect URIs (empty: the shared list).
    pub(super) redirect_uris: Vec<String>,
    issuer: IssuerUrl,
    client_id: ClientId,
    client_secret: Option<ClientSecret>,
    scopes: Vec<String>,
    http: super::http::OutboundHttp,
    /// The service clock: the discovery cache ages on it, like every other cache.
    clock: Clock,
    discovered: RwLock<Option<(DateTime<Utc>, CoreProviderMetadata)>>,
    /// Held while fetching: one discovery in flight per provider (single flight).
    fetching: tokio::sync::Mutex<()>,
    /// When discovery last failed (the negative cache).
    failed_at: std::sync::Mutex<Option<DateTime<Utc>>>,
}

impl Oidc {
    pub(super) fn new(config: &OidcSettings, http: super::http::OutboundHttp, clock: Clock) -> Result<Self> {
        let issuer = IssuerUrl::new(config.issuer.clone())
            .map_err(|_| Error::internal(format_args!("oauth.oidc {}: issuer is not a URL", config.id)))?;
        Ok(Self {
            info: ProviderInfo {
                id: config.id.clone(),
                display_name: config.display_name.clone(),
                kind: ProviderKind::Oidc,
            },
            allow_email_account_linking: config.allow_email_account_linking,
            redirect_uris: config.redirect_uris.clone(),
            issuer,
            client_id: ClientId::new(config.client_id.clone()),
            client_secret: config.client_secret.clone(),
            scopes: config.scopes.iter().filter(|s| s.as_str() != "openid").cloned().collect(),
            http,
            clock,
            discovered: RwLock::new(None),
            fetching: tokio::sync::Mutex::new(()),
            failed_at: std::sync::Mutex::new(None),
        })
    }

    /// The issuer identifier: what discovery's `issuer` equals (checked by the crate) and what an
    /// RFC 9207 `iss` on the callback must be.
    pub(super) fn issuer(&self) -> &str {
        self.issuer.as_str()
    }

    /// The provider's metadata and keys: cached, or fetched when missing, stale or `refresh`.
    /// One fetch at a time per provider (the others wait for its result), and a failure is
    /// remembered for `DISCOVERY_FAILURE_TTL`.
    #[tracing::instrument(name = "oauth.oidc.discovery", skip_all, fields(otel.kind = "client"))]
    async fn metadata(&self, refresh: bool) -> Result<CoreProviderMetadata> {
        let asked_at = self.clock.now();
        if !refresh && let Some(metadata) = self.cached(None).await {
            return Ok(metadata);
        }
        self.recently_failed()?;
        let _single_flight = self.fetching.lock().await;
        // Whoever held the lock before may have fetched (or failed) meanwhile.
        if let Some(metadata) = self.cached(refresh.then_some(asked_at)).await {
            return Ok(metadata);
        }
        self.recently_failed()?;
        match CoreProviderMetadata::discover_async(self.issuer.clone(), &self.http).await {
            Ok(metadata) => {
                *self.discovered.write().await = Some((self.clock.now(), metadata.clone()));
                *self.failed_at.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = None;
                Ok(metadata)
            }
            Err(err) => {
                let source = std::error::Error::source(&err).map(ToString::to_string);
                tracing::warn!(provider = %self.info.id, error = %err, ?source, "OpenID Connect discovery failed");
                *self.failed_at.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(self.clock.now());
                Err(Error::OAuthProviderUnavailable)
            }
        }
    }

    /// The cached metadata if fresh (and, with `fetched_since`, fetched after that moment).
    async fn cached(&self, fetched_since: Option<DateTime<Utc>>) -> Option<CoreProviderMetadata> {
        let cached = self.discovered.read().await;
        let (at, metadata) = cached.as_ref()?;
        (younger_than(*at, self.clock.now(), DISCOVERY_TTL) && fetched_since.is_none_or(|since| *at >= since))
            .then(|| metadata.clone())
    }

    fn recently_failed(&self) -> Result<()> {
        let failed_at = *self.failed_at.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match failed_at {
            Some(at) if younger_than(at, self.clock.now(), DISCOVERY_FAILURE_TTL) => {
                Err(Error::OAuthProviderUnavailable)
            }
            _ => Ok(()),
        }
    }

    fn client(
        &self,
        metadata: CoreProviderMetadata,
    ) -> CoreClient<
        openidconnect::EndpointSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointMaybeSet,
        openidconnect::EndpointMaybeSet,
    > {
        CoreClient::from_provider_metadata(metadata, self.client_id.clone(), self.client_secret.clone())
    }

    /// The URL to send the browser to (discovers the provider first if needed).
    pub(super) async fn authorization_url(
        &self,
        state: &OAuthState,
        nonce: &Nonce,
        pkce: PkceCodeChallenge,
        redirect_uri: &RedirectUrl,
    ) -> Result<url::Url> {
        let client = self.client(self.metadata(false).await?);
        let state = CsrfToken::new(state.expose().to_owned());
        let nonce = nonce.clone();
        let (url, _, _) = client
            .authorize_url(AuthenticationFlow::<CoreResponseType>::AuthorizationCode, || state, || nonce)
            .add_scopes(self.scopes.iter().cloned().map(Scope::new))
            .set_pkce_challenge(pkce)
            .set_redirect_uri(Cow::Borrowed(redirect_uri))
            .url();
        Ok(url)
    }

    /// Exchanges the code, validates the ID token, and reads user info when the ID token does
    /// not carry an email.
    #[tracing::instrument(name = "oauth.oidc.identify", skip_all, fields(otel.kind = "client"))]
    pub(super) async fn identify(
        &self,
        code: AuthorizationCode,
        pkce: PkceCodeVerifier,
        nonce: &Nonce,
        redirect_uri: &RedirectUrl,
        clock: &Clock,
    ) -> Result<ProviderIdentity> {
        let metadata = self.metadata(false).await?;
        let client = self.client(metadata);
        let response = client
            .exchange_code(code)
            .map_err(|_| {
                tracing::warn!(provider = %self.info.id, "discovery document has no token endpoint");
                Error::OAuthProviderUnavailable
            })?
            .set_pkce_verifier(pkce)
            .set_redirect_uri(Cow::Borrowed(redirect_uri))
            .request_async(&self.http)
            .await
            .map_err(|err| token_error(&self.info.id, err))?;
        let id_token = response.id_token().ok_or(Error::OAuthIdTokenInvalid(IdTokenCheck::Missing))?;

        let verify = |client: &CoreClient<_, _, _, _, _, _>| {
            let clock = clock.clone();
            let verifier = client.id_token_verifier().set_allowed_algs(ALLOWED_ALGS).set_time_fn(move || clock.now());
            id_token.claims(&verifier, nonce).cloned()
        };
        let claims = match verify(&client) {
            Err(ClaimsVerificationError::SignatureVerification(SignatureVerificationError::NoMatchingKey)) => {
                // The provider may have rotated its keys since we cached them.
                let client = self.client(self.metadata(true).await?);
                verify(&client)
            }
            other => other,
        }
        .map_err(|err| {
            let check = id_token_check(&err);
            tracing::warn!(provider = %self.info.id, error = %err, check = check.as_str(), "ID token refused");
            Error::OAuthIdTokenInvalid(check)
        })?;

        let mut identity = ProviderIdentity {
            account_id: claims.subject().as_str().to_owned(),
            email: claims.email().map(|e| e.as_str().to_owned()),
            email_verified: claims.email_verified().unwrap_or(false),
            name: claims
                .name()
                .and_then(|n| n.get(None))
                .map(|n| n.as_str().to_owned())
                .or_else(|| claims.preferred_username().map(|u| u.as_str().to_owned())),
            image: claims.picture().and_then(|p| p.get(None)).map(|p| p.as_str().to_owned()),
            tokens: tokens_from(&response, Some(id_token.to_string()), clock.now()),
        };
        if identity.email.is_none() {
            self.add_user_info(&client, &response, &mut identity).await?;
        }
        Ok(identity)
    }

    /// Fills in email (and name/picture when missing) from the UserInfo endpoint, whose `sub`
    /// must equal the ID token's (OpenID Connect Core §5.3.4; checked by the crate).
    async fn add_user_info(
        &self,
        client: &CoreClient<
            openidconnect::EndpointSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointMaybeSet,
            openidconnect::EndpointMaybeSet,
        >,
        response: &openidconnect::core::CoreTokenResponse,
        identity: &mut ProviderIdentity,
    ) -> Result<()> {
        let Ok(request) = client.user_info(
            response.access_token().clone(),
            Some(openidconnect::SubjectIdentifier::new(identity.account_id.clone())),
        ) else {
            return Ok(()); // no UserInfo endpoint: the ID token is all there is
        };
        let info: openidconnect::core::CoreUserInfoClaims = request.request_async(&self.http).await.map_err(|err| {
            let source = std::error::Error::source(&err).map(ToString::to_string);
            tracing::warn!(provider = %self.info.id, error = %err, ?source, "user info request failed");
            match err {
                openidconnect::UserInfoError::Request(_) => Error::OAuthProviderUnavailable,
                _ => Error::OAuthTokenExchangeFailed,
            }
        })?;
        identity.email = info.email().map(|e| e.as_str().to_owned());
        identity.email_verified = info.email_verified().unwrap_or(false);
        if identity.name.is_none() {
            identity.name = info.name().and_then(|n| n.get(None)).map(|n| n.as_str().to_owned());
        }
        if identity.image.is_none() {
            identity.image = info.picture().and_then(|p| p.get(None)).map(|p| p.as_str().to_owned());
        }
        Ok(())
    }
}

fn id_token_check(err: &ClaimsVerificationError) -> IdTokenCheck {
    match err {
        ClaimsVerificationError::Expired(_) => IdTokenCheck::Expired,
        ClaimsVerificationError::InvalidAudience(_) => IdTokenCheck::Audience,
        ClaimsVerificationError::InvalidIssuer(_) => IdTokenCheck::Issuer,
        ClaimsVerificationError::InvalidNonce(_) => IdTokenCheck::Nonce,
        ClaimsVerificationError::SignatureVerification(_) => IdTokenCheck::Signature,
        _ => IdTokenCheck::Malformed,
    }
}

/// Whether something stamped `at` is younger than `ttl` at `now` (a clock that stepped
/// backwards makes it old: the document is fetched again).
fn younger_than(at: DateTime<Utc>, now: DateTime<Utc>, ttl: Duration) -> bool {
    (now - at).to_std().is_ok_and(|age| age < ttl)
}
