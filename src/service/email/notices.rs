//! The notices that make a factor change loud: a mail to the account's address when a passkey is
//! added or removed, the password is changed or reset, a provider is linked or unlinked, or the
//! address itself is changed (to the old address). Each says what changed, when, and from which
//! client address and user agent, so the owner can tell their own change from an intruder's
//! (OWASP ASVS 5 V6.3.7: users are notified after updates to authentication details; NIST SP
//! 800-63B-4: the subscriber is notified when an authenticator is bound or removed). The use case
//! queues it in the change's own transaction, so a change never commits silently.

use chrono::{DateTime, SecondsFormat, Utc};

use super::EmailMessage;
use crate::{
    error::Result,
    service::{RequestMeta, Services},
    store::NewOutboxMessage,
};

/// What changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FactorChange<'a> {
    PasskeyAdded {
        name: &'a str,
    },
    PasskeyRemoved {
        name: &'a str,
    },
    PasswordChanged,
    /// With a reset link or code; `factors_removed` when the reset also removed every passkey
    /// and linked provider.
    PasswordReset {
        factors_removed: bool,
    },
    ProviderLinked {
        provider: &'a str,
    },
    ProviderUnlinked {
        provider: &'a str,
    },
    /// Sent to the old address. `by_operator` when an administrator's API key moved it.
    EmailChanged {
        new_address: &'a str,
        by_operator: bool,
    },
}

impl FactorChange<'_> {
    fn subject(&self, product: &str) -> String {
        match self {
            Self::PasskeyAdded { .. } => format!("A passkey was added to your {product} account"),
            Self::PasskeyRemoved { .. } => format!("A passkey was removed from your {product} account"),
            Self::PasswordChanged | Self::PasswordReset { .. } => format!("Your {product} password was changed"),
            Self::ProviderLinked { .. } => format!("A sign-in provider was linked to your {product} account"),
            Self::ProviderUnlinked { .. } => format!("A sign-in provider was unlinked from your {product} account"),
            Self::EmailChanged { .. } => format!("The email address of your {product} account was changed"),
        }
    }

    fn what(&self, product: &str) -> String {
        match self {
            Self::PasskeyAdded { name } => format!("A passkey named \"{name}\" was added to your {product} account."),
            Self::PasskeyRemoved { name } => {
                format!("The passkey named \"{name}\" was removed from your {product} account.")
            }
            Self::PasswordChanged => format!("The password of your {product} account was changed."),
            Self::PasswordReset { factors_removed: false } => format!(
                "The password of your {product} account was changed with a reset link or code, and every session \
                 was signed out."
            ),
            Self::PasswordReset { factors_removed: true } => format!(
                "The password of your {product} account was changed with a reset link or code; every session was \
                 signed out, and every passkey and linked sign-in provider was removed."
            ),
            Self::ProviderLinked { provider } => format!("Your {product} account was linked to {provider}."),
            Self::ProviderUnlinked { provider } => {
                format!("Your {product} account was unlinked from {provider}.")
            }
            Self::EmailChanged { new_address, by_operator: false } => {
                format!("Your {product} account now uses the address {new_address}; this address no longer signs in.")
            }
            Self::EmailChanged { new_address, by_operator: true } => format!(
                "An administrator moved your {product} account to the address {new_address}, and every session \
                 was signed out; this address no longer signs in."
            ),
        }
    }
}

/// The notice of `change` to `to`, made at `at` by the request `meta` describes.
pub fn factor_changed(
    product: &str,
    to: &str,
    change: &FactorChange<'_>,
    meta: &RequestMeta,
    at: DateTime<Utc>,
) -> EmailMessage {
    let client = meta.client.map_or_else(|| "an unknown address".to_owned(), |client| client.to_string());
    let agent = meta.user_agent.as_deref().filter(|agent| !agent.is_empty()).unwrap_or("an unknown client");
    let when = at.to_rfc3339_opts(SecondsFormat::Secs, true);
    let text = format!(
        "{what}\n\nWhen: {when}\nFrom: {client}\nClient: {agent}\n\nIf this was you, there is nothing to do. If it \
         was not, reset your password at once and check your account's passkeys, linked providers and address.\n\n\
         {product}\n",
        what = change.what(product),
    );
    EmailMessage { to: to.to_owned(), subject: change.subject(product), text, html: None }
}

impl Services {
    /// The outbox row of the notice of `change` to `to`, now: what a factor change commits with
    /// (then `outbox.wake()` once it did).
    pub(crate) fn factor_notice(
        &self,
        to: &str,
        change: &FactorChange<'_>,
        meta: &RequestMeta,
    ) -> Result<NewOutboxMessage> {
        factor_changed(&self.inner.links.product_name, to, change, meta, self.inner.clock.now()).to_outbox()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notice_says_what_when_and_from_where() {
        let meta = RequestMeta::new(Some("Firefox/140"))
            .with_client(Some(crate::domain::ClientAddress::new("203.0.113.7".parse().unwrap())));
        let at = DateTime::from_timestamp(1_780_000_000, 0).unwrap();
        let mail = factor_changed("Acme", "ada@example.com", &FactorChange::PasskeyAdded { name: "Laptop" }, &meta, at);
        assert_eq!(mail.to, "ada@example.com");
        assert_eq!(mail.subject, "A passkey was added to your Acme account");
        for expected in ["\"Laptop\"", "203.0.113.7", "Firefox/140", "2026-05-28T"] {
            assert!(mail.text.contains(expected), "{expected} missing from {}", mail.text);
        }
        let anonymous = factor_changed("Acme", "a@x", &FactorChange::PasswordChanged, &RequestMeta::new(None), at);
        assert!(anonymous.text.contains("an unknown address") && anonymous.text.contains("an unknown client"));
    }
}
