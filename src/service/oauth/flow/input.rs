//! The checks of what StartOAuth and OAuthCallback are sent, before anything is read or written:
//! each bad field is INVALID_ARGUMENT naming it, and a callback's fields are all checked before
//! its state is consumed, so bad input costs the user nothing.

use oauth2::RedirectUrl;

use super::OAuthCallback;
use crate::{
    domain::OAuthState,
    error::{Error, FieldReason, Result},
    service::{Services, oauth::providers::Provider},
};

/// Longest accepted values of the callback fields. Real codes are far shorter (GitHub: 20
/// characters, Google: ~100); this only bounds garbage.
const MAX_CODE_BYTES: usize = 2048;
const MAX_ERROR_BYTES: usize = 256;
const MAX_ISSUER_BYTES: usize = 2048;
const MAX_PROVIDER_ID_BYTES: usize = 64;
const MAX_REDIRECT_URI_BYTES: usize = 2048;

impl Services {
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

    /// `redirect_uri` if it is one of `provider`'s (or the shared) redirect URIs, compared exactly.
    pub(super) fn allowed_redirect_uri(&self, provider: &Provider, redirect_uri: &str) -> Result<RedirectUrl> {
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
        RedirectUrl::new(redirect_uri.to_owned()).map_err(|_| {
            Error::field("redirect_uri", FieldReason::OAuthRedirectUriNotAllowed, "redirect_uri is not a URL")
        })
    }
}

/// Checks every field of a callback; returns its state.
pub(super) fn check_callback(callback: &OAuthCallback<'_>) -> Result<OAuthState> {
    let OAuthCallback { state, code, error: provider_error, issuer } = *callback;
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
    Ok(state)
}

/// The provider's `error` parameter (RFC 6749 §4.1.2.1). Only registered codes are echoed back.
pub(super) fn provider_error_kind(error: &str) -> Error {
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
}
