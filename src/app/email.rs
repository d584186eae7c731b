//! `[email]` configuration → the service's `EmailSettings` (the service never reads `Config`
//! for mail): the transport (SMTP from `email.smtp_url`, else `.eml` files), the sender, and
//! the outbox's retry policy, where mailed links point, and the operator's mail templates
//! (read here, at start, so a bad one stops the start).

use std::time::Duration;

use crate::{
    config::Config,
    error::{Error, Result},
    service::{
        LinkSettings, MailTemplates,
        email::{EmailSettings, MailTransport, SmtpEndpoint},
        outbox::RetryPolicy,
    },
};

/// The mail settings `config` asks for; a bad `email.smtp_url` stops the start naming it.
pub(super) fn settings(config: &Config) -> Result<EmailSettings> {
    let email = &config.email;
    let timeout = Duration::from_millis(email.smtp_timeout_ms);
    let transport = match &email.smtp_url {
        Some(url) => MailTransport::Smtp {
            endpoint: SmtpEndpoint::parse(url.expose())
                .map_err(|why| Error::Startup(format!("invalid email.smtp_url: it {why}")))?,
            timeout,
        },
        None => {
            let dir = email.file_dir.clone().unwrap_or_else(|| config.data_dir.join("outbox"));
            if !config.uses_sqlite() {
                // PostgreSQL means a deployment, often several replicas: each writes live sign-in
                // links into its own directory, and no user ever receives them.
                tracing::warn!(
                    dir = %dir.display(),
                    "mail is written to .eml files (no email.smtp_url) while the database is PostgreSQL: \
                     users get no mail; set email.smtp_url"
                );
            }
            MailTransport::File(dir)
        }
    };
    Ok(EmailSettings {
        from: email.from.clone(),
        transport,
        retry: RetryPolicy {
            max_attempts: email.max_attempts,
            give_up_after: None,
            initial: Duration::from_secs(email.retry_initial_secs),
            max: Duration::from_secs(email.retry_max_secs),
            // A delivery that has not finished by then is presumed dead and may be claimed again:
            // several SMTP round trips of `timeout` each, and never less than five minutes.
            lease: (timeout * 4).max(Duration::from_secs(300)),
            poll_interval: Duration::from_millis(email.poll_interval_ms),
        },
        links: LinkSettings {
            page_url: config.signin.page_url(
                config.public_url.as_deref().unwrap_or(&format!("http://localhost:{}", config.listen.port())),
            ),
            product_name: config.signin.product_name.clone().unwrap_or_else(|| config.rp_name.clone()),
            redirect_uris: email.redirect_uris.clone(),
            password_reset_ttl: Duration::from_secs(email.password_reset_ttl_secs),
            magic_link_ttl: Duration::from_secs(email.magic_link_ttl_secs),
            verification_ttl: Duration::from_secs(email.verification_ttl_secs),
            invitation_ttl: Duration::from_secs(email.invitation_ttl_secs),
            require_email_verification: config.require_email_verification,
            notify_unknown_addresses: email.notify_unknown_addresses,
            templates: match &email.templates_dir {
                Some(dir) => MailTemplates::load(dir).map_err(Error::Startup)?,
                None => MailTemplates::default(),
            },
        },
    })
}
