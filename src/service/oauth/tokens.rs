//! What the flows share: turning token responses into stored tokens, and provider failures
//! into domain errors (logged here with detail; the client gets only the reason).

use chrono::{DateTime, Utc};
use oauth2::{HttpClientError, RequestTokenError, TokenResponse};

use crate::{error::Error, store::ProviderTokens};

/// The tokens of a token response, for `accounts`. `id_token` is the raw JWT for OIDC.
pub(super) fn tokens_from(
    response: &impl TokenResponse<TokenType = oauth2::basic::BasicTokenType>,
    id_token: Option<String>,
    now: DateTime<Utc>,
) -> ProviderTokens {
    ProviderTokens {
        access_token: Some(response.access_token().secret().clone()),
        refresh_token: response.refresh_token().map(|t| t.secret().clone()),
        expires_at: response
            .expires_in()
            // The provider chose this number: an absurd one means "no known expiry", not a panic.
            .and_then(|d| crate::domain::later(now, d).ok())
            .map(|at| at.timestamp()),
        token_type: Some(response.token_type().as_ref().to_owned()),
        scope: response.scopes().map(|scopes| scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")),
        id_token,
    }
}

/// A failed token request: network trouble is UNAVAILABLE; anything the provider said
/// (invalid_grant, bad client credentials, PKCE mismatch, garbage) is a failed exchange.
pub(super) fn token_error<T: oauth2::ErrorResponse>(
    provider: &str,
    err: RequestTokenError<HttpClientError<reqwest::Error>, T>,
) -> Error {
    match err {
        RequestTokenError::Request(err) => {
            tracing::warn!(provider, error = %err, source = ?std::error::Error::source(&err).map(ToString::to_string), "token endpoint unreachable");
            Error::OAuthProviderUnavailable
        }
        RequestTokenError::ServerResponse(response) => {
            // The error code is the provider's registered word (RFC 6749 §5.2), not a secret.
            tracing::warn!(provider, error = %response, "token endpoint refused the code");
            Error::OAuthTokenExchangeFailed
        }
        RequestTokenError::Parse(err, _body) => {
            tracing::warn!(provider, error = %err, "token endpoint answered with something unusable");
            Error::OAuthTokenExchangeFailed
        }
        RequestTokenError::Other(detail) => {
            tracing::warn!(provider, %detail, "token request failed");
            Error::OAuthTokenExchangeFailed
        }
    }
}

/// A failed plain HTTP call to a provider (API, user info): timeouts and connection failures.
pub(super) fn http_error(provider: &str, what: &str, err: &reqwest::Error) -> Error {
    tracing::warn!(provider, what, error = %err, timeout = err.is_timeout(), "provider unreachable");
    Error::OAuthProviderUnavailable
}
