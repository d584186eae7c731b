//! `[oauth]` settings: the allowed redirect URIs, GitHub, and any number of OpenID Connect
//! providers. Shaped like Auth.js / better-auth provider options so that they read familiar:
//!
//! ```toml
//! [oauth]
//! redirect_uris = ["https://app.example.com/auth/callback"]
//!
//! [oauth.github]
//! client_id = "Iv1.0123"
//! client_secret = "…"
//!
//! [[oauth.oidc]]
//! id = "google"
//! name = "Google"
//! issuer = "https://accounts.google.com"
//! client_id = "…"
//! client_secret = "…"
//! allow_email_account_linking = true
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{ConfigError, validate::invalid};

pub use crate::service::GITHUB_PROVIDER_ID;

/// All OAuth settings. No provider configured: OAuth is off and ListProviders is empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OAuthConfig {
    /// Callback URLs of your web app that providers may redirect to. StartOAuth accepts only
    /// these, compared exactly (RFC 9700 §4.1.3: no pattern or prefix matching).
    #[serde(deserialize_with = "super::list_or_comma_separated")]
    pub redirect_uris: Vec<String>,
    /// Bound on each call to a provider (discovery, token, user info); past it the RPC answers
    /// UNAVAILABLE instead of hanging.
    pub http_timeout_ms: u64,
    pub github: Option<GitHubConfig>,
    pub oidc: Vec<OidcConfig>,
}

impl Default for OAuthConfig {
    fn default() -> Self {
        Self { redirect_uris: Vec::new(), http_timeout_ms: 10_000, github: None, oidc: Vec::new() }
    }
}

/// GitHub or GitHub Enterprise. The endpoint URLs default to github.com.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GitHubConfig {
    pub client_id: String,
    pub client_secret: String,
    /// Button text.
    pub name: String,
    pub scopes: Vec<String>,
    /// Link a GitHub sign-in to an existing user with the same email, when GitHub says the email
    /// is verified and the existing user verified it with Keyward (Auth.js:
    /// `allowDangerousEmailAccountLinking`). Off: the sign-in is refused with
    /// OAUTH_ACCOUNT_NOT_LINKED.
    pub allow_email_account_linking: bool,
    pub authorization_url: String,
    pub token_url: String,
    /// REST API base (`/user`, `/user/emails` are read from it). Enterprise: `https://HOST/api/v3`.
    pub api_url: String,
    /// Redirect URIs for this provider only; empty: `oauth.redirect_uris`.
    #[serde(deserialize_with = "super::list_or_comma_separated")]
    pub redirect_uris: Vec<String>,
    /// The issuer identifier the authorization server puts in the `iss` callback parameter (RFC
    /// 9207). GitHub sends none; when unset, a callback that carries one is refused.
    pub issuer: Option<String>,
}

impl Default for GitHubConfig {
    fn default() -> Self {
        Self {
            client_id: String::new(),
            client_secret: String::new(),
            name: "GitHub".into(),
            scopes: vec!["read:user".into(), "user:email".into()],
            allow_email_account_linking: false,
            authorization_url: "https://github.com/login/oauth/authorize".into(),
            token_url: "https://github.com/login/oauth/access_token".into(),
            api_url: "https://api.github.com".into(),
            redirect_uris: Vec::new(),
            issuer: None,
        }
    }
}

/// A generic OpenID Connect provider, found by discovery (`<issuer>/.well-known/openid-configuration`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcConfig {
    /// Provider id used in the API and stored in `accounts.provider` (`[a-z0-9-]`, e.g. "google").
    pub id: String,
    /// Button text; defaults to the id.
    #[serde(default)]
    pub name: Option<String>,
    pub issuer: String,
    pub client_id: String,
    #[serde(default)]
    pub client_secret: String,
    /// Scopes besides `openid` (always sent).
    #[serde(default = "default_oidc_scopes")]
    pub scopes: Vec<String>,
    /// As for GitHub: link to an existing user by email only when the provider asserts
    /// `email_verified`, the existing user verified the address with Keyward, and this is on.
    #[serde(default)]
    pub allow_email_account_linking: bool,
    /// Redirect URIs for this provider only; empty: `oauth.redirect_uris`.
    #[serde(default, deserialize_with = "super::list_or_comma_separated")]
    pub redirect_uris: Vec<String>,
}

// Debug by hand: configuration may be printed, client secrets must not be.
impl fmt::Debug for GitHubConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitHubConfig")
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("name", &self.name)
            .field("scopes", &self.scopes)
            .field("allow_email_account_linking", &self.allow_email_account_linking)
            .field("authorization_url", &self.authorization_url)
            .field("token_url", &self.token_url)
            .field("api_url", &self.api_url)
            .field("redirect_uris", &self.redirect_uris)
            .field("issuer", &self.issuer)
            .finish()
    }
}

impl fmt::Debug for OidcConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OidcConfig")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("scopes", &self.scopes)
            .field("allow_email_account_linking", &self.allow_email_account_linking)
            .field("redirect_uris", &self.redirect_uris)
            .finish()
    }
}

fn default_oidc_scopes() -> Vec<String> {
    vec!["email".into(), "profile".into()]
}

impl OidcConfig {
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.id)
    }
}

impl OAuthConfig {
    /// True when at least one provider is configured.
    pub fn enabled(&self) -> bool {
        self.github.is_some() || !self.oidc.is_empty()
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        validate_redirect_uris("oauth.redirect_uris", &self.redirect_uris)?;
        // Each provider needs somewhere to send the browser back: its own list or the shared one.
        let own_lists =
            self.github.iter().map(|github| ("oauth.github.redirect_uris".to_owned(), &github.redirect_uris)).chain(
                self.oidc
                    .iter()
                    .enumerate()
                    .map(|(index, oidc)| (format!("oauth.oidc[{index}].redirect_uris"), &oidc.redirect_uris)),
            );
        for (setting, uris) in own_lists {
            validate_redirect_uris(&setting, uris)?;
            if uris.is_empty() && self.redirect_uris.is_empty() {
                return Err(invalid(
                    "oauth.redirect_uris",
                    "list at least one callback URL of your app when a provider is configured",
                ));
            }
        }
        if !(100..=120_000).contains(&self.http_timeout_ms) {
            return Err(invalid("oauth.http_timeout_ms", "must be between 100 and 120000"));
        }
        if let Some(github) = &self.github {
            require("oauth.github.client_id", &github.client_id)?;
            require("oauth.github.client_secret", &github.client_secret)?;
            require("oauth.github.name", &github.name)?;
            if let Some(issuer) = &github.issuer {
                validate_endpoint(issuer)
                    .map_err(|message| invalid("oauth.github.issuer", format!("{issuer:?}: {message}")))?;
            }
            for (setting, url) in [
                ("oauth.github.authorization_url", &github.authorization_url),
                ("oauth.github.token_url", &github.token_url),
                ("oauth.github.api_url", &github.api_url),
            ] {
                validate_endpoint(url).map_err(|message| invalid(setting, format!("{url:?}: {message}")))?;
            }
        }
        let mut seen = vec![GITHUB_PROVIDER_ID];
        for (index, oidc) in self.oidc.iter().enumerate() {
            let setting = |key: &str| format!("oauth.oidc[{index}].{key}");
            let id_ok = !oidc.id.is_empty()
                && oidc.id.len() <= 32
                && oidc.id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !id_ok {
                return Err(invalid(&setting("id"), "must be 1-32 characters of a-z, 0-9 and -"));
            }
            if seen.contains(&oidc.id.as_str()) {
                return Err(invalid(&setting("id"), format!("{:?} is used by another provider", oidc.id)));
            }
            seen.push(&oidc.id);
            validate_endpoint(&oidc.issuer)
                .map_err(|message| invalid(&setting("issuer"), format!("{:?}: {message}", oidc.issuer)))?;
            require(&setting("client_id"), &oidc.client_id)?;
            if oidc.name.as_deref().is_some_and(|name| name.trim().is_empty()) {
                return Err(invalid(&setting("name"), "must not be empty when set"));
            }
        }
        Ok(())
    }
}

fn validate_redirect_uris(setting: &str, uris: &[String]) -> Result<(), ConfigError> {
    for uri in uris {
        validate_redirect_uri(uri).map_err(|message| invalid(setting, format!("{uri:?}: {message}")))?;
    }
    Ok(())
}

fn require(setting: &str, value: &str) -> Result<(), ConfigError> {
    if value.trim().is_empty() { Err(invalid(setting, "must be set")) } else { Ok(()) }
}

/// A provider endpoint: https, or http only on a loopback host (local development and tests).
fn validate_endpoint(raw: &str) -> Result<(), &'static str> {
    let url = url::Url::parse(raw).map_err(|_| "not a URL")?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => return Err("must be https (http only for localhost)"),
        _ => return Err("must be an https URL"),
    }
    if url.host_str().is_none() || url.fragment().is_some() || url.query().is_some() {
        return Err("must be scheme://host[:port][/path] without query or fragment");
    }
    Ok(())
}

/// A redirect URI: absolute, https (http only on loopback: RFC 6749 §3.1.2.1, RFC 8252 §8.3), no
/// fragment (RFC 6749 §3.1.2).
fn validate_redirect_uri(raw: &str) -> Result<(), &'static str> {
    let url = url::Url::parse(raw).map_err(|_| "not a URL")?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        _ => return Err("must be https (http only for localhost)"),
    }
    if url.host_str().is_none() || url.fragment().is_some() {
        return Err("must be an absolute URL without a fragment");
    }
    Ok(())
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => domain == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn github() -> GitHubConfig {
        GitHubConfig { client_id: "id".into(), client_secret: "hunter2".into(), ..GitHubConfig::default() }
    }

    fn oidc(id: &str) -> OidcConfig {
        OidcConfig {
            id: id.into(),
            name: None,
            issuer: "https://idp.example.com".into(),
            client_id: "client".into(),
            client_secret: String::new(),
            scopes: default_oidc_scopes(),
            allow_email_account_linking: false,
            redirect_uris: Vec::new(),
        }
    }

    fn base() -> OAuthConfig {
        OAuthConfig { redirect_uris: vec!["https://app.example.com/cb".into()], ..OAuthConfig::default() }
    }

    #[test]
    fn misconfigurations_name_their_setting() {
        let cases: Vec<(&str, OAuthConfig)> = vec![
            ("oauth.redirect_uris", OAuthConfig { github: Some(github()), ..OAuthConfig::default() }),
            ("oauth.redirect_uris", OAuthConfig { redirect_uris: vec!["http://app.example.com/cb".into()], ..base() }),
            ("oauth.redirect_uris", OAuthConfig { redirect_uris: vec!["https://a.example/cb#x".into()], ..base() }),
            (
                "oauth.github.client_secret",
                OAuthConfig { github: Some(GitHubConfig { client_secret: String::new(), ..github() }), ..base() },
            ),
            (
                "oauth.github.token_url",
                OAuthConfig { github: Some(GitHubConfig { token_url: "ftp://x".into(), ..github() }), ..base() },
            ),
            ("oauth.oidc[0].id", OAuthConfig { oidc: vec![oidc("Git Hub")], ..base() }),
            ("oauth.oidc[1].id", OAuthConfig { oidc: vec![oidc("a"), oidc("a")], ..base() }),
            ("oauth.oidc[0].id", OAuthConfig { oidc: vec![oidc("github")], ..base() }),
            (
                "oauth.oidc[0].issuer",
                OAuthConfig {
                    oidc: vec![OidcConfig { issuer: "http://idp.example.com".into(), ..oidc("a") }],
                    ..base()
                },
            ),
            ("oauth.http_timeout_ms", OAuthConfig { http_timeout_ms: 0, ..base() }),
            (
                "oauth.oidc[0].redirect_uris",
                OAuthConfig {
                    oidc: vec![OidcConfig { redirect_uris: vec!["http://evil.example/cb".into()], ..oidc("a") }],
                    ..base()
                },
            ),
            (
                "oauth.github.issuer",
                OAuthConfig { github: Some(GitHubConfig { issuer: Some("ftp://x".into()), ..github() }), ..base() },
            ),
        ];
        for (setting, config) in cases {
            assert_eq!(config.validate().unwrap_err().setting, setting, "{config:?}");
        }
        let good = OAuthConfig { github: Some(github()), oidc: vec![oidc("google")], ..base() };
        good.validate().unwrap();
        assert!(!format!("{good:?}").contains("hunter2"), "client secrets stay out of Debug output");
        OAuthConfig::default().validate().unwrap();
        // A provider with its own redirect URIs needs no shared list.
        let own = OAuthConfig {
            redirect_uris: Vec::new(),
            github: Some(GitHubConfig { redirect_uris: vec!["https://app.example.com/cb".into()], ..github() }),
            ..OAuthConfig::default()
        };
        own.validate().unwrap();
    }
}
