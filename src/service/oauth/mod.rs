//! Sign-in with GitHub and OpenID Connect providers (RFC 6749 authorization-code flow with PKCE,
//! following the OAuth 2.0 Security BCP, RFC 9700), and the accounts linked that way.
//!
//! - `settings`: what the providers are configured with (built at the edge);
//! - `providers`: the configured providers and the HTTP client they share;
//! - `github`, `oidc`: one protocol each — authorization URL, code exchange, who the user is;
//! - `flow/`: StartOAuth / OAuthCallback — the round-trip (`mod.rs`), the input checks
//!   (`input.rs`) and the account-linking rules (`linking.rs`);
//! - `manage`: listing and unlinking accounts.

mod flow;
mod github;
mod http;
mod manage;
mod oidc;
mod providers;
mod settings;
mod tokens;

pub use flow::{OAuthCallback, OAuthIntent, OAuthSignIn, StartedOAuth};
pub use providers::{OAuthProviders, ProviderInfo, ProviderKind};
pub use settings::{GITHUB_PROVIDER_ID, GitHubSettings, OAuthSettings, OidcSettings};

use crate::store::ProviderTokens;

/// Who the provider says the user is, after a successful code exchange.
#[derive(Debug, Clone)]
struct ProviderIdentity {
    /// Stable id at the provider (GitHub numeric id, OIDC `sub`).
    account_id: String,
    email: Option<String>,
    /// The provider asserts it verified `email` (GitHub: primary and verified; OIDC:
    /// `email_verified: true`).
    email_verified: bool,
    name: Option<String>,
    image: Option<String>,
    tokens: ProviderTokens,
}
