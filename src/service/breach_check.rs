//! The optional breached-password check (NIST SP 800-63B-4 §3.1.1.2: new passwords are compared
//! against values "obtained from previous breach corpuses"; OWASP ASVS 5 V6.2.12), over a
//! k-anonymity range API in Have I Been Pwned's protocol: only the first five hex digits of the
//! password's SHA-1 leave the process, the service answers every suffix it knows under that
//! prefix (`SUFFIX:COUNT` lines), and the match is made here. `Add-Padding: true` asks for
//! decoy lines (count 0) so the answer's size does not betray the prefix either; they never
//! count as a hit.
//!
//! It fails open: a range service that is slow (past `timeout`), down or answering nonsense must
//! not stop anyone choosing a password, so the password is accepted and a line is logged. The
//! callers spend their budgets before they reach it (Register's `register` budget, ResetPassword's
//! token, ChangePassword's current password), so it is no free way to make Keyward call out.

use std::time::Duration;

use aws_lc_rs::digest;

use crate::{
    domain::Password,
    error::{Error, Result},
};

/// Where the range API is and how long to wait for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreachCheckSettings {
    /// The prefix the five hex digits are appended to (`https://api.pwnedpasswords.com/range/`).
    pub range_url: String,
    pub timeout: Duration,
}

/// A range API client. Cheap to clone.
#[derive(Debug, Clone)]
pub(super) struct BreachCheck {
    range_url: String,
    http: reqwest::Client,
}

/// Lines read from one range answer at most (HIBP's padded answers hold 800–1000).
const MAX_RANGE_LINES: usize = 10_000;

impl BreachCheck {
    pub(super) fn new(settings: &BreachCheckSettings) -> Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("Keyward/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|err| Error::internal(format_args!("breach check client: {err}")))?;
        Ok(Self { range_url: settings.range_url.clone(), http })
    }

    /// Whether `password` is in the breach corpus. False when the check could not be made
    /// (logged): failing open.
    pub(super) async fn is_breached(&self, password: &Password) -> bool {
        let (prefix, suffix) = sha1_prefix_and_suffix(password);
        match self.range(&prefix).await {
            Ok(body) => range_lists(&body, &suffix),
            Err(why) => {
                tracing::warn!(error = %why, "breached-password check failed; the password is accepted");
                false
            }
        }
    }

    async fn range(&self, prefix: &str) -> std::result::Result<String, String> {
        let response = self
            .http
            .get(format!("{}{prefix}", self.range_url))
            .header("Add-Padding", "true")
            .send()
            .await
            .map_err(|err| format!("range request: {err}"))?;
        if !response.status().is_success() {
            return Err(format!("range request answered {}", response.status()));
        }
        response.text().await.map_err(|err| format!("range answer: {err}"))
    }
}

/// The password's SHA-1 in upper-case hex, split after five digits.
fn sha1_prefix_and_suffix(password: &Password) -> (String, String) {
    let hash = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, password.as_bytes());
    let hex: String = hash.as_ref().iter().map(|b| format!("{b:02X}")).collect();
    let (prefix, suffix) = hex.split_at(5);
    (prefix.to_owned(), suffix.to_owned())
}

/// Whether a range answer lists `suffix` with a count above zero (padding lines count 0).
fn range_lists(body: &str, suffix: &str) -> bool {
    body.lines().take(MAX_RANGE_LINES).any(|line| {
        let Some((listed, count)) = line.trim().split_once(':') else { return false };
        listed.eq_ignore_ascii_case(suffix) && count.trim().parse::<u64>().is_ok_and(|count| count > 0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::PasswordPolicy;

    #[test]
    fn the_hash_is_split_after_five_hex_digits() {
        // SHA-1("password") = 5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8, HIBP's documented example.
        let password = Password::parse_existing("p", "password", PasswordPolicy::default()).unwrap();
        let (prefix, suffix) = sha1_prefix_and_suffix(&password);
        assert_eq!((prefix.as_str(), suffix.as_str()), ("5BAA6", "1E4C9B93F3F0682250B6CF8331B7EE68FD8"));
    }

    #[test]
    fn only_a_counted_line_is_a_hit() {
        let suffix = "1E4C9B93F3F0682250B6CF8331B7EE68FD8";
        assert!(range_lists(
            "0018A45C4D1DEF81644B54AB7F969B88D65:1\r\n1e4c9b93f3f0682250b6cf8331b7ee68fd8:9545824\r\n",
            suffix
        ));
        assert!(!range_lists("1E4C9B93F3F0682250B6CF8331B7EE68FD8:0\r\n", suffix), "padding is no hit");
        assert!(!range_lists("1E4C9B93F3F0682250B6CF8331B7EE68FD9:5\r\nnonsense\r\n", suffix));
    }
}
