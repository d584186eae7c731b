//! `[signin]` settings: where the built-in sign-in page is published, and whose it looks like.
//!
//! ```toml
//! [signin]
//! url = "https://app.example.com/keyward/signin"
//! product_name = "Acme Notes"
//! logo_url = "https://app.example.com/logo.svg"
//! accent_color = "#0f766e"
//! support_url = "mailto:help@example.com"
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
    /// The product users sign in to: the page's title and heading, and the mails. Unset:
    /// `rp_name`.
    pub product_name: Option<String>,
    /// A logo shown beside the product name (an http(s) URL; the page's CSP allows its origin).
    pub logo_url: Option<String>,
    /// The colour of the page's buttons, `#rgb` or `#rrggbb`.
    pub accent_color: Option<String>,
    /// Where users get help: an http(s) or `mailto:` URL, linked at the foot of the page.
    pub support_url: Option<String>,
}

impl SigninConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if let Some(name) = &self.product_name
            && (name.trim().is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control))
        {
            return Err(invalid("signin.product_name", "must be 1-100 characters without control characters"));
        }
        if let Some(logo) = &self.logo_url {
            let parsed = url::Url::parse(logo).map_err(|_| invalid("signin.logo_url", "must be an absolute URL"))?;
            if !matches!(parsed.scheme(), "https" | "http") || parsed.host_str().is_none() {
                return Err(invalid("signin.logo_url", "must be an http(s) URL"));
            }
        }
        if let Some(color) = &self.accent_color {
            let hex = color.strip_prefix('#').unwrap_or_default();
            if !matches!(hex.len(), 3 | 6) || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(invalid("signin.accent_color", "must be #rgb or #rrggbb"));
            }
        }
        if let Some(support) = &self.support_url {
            let parsed =
                url::Url::parse(support).map_err(|_| invalid("signin.support_url", "must be an absolute URL"))?;
            if !matches!(parsed.scheme(), "https" | "http" | "mailto") {
                return Err(invalid("signin.support_url", "must be an http(s) or mailto: URL"));
            }
        }
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

    /// A setting's name and how to break it.
    type BadCase = (&'static str, fn(&mut SigninConfig));

    #[test]
    fn branding_is_checked() {
        let cases: [BadCase; 7] = [
            ("signin.product_name", |c| c.product_name = Some(" ".into())),
            ("signin.product_name", |c| c.product_name = Some("Acme\nNotes".into())),
            ("signin.logo_url", |c| c.logo_url = Some("javascript:alert(1)".into())),
            ("signin.logo_url", |c| c.logo_url = Some("/logo.svg".into())),
            ("signin.accent_color", |c| c.accent_color = Some("red".into())),
            ("signin.accent_color", |c| c.accent_color = Some("#12345".into())),
            ("signin.support_url", |c| c.support_url = Some("javascript:alert(1)".into())),
        ];
        for (setting, break_it) in cases {
            let mut config = SigninConfig::default();
            break_it(&mut config);
            assert_eq!(config.validate().unwrap_err().setting, setting, "{config:?}");
        }
        let good = SigninConfig {
            product_name: Some("Acme Notes".into()),
            logo_url: Some("https://cdn.example.com/logo.svg".into()),
            accent_color: Some("#0f766e".into()),
            support_url: Some("mailto:help@example.com".into()),
            ..SigninConfig::default()
        };
        good.validate().unwrap();
    }

    #[test]
    fn url_must_be_a_plain_http_url() {
        for bad in [
            "/keyward/signin",
            "ftp://x.example/signin",
            "https://u:p@x.example/signin",
            "https://x.example/s?a=1",
            "https://x.example/s#f",
        ] {
            let config = SigninConfig { url: Some(bad.into()), ..SigninConfig::default() };
            let error = config.validate().unwrap_err();
            assert_eq!(error.setting, "signin.url", "{bad}");
        }
        let good =
            SigninConfig { url: Some("https://app.example.com/keyward/signin".into()), ..SigninConfig::default() };
        good.validate().unwrap();
        assert_eq!(good.page_url("https://id.example.com"), "https://app.example.com/keyward/signin");
        assert_eq!(SigninConfig::default().page_url("https://id.example.com/"), "https://id.example.com/signin");
    }
}
