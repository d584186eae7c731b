//! StartOAuth and OAuthCallback: the round-trip and the account-linking rules.

use chrono::{DateTime, Utc};
use oauth2::{AuthorizationCode, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl};
use openidconnect::Nonce;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{ProviderIdentity, providers::Provider};
use crate::domain::LinkedAccount;
use crate::{
    domain::{DisplayName, Email, OAuthState},
    error::{Error, FieldReason, Result},
    service::{Caller, RequestMeta, Services, SessionCaller, SignedIn, audit::kind},
    store::{LinkedSignIn, NewAccount, NewCeremony, NewUser, ProviderProfileFields, new_id},
};

/// Ceremony kind of a pending OAuth round-trip.
const CEREMONY_KIND: &str = "oauth";
/// How long a round-trip may take, start to callback.
const ROUND_TRIP_TTL: std::time::Duration = std::time::Duration::from_secs(10 * 60);
/// Longest accepted values of the callback fields. Real codes are far shorter (GitHub: 20
/// characters, Google: ~100); this only bounds garbage.
const MAX_CODE_BYTES: usize = 2048;
const MAX_ERROR_BYTES: usize = 256;
const MAX_ISSUER_BYTES: usize = 2048;
const MAX_PROVIDER_ID_BYTES: usize = 64;
const MAX_REDIRECT_URI_BYTES: usize = 2048;
/// Profile images longer than this (or not http(s)) are dropped rather than stored.
const MAX_IMAGE_URL_BYTES: usize = 2048;

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
        if redirect_uri.is_empty() {
            return Err(Error::field("redirect_uri", FieldReason::Required, "redirect_uri is required"));
        }
        if redirect_uri.len() > MAX_REDIRECT_URI_BYTES {
            return Err(Error::field("redirect_uri", FieldReason::TooLong, "redirect_uri is too long"));
        }
        if !self.inner.oauth.redirect_uri_allowed(provider, redirect_uri) {
            return Err(Error::field(
                "redirect_uri",
                FieldReason::OAuthRedirectUriNotAllowed,
                "redirect_uri is not one of the redirect URIs configured for this provider",
            ));
        }
        let redirect = RedirectUrl::new(redirect_uri.to_owned()).map_err(|_| {
            Error::field("redirect_uri", FieldReason::OAuthRedirectUriNotAllowed, "redirect_uri is not a URL")
        })?;
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
    /// Every failure leaves nothing behind but the consumed state.
    pub async fn oauth_callback(
        &self,
        callback: OAuthCallback<'_>,
        caller: Option<Caller>,
        meta: &RequestMeta,
    ) -> Result<OAuthSignIn> {
        let OAuthCallback { state, code, error: provider_error, issuer } = callback;
        // Validate every field before consuming the state, so bad input costs the user nothing.
        let state = OAuthState::parse("state", state)?;
        if issuer.len() > MAX_ISSUER_BYTES {
            return Err(Error::field("iss", FieldReason::TooLong, "iss is too long"));
        }
        if provider_error.len() > MAX_ERROR_BYTES {
            return Err(Error::field("error", FieldReason::TooLong, "error is too long"));
        }
        if provider_error.is_empty() {
            if code.is_empty() {
                return Err(Error::field("code", FieldReason::Required, "code is required unless error is set"));
            }
            if code.len() > MAX_CODE_BYTES {
                return Err(Error::field("code", FieldReason::TooLong, "code is too long"));
            }
        }

        // Single use (RFC 9700 §4.7.1 / §2.1.1): the DELETE … RETURNING takes it whether or not
        // what follows succeeds, on whichever replica gets there first.
        let ceremony = self
            .inner
            .store
            .take_ceremony(state.hash().as_str(), CEREMONY_KIND)
            .await?
            .ok_or(Error::OAuthStateInvalid)?;
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
            return Err(provider_error_kind(provider_error));
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

    async fn link_or_sign_in(
        &self,
        provider: &Provider,
        identity: ProviderIdentity,
        link_user: Option<&SessionCaller>,
        meta: &RequestMeta,
    ) -> Result<OAuthSignIn> {
        let provider_id = provider.info().id.as_str();
        let now = self.inner.clock.now();
        let detail = |how: &str| json!({ "method": "oauth", "provider": provider_id, "how": how });

        // Rule 1: a known provider account signs its user in (fresh tokens are kept).
        if let Some(account) = self.inner.store.find_account(provider_id, &identity.account_id).await? {
            if let Some(caller) = link_user
                && caller.user.id != account.user_id
            {
                return Err(Error::OAuthAccountLinkedToOtherUser);
            }
            let user = self
                .inner
                .store
                .find_user(&account.user_id)
                .await?
                .ok_or_else(|| Error::internal("account without user"))?;
            let account = self.inner.store.update_account_tokens(&account.id, identity.tokens).await?;
            let signed_in = self.sign_in(user, meta).await?;
            self.audit(Some(&signed_in.user.id), kind::LOGIN_SUCCEEDED, detail("account")).await;
            return Ok(OAuthSignIn { signed_in, account: LinkedAccount::from(&account), user_created: false });
        }

        let new_account = |user_id: &str, identity: ProviderIdentity| NewAccount {
            id: new_id(),
            user_id: user_id.to_owned(),
            kind: provider.info().kind.account_type(),
            provider: provider_id.to_owned(),
            provider_account_id: identity.account_id,
            tokens: identity.tokens,
            created_at: now,
        };

        // Rule 2: an explicit link by the signed-in user who started the round-trip.
        if let Some(caller) = link_user {
            let (session, token) = self.new_session(&caller.user.id, meta, now)?;
            let linked =
                self.inner.store.link_account_with_session(new_account(&caller.user.id, identity), session).await?;
            self.audit(Some(&caller.user.id), kind::ACCOUNT_LINKED, detail("link")).await;
            return self.finish(linked, token, now, false);
        }

        let email = identity.email.as_deref().and_then(|raw| Email::parse("email", raw).ok());
        let Some(email) = email else {
            return Err(Error::OAuthEmailUnavailable);
        };

        // Rule 3: the email belongs to someone. Linking on an email the provider did not verify
        // would hand that user's account to whoever typed the address at the provider; linking
        // to a user who never proved the address would let whoever pre-registered it with a
        // password keep a way into the real owner's account (pre-account takeover).
        if let Some(existing) = self.inner.store.find_user_by_email(email.as_str()).await? {
            let both_verified = identity.email_verified && existing.email_verified.is_some();
            if !(both_verified && provider.allows_email_linking()) {
                return Err(Error::OAuthAccountNotLinked);
            }
            let (session, token) = self.new_session(&existing.id, meta, now)?;
            let linked =
                self.inner.store.link_account_with_session(new_account(&existing.id, identity), session).await?;
            self.audit(Some(&existing.id), kind::ACCOUNT_LINKED, detail("verified_email")).await;
            return self.finish(linked, token, now, false);
        }

        // Rule 4: a new user, from a verified email only. Users need an email (users.email is
        // NOT NULL), so an unverified one is refused rather than stored: it would claim the
        // address for whoever typed it at the provider.
        if !identity.email_verified {
            return Err(Error::OAuthEmailUnverified);
        }
        let user = NewUser {
            id: new_id(),
            email: email.to_string(),
            name: identity.name.as_deref().and_then(clean_name),
            password_hash: None,
            created_at: now,
        };
        let profile = ProviderProfileFields {
            email_verified: Some(now),
            image: identity.image.clone().filter(|url| usable_image_url(url)),
        };
        let (session, token) = self.new_session(&user.id, meta, now)?;
        let user_id = user.id.clone();
        let created = match self
            .inner
            .store
            .create_user_with_account(user, profile, new_account(&user_id, identity), session)
            .await
        {
            // Someone registered this email between our lookup and our insert: same as rule 3
            // without linking.
            Err(Error::EmailTaken) => return Err(Error::OAuthAccountNotLinked),
            other => other?,
        };
        self.audit(Some(&user_id), kind::USER_REGISTERED, detail("new_user")).await;
        self.finish(created, token, now, true)
    }

    fn finish(
        &self,
        linked: LinkedSignIn,
        token: crate::domain::SessionToken,
        now: DateTime<Utc>,
        user_created: bool,
    ) -> Result<OAuthSignIn> {
        let LinkedSignIn { user, account, session } = linked;
        let signed_in = self.signed_in(user, session, token, now)?;
        Ok(OAuthSignIn { signed_in, account: LinkedAccount::from(&account), user_created })
    }

    pub(super) fn oauth_provider(&self, id: &str) -> Result<&Provider> {
        if id.is_empty() {
            return Err(Error::field("provider", FieldReason::Required, "provider is required"));
        }
        if id.len() > MAX_PROVIDER_ID_BYTES {
            return Err(Error::field("provider", FieldReason::TooLong, "provider is too long"));
        }
        self.inner.oauth.get(id).ok_or_else(|| {
            Error::field("provider", FieldReason::OAuthProviderUnknown, "no provider with this id is configured")
        })
    }
}

/// The provider's `error` parameter (RFC 6749 §4.1.2.1). Only registered codes are echoed back.
fn provider_error_kind(error: &str) -> Error {
    match error {
        "access_denied" => Error::OAuthAccessDenied,
        "temporarily_unavailable" | "server_error" => Error::OAuthProviderUnavailable,
        "invalid_request" => Error::OAuthProviderError("invalid_request"),
        "unauthorized_client" => Error::OAuthProviderError("unauthorized_client"),
        "unsupported_response_type" => Error::OAuthProviderError("unsupported_response_type"),
        "invalid_scope" => Error::OAuthProviderError("invalid_scope"),
        "login_required" => Error::OAuthProviderError("login_required"),
        "consent_required" => Error::OAuthProviderError("consent_required"),
        "interaction_required" => Error::OAuthProviderError("interaction_required"),
        _ => Error::OAuthProviderError("other"),
    }
}

/// A provider's display name, made to fit our rules (trimmed, bounded, no control characters)
/// rather than refusing the sign-in over it.
fn clean_name(raw: &str) -> Option<String> {
    let cleaned: String = raw.chars().filter(|c| !c.is_control()).take(crate::domain::MAX_NAME_CHARS).collect();
    DisplayName::parse("name", &cleaned).ok().and_then(DisplayName::into_inner)
}

fn usable_image_url(raw: &str) -> bool {
    raw.len() <= MAX_IMAGE_URL_BYTES && url::Url::parse(raw).is_ok_and(|url| matches!(url.scheme(), "https" | "http"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_errors_echo_only_registered_codes() {
        assert!(matches!(provider_error_kind("access_denied"), Error::OAuthAccessDenied));
        assert!(matches!(provider_error_kind("temporarily_unavailable"), Error::OAuthProviderUnavailable));
        assert!(matches!(provider_error_kind("invalid_scope"), Error::OAuthProviderError("invalid_scope")));
        assert!(matches!(provider_error_kind("<script>"), Error::OAuthProviderError("other")));
    }

    #[test]
    fn provider_profiles_are_made_to_fit() {
        assert_eq!(clean_name("  Ada\u{0007} Lovelace "), Some("Ada Lovelace".to_owned()));
        assert_eq!(clean_name("   "), None);
        assert_eq!(clean_name(&"x".repeat(1000)).map(|n| n.chars().count()), Some(crate::domain::MAX_NAME_CHARS));
        assert!(usable_image_url("https://avatars.example.com/a.png"));
        assert!(!usable_image_url("javascript:alert(1)"));
        assert!(!usable_image_url(&format!("https://a.example/{}", "x".repeat(3000))));
    }
}
