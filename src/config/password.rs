//! `[password]` settings beyond the length policy: the optional breached-password check.
//!
//! ```toml
//! [password]
//! breach_check_url = "https://api.pwnedpasswords.com/range/"
//! breach_check_timeout_ms = 1000
//! ```
//!
//! The URL is the prefix a k-anonymity range request appends the first five hex digits of the
//! password's SHA-1 to (Have I Been Pwned's protocol); unset, no check runs.

use serde::{Deserialize, Serialize};

use super::{ConfigError, validate::invalid};

/// The breached-password check (`[password]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PasswordConfig {
    /// A k-anonymity range API: `<url><first five hex digits of SHA-1>` answers the suffixes
    /// it knows (`SUFFIX:COUNT` lines). https, or http to a loopback address. Unset: off.
    pub breach_check_url: Option<String>,
    /// Bound on one range request; past it the password is accepted (failing open) and a line
    /// is logged.
    pub breach_check_timeout_ms: u64,
}

impl Default for PasswordConfig {
    fn default() -> Self {
        Self { breach_check_url: None, breach_check_timeout_ms: 1_000 }
    }
}

impl PasswordConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if !(100..=10_000).contains(&self.breach_check_timeout_ms) {
            return Err(invalid("password.breach_check_timeout_ms", "must be between 100 and 10000"));
        }
        if let Some(raw) = &self.breach_check_url {
            check_range_url(raw).map_err(|why| invalid("password.breach_check_url", why))?;
        }
        Ok(())
    }
}

fn check_range_url(raw: &str) -> Result<(), String> {
    let url = url::Url::parse(raw).map_err(|err| format!("is not a URL ({err})"))?;
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name == "localhost",
        None => return Err("has no host".into()),
    };
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => return Err("must be https (http only to a loopback address)".into()),
        other => return Err(format!("must be https, not {other}")),
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("must end where the hash prefix goes (no query, no fragment)".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_urls_are_https_or_loopback_and_end_at_the_prefix() {
        for good in ["https://api.pwnedpasswords.com/range/", "http://127.0.0.1:9000/range/", "http://localhost/r/"] {
            assert!(check_range_url(good).is_ok(), "{good}");
        }
        for bad in ["http://example.com/range/", "ftp://example.com/", "https://x.example/range/?a=1", "range/"] {
            assert!(check_range_url(bad).is_err(), "{bad}");
        }
    }
}
