//! `[signin]` settings: where the built-in sign-in page is published.
//!
//! ```toml
//! [signin]
//! url = "https://app.example.com/keyward/signin"
//! ```
//!
//! The page works under any path (its assets and API calls are relative to where it is served),
//! so an app can serve it through its own origin with a rewrite (`/keyward/:path*` → Keyward).
//! Mailed links then have to point at that public address, not at Keyward's: that is `url`.

use serde::{Deserialize, Serialize};

use super::{ConfigError, validate::invalid};

/// The built-in sign-in page's public address (`[signin]`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SigninConfig {
    /// The page's public URL, which mailed links (reset, magic link, verification, email change)
    /// point at. Unset: `<public_url>/signin`.
    pub url: Option<String>,
}

impl SigninConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let Some(url) = &self.url else { return Ok(()) };
        let parsed = url::Url::parse(url).map_err(|_| invalid("signin.url", "must be an absolute URL"))?;
        // A link with someone's credentials or a query of its own would confuse the page, which
        // appends `flow` and `token`; a fragment would swallow them.
        if !matches!(parsed.scheme(), "https" | "http")
            || parsed.host_str().is_none()
            || !parsed.username().is_empty()
            || parsed.password().is_some()
            || parsed.query().is_some()
            || parsed.fragment().is_some()
        {
            return Err(invalid("signin.url", "must be an http(s) URL without credentials, query or fragment"));
        }
        Ok(())
    }

    /// Where mailed links point: `url`, else `<public_url>/signin`.
    pub fn page_url(&self, public_url: &str) -> String {
        self.url.clone().unwrap_or_else(|| format!("{}/signin", public_url.trim_end_matches('/')))
    }
}

#[cfg(test)]
mod tests {
    use super::SigninConfig;

    #[test]
    fn url_must_be_a_plain_http_url() {
        for bad in [
            "/keyward/signin",
            "ftp://x.example/signin",
            "https://u:p@x.example/signin",
            "https://x.example/s?a=1",
            "https://x.example/s#f",
        ] {
            let config = SigninConfig { url: Some(bad.into()) };
            let error = config.validate().unwrap_err();
            assert_eq!(error.setting, "signin.url", "{bad}");
        }
        let good = SigninConfig { url: Some("https://app.example.com/keyward/signin".into()) };
        good.validate().unwrap();
        assert_eq!(good.page_url("https://id.example.com"), "https://app.example.com/keyward/signin");
        assert_eq!(SigninConfig::default().page_url("https://id.example.com/"), "https://id.example.com/signin");
    }
}
