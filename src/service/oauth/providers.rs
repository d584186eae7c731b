//! The configured OAuth providers (GitHub, OIDC) behind one type, and what ListProviders shows.

use std::sync::Arc;

use super::{
    github::GitHub,
    oidc::Oidc,
    settings::{GITHUB_PROVIDER_ID, OAuthSettings},
};
use crate::{
    error::{Error, Result},
    service::Clock,
};

/// The protocol a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    GitHub,
    Oidc,
}

impl ProviderKind {
    /// Auth.js `accounts.type`.
    pub fn account_type(self) -> &'static str {
        match self {
            Self::GitHub => "oauth",
            Self::Oidc => "oidc",
        }
    }
}

/// What ListProviders shows of a provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderInfo {
    pub id: String,
    pub display_name: String,
    pub kind: ProviderKind,
}

#[derive(Debug)]
pub(super) enum Provider {
    GitHub(Box<GitHub>),
    Oidc(Box<Oidc>),
}

impl Provider {
    pub(super) fn info(&self) -> &ProviderInfo {
        match self {
            Self::GitHub(github) => &github.info,
            Self::Oidc(oidc) => &oidc.info,
        }
    }

    pub(super) fn allows_email_linking(&self) -> bool {
        match self {
            Self::GitHub(github) => github.allow_email_account_linking,
            Self::Oidc(oidc) => oidc.allow_email_account_linking,
        }
    }

    /// What an RFC 9207 `iss` callback parameter must be; None when no `iss` is acceptable.
    pub(super) fn issuer(&self) -> Option<&str> {
        match self {
            Self::GitHub(github) => github.issuer.as_deref(),
            Self::Oidc(oidc) => Some(oidc.issuer()),
        }
    }

    fn own_redirect_uris(&self) -> &[String] {
        match self {
            Self::GitHub(github) => &github.redirect_uris,
            Self::Oidc(oidc) => &oidc.redirect_uris,
        }
    }
}

/// The configured providers, the allowed redirect URIs and the HTTP client used to reach the
/// providers. Cheap to clone.
#[derive(Debug, Clone)]
pub struct OAuthProviders {
    providers: Arc<Vec<Provider>>,
    redirect_uris: Arc<Vec<String>>,
}

impl OAuthProviders {
    /// The name users know provider `id` by (its id when it is no longer configured).
    pub(super) fn display_name(&self, id: &str) -> String {
        self.get(id).map_or_else(|| id.to_owned(), |provider| provider.info().display_name.clone())
    }

    /// Builds the providers from validated settings. Nothing is fetched here: OIDC discovery
    /// happens on first use (and is cached), so a provider that is down at start does not stop
    /// Keyward from serving passwords and the other providers.
    pub fn new(settings: &OAuthSettings, clock: &Clock) -> Result<Self> {
        let timeout = settings.http_timeout;
        let http = reqwest::Client::builder()
            // The oauth2 crate docs: following redirects from a token or discovery
            // endpoint would let a provider (or whoever controls its DNS) point us at internal
            // addresses (SSRF).
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(timeout)
            .user_agent(concat!("keyward/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|err| Error::internal(format_args!("building the OAuth HTTP client: {err}")))?;
        let http = super::http::OutboundHttp::new(http);
        let mut providers = Vec::new();
        if let Some(github) = &settings.github {
            providers.push(Provider::GitHub(Box::new(GitHub::new(GITHUB_PROVIDER_ID, github, http.clone())?)));
        }
        for oidc in &settings.oidc {
            providers.push(Provider::Oidc(Box::new(Oidc::new(oidc, http.clone(), clock.clone())?)));
        }
        Ok(Self { providers: Arc::new(providers), redirect_uris: Arc::new(settings.redirect_uris.clone()) })
    }

    /// The enabled providers, in configuration order.
    pub fn list(&self) -> Vec<ProviderInfo> {
        self.providers.iter().map(|p| p.info().clone()).collect()
    }

    pub(super) fn get(&self, id: &str) -> Option<&Provider> {
        self.providers.iter().find(|p| p.info().id == id)
    }

    /// Whether `uri` may receive `provider`'s callback: one of the provider's own redirect URIs,
    /// or of the shared ones when it has none. Exact string comparison (RFC 9700 §4.1.3: no
    /// wildcards, prefixes or normalization).
    pub(super) fn redirect_uri_allowed(&self, provider: &Provider, uri: &str) -> bool {
        let own = provider.own_redirect_uris();
        let allowed = if own.is_empty() { self.redirect_uris.as_slice() } else { own };
        allowed.iter().any(|allowed| allowed == uri)
    }
}
