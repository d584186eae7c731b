//! The mails: plain text and HTML per purpose, with the product name (`rp_name`), the link and
//! how long it works. Everything interpolated into HTML is escaped; no images, no tracking.

use super::{
    Purpose,
    overrides::{PurposeTemplates, Values},
};
use crate::{
    i18n::{self, Catalog},
    service::email::EmailMessage,
};

/// `text` with `&`, `<`, `>`, `"` and `'` escaped for HTML text and attribute values.
pub(super) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// "15 minutes", "24 hours", in `catalog`'s language.
pub(super) fn duration_words(minutes: u64, catalog: &Catalog) -> String {
    let n = |count: u64| count.to_string();
    match minutes {
        m if m % 60 == 0 && m >= 120 => catalog.mail("duration.hours", &[("n", &n(m / 60))]),
        60 => catalog.mail("duration.hour", &[]),
        1 => catalog.mail("duration.minute", &[]),
        m => catalog.mail("duration.minutes", &[("n", &n(m))]),
    }
}

/// The words around a link mail's link and code.
struct Frame {
    intro: String,
    action: String,
    paste: String,
    enter_code: String,
    after: String,
}

fn html(product: &str, frame: &Frame, link: &str, code: &str) -> String {
    let Frame { intro, action, paste, enter_code, after } = frame;
    let (product, intro, action, paste, enter_code, link, code, after) = (
        escape(product),
        escape(intro),
        escape(action),
        escape(paste),
        escape(enter_code),
        escape(link),
        escape(code),
        escape(after),
    );
    format!(
        "<!doctype html><html><body style=\"font-family:sans-serif\"><h2>{product}</h2><p>{intro}</p>\
         <p><a href=\"{link}\">{action}</a></p><p>{paste}<br>{link}</p>\
         <p>{enter_code} <strong style=\"font-size:1.4em;letter-spacing:0.2em\">{code}</strong></p>\
         <p>{after}</p></body></html>"
    )
}

/// The mail carrying `link` and its one-time `code` for `purpose` to `to`, in `catalog`'s
/// language: the built-in text and HTML, or the operator's (`overrides`) where
/// `email.templates_dir` has them.
pub(super) fn link_mail(
    purpose: Purpose,
    to: &str,
    values: &Values<'_>,
    overrides: &PurposeTemplates,
    catalog: &Catalog,
) -> EmailMessage {
    let Values { product, link, code, expires } = *values;
    let text = |part: &str| catalog.mail(&format!("{}.{part}", purpose.name()), &[("product", product)]);
    let frame = Frame {
        intro: text("intro"),
        action: text("action"),
        paste: catalog.mail("link.paste", &[]),
        enter_code: catalog.mail("link.code", &[]),
        after: catalog.mail("link.expiry", &[("expires", expires)]),
    };
    let mut mail = EmailMessage {
        to: to.to_owned(),
        text: format!(
            "{}\n\n{}: {link}\n\n{} {code}\n\n{}\n\n{product}\n",
            frame.intro, frame.action, frame.enter_code, frame.after
        ),
        html: Some(html(product, &frame, link, code)),
        subject: text("subject"),
    };
    if let Some(text) = &overrides.text {
        mail.text = text.body(values, false);
    }
    if let Some(html) = &overrides.html {
        mail.html = Some(html.body(values, true));
    }
    let subject = [&overrides.text, &overrides.html].into_iter().flatten().find_map(|t| t.subject(values));
    if let Some(subject) = subject {
        mail.subject = subject;
    }
    mail
}

/// The invitation to an account an operator created: a link (and code) to set a password.
pub(super) fn invitation(to: &str, values: &Values<'_>) -> EmailMessage {
    let Values { product, link, code, expires } = *values;
    let intro = format!("An account at {product} has been created for this address.");
    let expiry =
        format!("The link and the code work once, for {expires}. If you did not expect this, ignore this mail.");
    EmailMessage {
        to: to.to_owned(),
        subject: format!("You are invited to {product}"),
        text: format!(
            "{intro}\n\nChoose a password: {link}\n\nOr enter this code in the app: {code}\n\n{expiry}\n\n{product}\n"
        ),
        html: Some(html(
            product,
            &Frame {
                intro,
                action: "Choose a password".into(),
                paste: "Or paste this address into your browser:".into(),
                enter_code: "Or enter this code in the app:".into(),
                after: expiry,
            },
            link,
            code,
        )),
    }
}

/// The notice to the current address that a change to `new_address` was asked for.
pub(super) fn email_change_requested(product: &str, to: &str, new_address: &str) -> EmailMessage {
    let text = format!(
        "Someone signed in to your {product} account asked to change its email address to \
         {new_address}. Nothing changes until the link sent there is followed.\n\nIf this was not \
         you, sign in and change your password.\n\n{product}\n"
    );
    let html = format!(
        "<!doctype html><html><body style=\"font-family:sans-serif\"><h2>{p}</h2><p>Someone signed in to \
         your {p} account asked to change its email address to {a}. Nothing changes until the link \
         sent there is followed.</p><p>If this was not you, sign in and change your password.</p></body></html>",
        p = escape(product),
        a = escape(new_address)
    );
    EmailMessage { to: to.to_owned(), subject: format!("Email change requested for {product}"), text, html: Some(html) }
}

/// The note to an address without an account that someone asked for a reset or sign-in link for
/// it (`notify_unknown_addresses`): no link, nothing to click.
pub(super) fn no_account(purpose: Purpose, product: &str, to: &str) -> EmailMessage {
    let asked = match purpose {
        Purpose::PasswordReset => "to reset the password of",
        Purpose::MagicLink | Purpose::EmailVerification | Purpose::EmailChange => "for a sign-in link to",
    };
    let text = format!(
        "Someone asked {asked} a {product} account with this address, but there is no {product} \
         account with it. If it was you, you may have signed up with another address.\n\nIf it was \
         not you, ignore this mail: nothing has changed.\n\n{product}\n"
    );
    let html = format!(
        "<!doctype html><html><body style=\"font-family:sans-serif\"><h2>{p}</h2><p>Someone asked {asked} a \
         {p} account with this address, but there is no {p} account with it. If it was you, you may have \
         signed up with another address.</p><p>If it was not you, ignore this mail: nothing has \
         changed.</p></body></html>",
        p = escape(product)
    );
    EmailMessage {
        to: to.to_owned(),
        subject: format!("Someone tried to use this address with {product}"),
        text,
        html: Some(html),
    }
}

/// The code that finishes a passkey sign-up for `to`.
pub(super) fn sign_up_code(product: &str, to: &str, code: &str, ttl_minutes: u64) -> EmailMessage {
    let text = format!(
        "To finish creating your {product} account, enter this code: {code}\n\nIt works once, for {}. \
         If you did not ask for an account, ignore this mail.\n\n{product}\n",
        duration_words(ttl_minutes, i18n::english())
    );
    let html = format!(
        "<!doctype html><html><body style=\"font-family:sans-serif\"><h2>{p}</h2><p>To finish creating your \
         {p} account, enter this code:</p><p><strong style=\"font-size:1.4em;letter-spacing:0.2em\">{c}</strong></p>\
         <p>It works once, for {d}. If you did not ask for an account, ignore this mail.</p></body></html>",
        p = escape(product),
        c = escape(code),
        d = duration_words(ttl_minutes, i18n::english())
    );
    EmailMessage { to: to.to_owned(), subject: format!("Your {product} sign-up code"), text, html: Some(html) }
}

/// The note to an address that has an account when someone tries to sign up with it.
pub(super) fn sign_up_taken(product: &str, to: &str) -> EmailMessage {
    let text = format!(
        "Someone tried to create a {product} account with this address, but you already have one. \
         No new account was created. Sign in instead; if you cannot, reset your password.\n\nIf \
         this was not you, ignore this mail.\n\n{product}\n"
    );
    let html = format!(
        "<!doctype html><html><body style=\"font-family:sans-serif\"><h2>{p}</h2><p>Someone tried to create a \
         {p} account with this address, but you already have one. No new account was created. Sign in \
         instead; if you cannot, reset your password.</p><p>If this was not you, ignore this mail.</p></body></html>",
        p = escape(product)
    );
    EmailMessage { to: to.to_owned(), subject: format!("You already have a {product} account"), text, html: Some(html) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_escaped_and_the_expiry_said() {
        let expires = duration_words(15, i18n::english());
        let values =
            Values { product: "<Acme & Co>", link: "https://x/?a=1&b=\"2\"", code: "012345", expires: &expires };
        let mail =
            link_mail(Purpose::PasswordReset, "a@example.com", &values, &PurposeTemplates::default(), i18n::english());
        let html = mail.html.unwrap();
        assert!(html.contains("&lt;Acme &amp; Co&gt;"), "{html}");
        assert!(html.contains("href=\"https://x/?a=1&amp;b=&quot;2&quot;\""), "{html}");
        assert!(!html.contains("<Acme"));
        assert!(mail.text.contains("for 15 minutes"));
        assert!(mail.text.contains("code in the app: 012345"), "{}", mail.text);
        assert!(html.contains(">012345<"), "{html}");
        assert_eq!(duration_words(24 * 60, i18n::english()), "24 hours");
        assert_eq!(duration_words(10, i18n::english()), "10 minutes");
    }
}
