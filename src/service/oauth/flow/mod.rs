//! StartOAuth and OAuthCallback, in three parts by job: the round-trip protocol here (state,
//! PKCE, nonce, the single-use ceremony, the issuer check, the code exchange), the checks of
//! what the client sends in `input.rs`, and what a provider identity becomes — sign-in, link or
//! new user — in `linking.rs`.

mod input;
mod linking;

use chrono::{DateTime, Utc};
use oauth2::{AuthorizationCode, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl};
use openidconnect::Nonce;
use serde::{Deserialize, Serialize};

use super::providers::Provider;
use crate::{
    domain::{LinkedAccount, OAuthState},
    error::{Error, Result},
    service::{Caller, RequestMeta, Services, SessionCaller, SignedIn},
    store::NewCeremony,
};

/// Ceremony kind of a pending OAuth round-trip.
const CEREMONY_KIND: &str = "oauth";
/// How long a round-trip may take, start to callback.
const ROUND_TRIP_TTL: std::time::Duration = std::time::Duration::from_secs(10 * 60);

/// What the provider sent back to the redirect URI (RFC 6749 §4.1.2, RFC 9207 §2).
#[derive(Debug, Clone, Copy)]
pub struct OAuthCallback<'a> {
    pub state: &'a str,
    pub code: &'a str,
    /// The `error` parameter; empty on success.
    pub error: &'a str,
    /// The `iss` parameter; empty when the provider sent none.
    pub issuer: &'a str,
}

/// What a round-trip is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OAuthIntent {
    SignIn,
    /// Link the provider account to the signed-in caller.
    Link,
}

/// StartOAuth's answer.
#[derive(Debug, Clone)]
pub struct StartedOAuth {
    pub authorization_url: String,
    pub state: OAuthState,
    pub expires_at: DateTime<Utc>,
}

/// OAuthCallback's answer: a sign-in like Login's, plus the account it went through.
#[derive(Debug, Clone)]
pub struct OAuthSignIn {
    pub signed_in: SignedIn,
    pub account: LinkedAccount,
    pub user_created: bool,
}

/// What the server keeps between StartOAuth and OAuthCallback (in `ceremonies`, never sent to
/// the client): RFC 9700 §2.1.1 PKCE verifier, the nonce, and the exact redirect URI that the
/// token request must repeat (RFC 6749 §4.1.3).
#[derive(Serialize, Deserialize)]
struct PendingRoundTrip {
    provider: String,
    redirect_uri: String,
    pkce_verifier: String,
    nonce: Option<String>,
    link: bool,
}

impl Services {
    /// Begins a round-trip: checks the provider and the redirect URI, stores the state, PKCE
    /// verifier and nonce server-side, and returns the provider's authorization URL.
    /// `link_to` is the signed-in caller when the intent is to link.
    pub async fn start_oauth(
        &self,
        provider: &str,
        redirect_uri: &str,
        intent: OAuthIntent,
        link_to: Option<&SessionCaller>,
        meta: &RequestMeta,
    ) -> Result<StartedOAuth> {
        let provider = self.oauth_provider(provider)?;
        let redirect = self.allowed_redirect_uri(provider, redirect_uri)?;
        let user_id = match (intent, link_to) {
            (OAuthIntent::SignIn, _) => None,
            // Linking adds a way to sign in: a factor change, so the session must have proved a
            // factor recently. Checked here, where the round-trip starts; the callback needs the
            // same user's session token.
            (OAuthIntent::Link, Some(caller)) => {
                self.require_recent_authentication(caller)?;
                Some(caller.user.id.clone())
            }
            (OAuthIntent::Link, None) => return Err(Error::NotSignedIn),
        };

        self.throttle_client(crate::service::Budget::OAuthStart, meta)?;
        let state = OAuthState::generate()?;
        // RFC 9700 §2.1.1: PKCE with S256 for every client, confidential ones included.
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, nonce) = match provider {
            Provider::GitHub(github) => (github.authorization_url(&state, challenge, &redirect), None),
            Provider::Oidc(oidc) => {
                let nonce = Nonce::new_random();
                (oidc.authorization_url(&state, &nonce, challenge, &redirect).await?, Some(nonce))
            }
        };
        let pending = PendingRoundTrip {
            provider: provider.info().id.clone(),
            redirect_uri: redirect_uri.to_owned(),
            pkce_verifier: verifier.secret().clone(),
            nonce: nonce.map(|n| n.secret().clone()),
            link: user_id.is_some(),
        };
        let now = self.inner.clock.now();
        let expires_at = crate::domain::later(now, ROUND_TRIP_TTL)?;
        self.store_ceremony(NewCeremony {
            id: state.hash().as_str().to_owned(),
            kind: CEREMONY_KIND,
            user_id,
            state: serde_json::to_string(&pending).map_err(Error::internal)?,
            created_at: now,
            expires_at,
            client_key: Some(meta.client_key()),
        })
        .await?;
        Ok(StartedOAuth { authorization_url: url.to_string(), state, expires_at })
    }

    /// Finishes a round-trip with what the provider sent to the redirect URI, then applies the
    /// linking rules:
    /// 1. the provider account is linked → sign its user in (a link request for another user is
    ///    refused);
    /// 2. the round-trip was started to link → link to that user (the callback must carry the
    ///    same user's session);
    /// 3. the email belongs to a user → link only if the provider verified the email, the user
    ///    verified it with Keyward (`email_verified`), and the provider's config allows linking by
    ///    email; else OAUTH_ACCOUNT_NOT_LINKED;
    /// 4. otherwise → create the user and the account — only from an email the provider
    ///    verified (else OAUTH_EMAIL_UNVERIFIED): a new user must not claim an address nobody
    ///    proved to own.
    ///
    /// Every failure leaves nothing behind but the consumed state, and a refusal one audit row
    /// (bounded per client: `service/refusals.rs`).
    pub async fn oauth_callback(
        &self,
        callback: OAuthCallback<'_>,
        caller: Option<Caller>,
        meta: &RequestMeta,
    ) -> Result<OAuthSignIn> {
        let done = self.finish_oauth(callback, caller, meta).await;
        if let Err(err) = &done {
            self.audit_oauth_refusal(err, meta).await;
        }
        done
    }

    async fn finish_oauth(
        &self,
        callback: OAuthCallback<'_>,
        caller: Option<Caller>,
        meta: &RequestMeta,
    ) -> Result<OAuthSignIn> {
        let OAuthCallback { code, error: provider_error, issuer, .. } = callback;
        // Validate every field before consuming the state, so bad input costs the user nothing.
        let state = input::check_callback(&callback)?;

        // Single use (RFC 9700 §4.7.1 / §2.1.1): the DELETE … RETURNING takes it whether or not
        // what follows succeeds, on whichever replica gets there first.
        let ceremony = self
            .inner
            .store
            .take_ceremony(state.hash().as_str(), CEREMONY_KIND)
            .await?
            .ok_or(Error::OAuthStateInvalid)?;
        // The state was paid for by StartOAuth's `oauth_start` budget and is gone now: one
        // round-trip's calls to the provider per budgeted start (`crypto::work_budget`).
        crate::crypto::work_budget::spent();
        let now = self.inner.clock.now();
        if ceremony.expires_at <= now {
            return Err(Error::OAuthStateExpired);
        }
        let pending: PendingRoundTrip = serde_json::from_str(&ceremony.state).map_err(Error::internal)?;
        let provider = self.inner.oauth.get(&pending.provider).ok_or(Error::OAuthStateInvalid)?;
        // RFC 9207 §2.4: an authorization response that names an issuer must name the one this
        // round-trip went to, or it may come from another provider (a mix-up attack, RFC 9700
        // §4.4). Checked before the provider error, which comes from that same response.
        if !issuer.is_empty() && provider.issuer() != Some(issuer) {
            tracing::warn!(provider = %pending.provider, "callback iss is not the provider's issuer");
            return Err(Error::OAuthIssuerMismatch);
        }
        if !provider_error.is_empty() {
            return Err(input::provider_error_kind(provider_error));
        }
        let link_user = if pending.link {
            let started_by =
                ceremony.user_id.as_deref().ok_or_else(|| Error::internal("link ceremony without user"))?;
            // The state alone must not let one user's link round-trip finish in another's browser.
            // Linking adds a way to sign in: it takes the session token, as it did at the start.
            match caller {
                Some(caller) if caller.user.id != started_by => return Err(Error::OAuthLinkUserMismatch),
                Some(caller) => Some(caller.into_session_caller()?),
                None => return Err(Error::OAuthLinkUserMismatch),
            }
        } else {
            None
        };
        let redirect = RedirectUrl::new(pending.redirect_uri.clone()).map_err(Error::internal)?;
        let code = AuthorizationCode::new(code.to_owned());
        let verifier = PkceCodeVerifier::new(pending.pkce_verifier);
        let identity = match provider {
            Provider::GitHub(github) => github.identify(code, verifier, &redirect, now).await?,
            Provider::Oidc(oidc) => {
                let nonce = Nonce::new(pending.nonce.ok_or_else(|| Error::internal("OIDC ceremony without nonce"))?);
                oidc.identify(code, verifier, &nonce, &redirect, &self.inner.clock).await?
            }
        };
        // After a link the caller holds the new session this returns; the one they linked with
        // ends like any session presented to a sign-in (`Services::end_presented_sessions`).
        self.link_or_sign_in(provider, identity, link_user.as_ref(), meta).await
    }
}
