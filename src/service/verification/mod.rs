//! Mailed links: password reset, email verification and magic-link sign-in, all through
//! `verification_tokens`. A token is 256 bits from the OS CSPRNG (the session-token shape),
//! stored as SHA-256 with its purpose, address and user; issued in one transaction with the
//! mail that carries it (replacing older ones of the same address and purpose); taken with one
//! `DELETE … RETURNING` so it works once on any replica; refused for another purpose, after its
//! expiry, or once its user's address changed (NIST SP 800-63B-4 §3.1.6 "out-of-band"
//! secrets: single use, short-lived, bound to the address they were sent to). Requests naming
//! an address answer before looking it up (`flows.rs`), so neither the answer nor its time
//! tells whether it has an account (OWASP ASVS 5 V6.3). Each mail also shows a six-digit code
//! bound to the same row, which the finish requests accept instead of the token (`codes.rs`).

mod codes;
mod flows;
mod overrides;
mod sign_up;
mod templates;

use std::time::Duration;

pub use codes::CodeKey;
pub(crate) use codes::invalid_code;
pub use flows::MailedProof;
pub use overrides::MailTemplates;
pub(crate) use sign_up::SignUpProof;

use super::Services;
use crate::{
    domain::{OneTimeCode, SessionToken, later},
    error::{Error, FieldReason, Result},
    i18n::{self, Catalog},
    store::{NewOutboxMessage, NewVerificationToken, UserRecord, VerificationTokenRecord},
};

/// Longest token or redirect URI accepted in a request.
const MAX_TOKEN_FIELD_CHARS: usize = 256;
const MAX_REDIRECT_URI_CHARS: usize = 2048;

/// Where links point and how long they work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkSettings {
    /// The sign-in page's public URL, which handles links (`signin.url`, else
    /// `<public_url>/signin`).
    pub page_url: String,
    /// The product name in mails (`rp_name`).
    pub product_name: String,
    /// Pages a request may have links point at instead, compared exactly.
    pub redirect_uris: Vec<String>,
    pub password_reset_ttl: Duration,
    pub magic_link_ttl: Duration,
    pub verification_ttl: Duration,
    /// How long the set-password link of an AdminService invitation works.
    pub invitation_ttl: Duration,
    /// Password sign-in of an unverified address is refused (and a link mailed).
    pub require_email_verification: bool,
    /// A reset or magic-link request for an address without an account mails it a note saying
    /// so (instead of nothing).
    pub notify_unknown_addresses: bool,
    /// The operator's link-mail templates (`email.templates_dir`); empty: the built-ins.
    pub templates: MailTemplates,
}

/// What a token is good for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    PasswordReset,
    EmailVerification,
    MagicLink,
    /// A new address for the account: the link goes to the new address.
    EmailChange,
}

/// Every purpose's stored name (the mailed-code failure counts a success clears).
pub(super) const PURPOSE_NAMES: [&str; 4] = ["password_reset", "email_verification", "magic_link", "email_change"];

impl Purpose {
    /// As stored in `verification_tokens.purpose`.
    fn name(self) -> &'static str {
        match self {
            Self::PasswordReset => "password_reset",
            Self::EmailVerification => "email_verification",
            Self::MagicLink => "magic_link",
            Self::EmailChange => "email_change",
        }
    }

    /// The link's `flow` parameter, which tells /signin what to show.
    fn flow(self) -> &'static str {
        match self {
            Self::PasswordReset => "reset-password",
            Self::EmailVerification => "verify-email",
            Self::MagicLink => "magic-link",
            Self::EmailChange => "change-email",
        }
    }

    fn ttl(self, links: &LinkSettings) -> Duration {
        match self {
            Self::PasswordReset => links.password_reset_ttl,
            Self::EmailVerification => links.verification_ttl,
            Self::MagicLink => links.magic_link_ttl,
            Self::EmailChange => links.verification_ttl,
        }
    }
}

/// A validated `redirect_uri` (None: links point at the sign-in page's `page_url`).
fn parse_redirect_uri(links: &LinkSettings, raw: &str) -> Result<Option<String>> {
    if raw.is_empty() {
        return Ok(None);
    }
    if raw.chars().count() > MAX_REDIRECT_URI_CHARS {
        return Err(Error::field("redirect_uri", FieldReason::TooLong, "redirect_uri is too long"));
    }
    if !links.redirect_uris.iter().any(|allowed| allowed == raw) {
        return Err(Error::field(
            "redirect_uri",
            FieldReason::RedirectUriNotAllowed,
            "redirect_uri is not one of email.redirect_uris",
        ));
    }
    Ok(Some(raw.to_owned()))
}

/// The token of a finish request: present, bounded, and of the shape Keyward issues.
fn parse_token(raw: &str) -> Result<SessionToken> {
    if raw.is_empty() {
        return Err(Error::field("token", FieldReason::Required, "token is required"));
    }
    if raw.len() > MAX_TOKEN_FIELD_CHARS {
        return Err(Error::field("token", FieldReason::TooLong, "token is longer than any token Keyward issues"));
    }
    SessionToken::parse(raw).ok_or_else(invalid_token)
}

fn invalid_token() -> Error {
    Error::field(
        "token",
        FieldReason::VerificationTokenInvalid,
        "this link is not valid: it was used, replaced by a newer one, or mistyped",
    )
}

/// The link for `token`: `redirect` or the sign-in page, with `flow` and `token` appended.
fn link(links: &LinkSettings, purpose: Purpose, token: &SessionToken, redirect: Option<&str>) -> Result<String> {
    let base = redirect.unwrap_or(&links.page_url);
    let mut url = url::Url::parse(base).map_err(|err| Error::internal(format_args!("link base: {err}")))?;
    url.query_pairs_mut().append_pair("flow", purpose.flow()).append_pair("token", token.expose());
    Ok(url.into())
}

impl Services {
    /// Issues a `purpose` token to `user` and queues the mail with its link (one transaction),
    /// then wakes the sender.
    async fn mail_link(
        &self,
        purpose: Purpose,
        user: &UserRecord,
        redirect: Option<&str>,
        language: &Catalog,
    ) -> Result<()> {
        self.mail_link_to(purpose, user, &user.email, redirect, language).await
    }

    /// Like `mail_link`, to address `to`; for an email change (`to` is the new address) with a
    /// notice to the account's current address in the same transaction. The link mail is in
    /// `language`: the one the requesting browser asked for.
    async fn mail_link_to(
        &self,
        purpose: Purpose,
        user: &UserRecord,
        to: &str,
        redirect: Option<&str>,
        language: &Catalog,
    ) -> Result<()> {
        let links = &self.inner.links;
        let ttl = purpose.ttl(links);
        let (mut row, url, code) = self.link_row(purpose, &user.id, to, ttl, redirect)?;
        let expires = templates::duration_words(ttl.as_secs() / 60, language);
        let values =
            overrides::Values { product: &links.product_name, link: &url, code: code.expose(), expires: &expires };
        let mail = templates::link_mail(purpose, to, &values, links.templates.for_purpose(purpose), language);
        let mut mails = vec![mail.to_outbox()?];
        if purpose == Purpose::EmailChange {
            mails.push(templates::email_change_requested(&links.product_name, &user.email, to).to_outbox()?);
            row.subject_email = Some(user.email.clone());
        }
        self.inner.store.issue_verification_token(row, mails).await?;
        self.inner.outbox.wake();
        Ok(())
    }

    /// A fresh token and code for `purpose`, mailed to `to` for `user_id`: the row to store (the
    /// token's hash and the code's keyed hash), the link, and the code for the mail.
    fn link_row(
        &self,
        purpose: Purpose,
        user_id: &str,
        to: &str,
        ttl: Duration,
        redirect: Option<&str>,
    ) -> Result<(NewVerificationToken, String, OneTimeCode)> {
        let token = SessionToken::generate()?;
        let code = OneTimeCode::generate()?;
        let now = self.inner.clock.now();
        let url = link(&self.inner.links, purpose, &token, redirect)?;
        let row = NewVerificationToken {
            identifier: to.to_owned(),
            token_hash: token.hash().as_str().to_owned(),
            purpose: purpose.name(),
            user_id: user_id.to_owned(),
            created_at: now,
            expires: later(now, ttl)?,
            subject_email: None,
            code_hash: Some(self.inner.codes.hash(purpose.name(), to, &code)),
        };
        Ok((row, url, code))
    }

    /// The invitation of a user an operator is creating (`user_id`, `email`): a set-password
    /// link — a password-reset token that works for `invitation_ttl` (72 h by default) — and
    /// the mail inviting them, for the store to write in the user's own transaction.
    pub(crate) fn invitation(&self, user_id: &str, email: &str) -> Result<(NewVerificationToken, NewOutboxMessage)> {
        let links = &self.inner.links;
        let purpose = Purpose::PasswordReset;
        let (row, url, code) = self.link_row(purpose, user_id, email, links.invitation_ttl, None)?;
        let expires = templates::duration_words(links.invitation_ttl.as_secs() / 60, i18n::english());
        let values =
            overrides::Values { product: &links.product_name, link: &url, code: code.expose(), expires: &expires };
        Ok((row, templates::invitation(email, &values).to_outbox()?))
    }

    /// Takes the `purpose` token and returns it with its user: refused (and gone, if it
    /// was one) when unknown, of another purpose, expired, or its user's address changed since.
    /// A good one clears the address's wrong-code counts.
    async fn take_link_token(
        &self,
        purpose: Purpose,
        token: &SessionToken,
    ) -> Result<(VerificationTokenRecord, UserRecord)> {
        let taken = self.inner.store.take_verification_token(token.hash().as_str(), purpose.name()).await?;
        let taken = taken.ok_or_else(invalid_token)?;
        let checked = self.checked_link_token(taken).await?;
        // The link proved the mailbox: codes refused after too many wrong ones work again.
        let code_keys = super::sign_in_guard::code_failure_keys(&checked.0.identifier);
        self.inner.store.clear_code_failures(&code_keys).await?;
        Ok(checked)
    }

    /// `taken` (out of the table, or about to be) if it is still good, with its user.
    async fn checked_link_token(
        &self,
        taken: VerificationTokenRecord,
    ) -> Result<(VerificationTokenRecord, UserRecord)> {
        if taken.expires <= self.inner.clock.now() {
            return Err(Error::field("token", FieldReason::VerificationTokenExpired, "this link has expired"));
        }
        let user = match taken.user_id.as_deref() {
            Some(user_id) => self.inner.store.find_user(user_id).await?,
            None => None,
        };
        // The address the token is bound to: for an email change the account's address when it
        // was requested, else the one the link was mailed to.
        let bound = taken.subject_email.as_deref().unwrap_or(&taken.identifier);
        match user {
            Some(user) if user.email == bound => Ok((taken, user)),
            _ => Err(invalid_token()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn links() -> LinkSettings {
        LinkSettings {
            page_url: "https://id.example.com/signin".into(),
            product_name: "Example".into(),
            redirect_uris: vec!["https://app.example.com/auth/email?x=1".into()],
            password_reset_ttl: Duration::from_secs(900),
            magic_link_ttl: Duration::from_secs(600),
            verification_ttl: Duration::from_secs(86_400),
            invitation_ttl: Duration::from_secs(72 * 3600),
            require_email_verification: false,
            notify_unknown_addresses: false,
            templates: MailTemplates::default(),
        }
    }

    #[test]
    fn purpose_names_are_every_purpose() {
        let purposes = [Purpose::PasswordReset, Purpose::EmailVerification, Purpose::MagicLink, Purpose::EmailChange];
        assert_eq!(purposes.map(Purpose::name), PURPOSE_NAMES);
    }

    #[test]
    fn links_carry_the_flow_and_token_and_redirects_match_exactly() {
        let token = SessionToken::generate().unwrap();
        let plain = link(&links(), Purpose::PasswordReset, &token, None).unwrap();
        assert_eq!(plain, format!("https://id.example.com/signin?flow=reset-password&token={}", token.expose()));
        let redirect = parse_redirect_uri(&links(), "https://app.example.com/auth/email?x=1").unwrap();
        let there = link(&links(), Purpose::MagicLink, &token, redirect.as_deref()).unwrap();
        assert!(there.starts_with("https://app.example.com/auth/email?x=1&flow=magic-link&token="), "{there}");
        for near_miss in ["https://app.example.com/auth/email", "https://app.example.com/auth/email?x=1&y", "x"] {
            assert!(parse_redirect_uri(&links(), near_miss).is_err(), "{near_miss}");
        }
        assert_eq!(parse_redirect_uri(&links(), "").unwrap(), None);
    }
}
