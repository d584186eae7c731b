//! What the OAuth providers are configured with, as the service layer's own types: the edge
//! (`app::settings`) builds them from the `[oauth]` configuration. Client secrets are
//! `oauth2::ClientSecret`, whose `Debug` is redacted.

use std::time::Duration;

use oauth2::ClientSecret;

/// Provider id reserved for GitHub.
pub const GITHUB_PROVIDER_ID: &str = "github";

/// The providers, the shared redirect URIs and the bound on each call to a provider.
#[derive(Debug, Clone, Default)]
pub struct OAuthSettings {
    /// Callback URLs a provider without its own list may redirect to (compared exactly).
    pub redirect_uris: Vec<String>,
    pub http_timeout: Duration,
    pub github: Option<GitHubSettings>,
    pub oidc: Vec<OidcSettings>,
}

/// GitHub or GitHub Enterprise.
#[derive(Debug, Clone)]
pub struct GitHubSettings {
    pub display_name: String,
    pub client_id: String,
    pub client_secret: ClientSecret,
    pub scopes: Vec<String>,
    pub allow_email_account_linking: bool,
    pub authorization_url: String,
    pub token_url: String,
    /// REST API base (`/user`, `/user/emails` are read from it).
    pub api_url: String,
    /// Own redirect URIs (empty: the shared list).
    pub redirect_uris: Vec<String>,
    /// What an RFC 9207 `iss` on the callback must be; None: no `iss` is acceptable.
    pub issuer: Option<String>,
}

/// An OpenID Connect provider, found by discovery.
#[derive(Debug, Clone)]
pub struct OidcSettings {
    pub id: String,
    pub display_name: String,
    pub issuer: String,
    pub client_id: String,
    /// None: a public client.
    pub client_secret: Option<ClientSecret>,
    /// Scopes besides `openid` (always sent).
    pub scopes: Vec<String>,
    pub allow_email_account_linking: bool,
    /// Own redirect URIs (empty: the shared list).
    pub redirect_uris: Vec<String>,
}
