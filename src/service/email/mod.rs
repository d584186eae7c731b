//! Mail: what a message is (`EmailMessage`, the outbox payload), how it is queued
//! (`Services::queue_email`, or inside a store transaction by the flows that issue tokens), and
//! the `Mailer` that delivers it from the outbox over SMTP or to `.eml` files.

mod file;
pub mod notices;
mod smtp;

use std::{path::PathBuf, time::Duration};

use lettre::message::{Mailbox, Message, MultiPart, header::ContentType};
use serde::{Deserialize, Serialize};

pub use smtp::{SmtpEndpoint, SmtpTls};

use super::{
    Services,
    outbox::{Deliverer, DeliveryFailure, RetryPolicy},
};
use crate::{
    error::{Error, Result},
    store::NewOutboxMessage,
};

/// The outbox kind of mail.
pub const EMAIL_KIND: &str = "email";

/// One mail, as it waits in the outbox (sealed there: it may carry a sign-in link).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailMessage {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
}

impl EmailMessage {
    /// The outbox row for this message.
    pub fn to_outbox(&self) -> Result<NewOutboxMessage> {
        let payload = serde_json::to_string(self).map_err(Error::internal)?;
        Ok(NewOutboxMessage { kind: EMAIL_KIND, payload })
    }
}

/// Where mail goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailTransport {
    Smtp {
        endpoint: SmtpEndpoint,
        timeout: Duration,
    },
    /// `.eml` files in this directory.
    File(PathBuf),
}

/// Mail settings, as the composition root builds them from the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailSettings {
    /// `Name <address>` or an address.
    pub from: String,
    pub transport: MailTransport,
    pub retry: RetryPolicy,
    pub links: super::LinkSettings,
}

impl Services {
    /// Queues `message` for delivery (its own transaction) and wakes this replica's sender.
    pub async fn queue_email(&self, message: &EmailMessage) -> Result<()> {
        self.inner.store.enqueue(message.to_outbox()?, self.inner.clock.now()).await?;
        self.inner.outbox.wake();
        Ok(())
    }
}

/// Delivers `email` outbox rows.
#[derive(Debug)]
pub struct Mailer {
    from: Mailbox,
    sender: Sender,
}

#[derive(Debug)]
enum Sender {
    Smtp(lettre::AsyncSmtpTransport<lettre::Tokio1Executor>),
    File(PathBuf),
}

impl Mailer {
    /// The mailer for `settings`; an unusable sender address or TLS setup is an error naming it.
    pub fn new(settings: &EmailSettings) -> std::result::Result<Self, String> {
        let from = settings.from.parse::<Mailbox>().map_err(|_| "email.from is not `Name <address>` or an address")?;
        let sender = match &settings.transport {
            MailTransport::Smtp { endpoint, timeout } => Sender::Smtp(endpoint.transport(*timeout)?),
            MailTransport::File(dir) => Sender::File(dir.clone()),
        };
        Ok(Self { from, sender })
    }

    /// The message as it goes on the wire. `id` makes the Message-ID, the same on every retry.
    fn build(&self, id: &str, email: &EmailMessage) -> std::result::Result<Message, DeliveryFailure> {
        let to = email.to.parse::<Mailbox>().map_err(|_| DeliveryFailure::permanent("recipient address unusable"))?;
        let builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(email.subject.clone())
            .message_id(Some(format!("<{id}@{}>", self.from.email.domain())));
        let built = match &email.html {
            Some(html) => builder.multipart(MultiPart::alternative_plain_html(email.text.clone(), html.clone())),
            None => builder.header(ContentType::TEXT_PLAIN).body(email.text.clone()),
        };
        built.map_err(|err| DeliveryFailure::permanent(format!("building the message: {err}")))
    }
}

impl Deliverer for Mailer {
    fn kind(&self) -> &'static str {
        EMAIL_KIND
    }

    async fn deliver(&self, id: &str, payload: &str) -> std::result::Result<(), DeliveryFailure> {
        let email: EmailMessage = serde_json::from_str(payload)
            .map_err(|err| DeliveryFailure::permanent(format!("unreadable payload: {err}")))?;
        let message = self.build(id, &email)?;
        match &self.sender {
            Sender::Smtp(transport) => smtp::send(transport, message).await,
            Sender::File(dir) => {
                let path = file::write(dir, id, message.formatted()).await?;
                // The path, never the link or code: a log line is read by more people, kept
                // longer and shipped further than a 0600 file (OWASP ASVS 5 V16.2.5).
                tracing::info!(
                    path = %path.display(),
                    subject = %email.subject,
                    "mail written to a file (no email.smtp_url configured)"
                );
                Ok(())
            }
        }
    }
}
