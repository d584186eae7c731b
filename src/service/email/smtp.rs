//! The SMTP transport: `email.smtp_url` parsed into an endpoint, and deliveries through lettre
//! (one connection per message; STARTTLS or implicit TLS with rustls and the webpki roots).

use std::{fmt, time::Duration};

use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    transport::smtp::{
        authentication::Credentials,
        client::{Tls, TlsParameters},
    },
};

use crate::service::outbox::DeliveryFailure;

/// How the connection to the relay is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS, which must succeed (`smtp://`, the default).
    StartTls,
    /// TLS from the first byte (`smtps://`, RFC 8314 §3.3).
    Implicit,
    /// No TLS (`?tls=none`): a relay on the same machine, or tests. No credentials then.
    None,
}

/// Where and how to reach the SMTP relay.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpEndpoint {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub credentials: Option<(String, String)>,
}

impl fmt::Debug for SmtpEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpEndpoint")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("user", &self.credentials.as_ref().map(|(user, _)| user))
            .finish_non_exhaustive()
    }
}

impl SmtpEndpoint {
    /// Parses `smtp://[user:pass@]host[:port][?tls=starttls|none]` or
    /// `smtps://[user:pass@]host[:port]`. The error says what is wrong without echoing the URL
    /// (it may hold a password).
    pub fn parse(url: &str) -> Result<Self, &'static str> {
        let url = url::Url::parse(url).map_err(|_| "is not a URL")?;
        let mut tls = match url.scheme() {
            "smtp" => SmtpTls::StartTls,
            "smtps" => SmtpTls::Implicit,
            _ => return Err("must start with smtp:// or smtps://"),
        };
        for (name, value) in url.query_pairs() {
            match (name.as_ref(), value.as_ref(), tls) {
                ("tls", "starttls", SmtpTls::StartTls) => {}
                ("tls", "none", SmtpTls::StartTls) => tls = SmtpTls::None,
                ("tls", _, SmtpTls::Implicit) => return Err("smtps:// is always TLS: drop ?tls"),
                ("tls", _, _) => return Err("tls must be starttls or none"),
                _ => return Err("knows no query parameter but tls"),
            }
        }
        let host = url.host_str().filter(|host| !host.is_empty()).ok_or("has no host")?;
        let host = host.trim_start_matches('[').trim_end_matches(']').to_owned();
        if url.path() != "" && url.path() != "/" {
            return Err("must not have a path");
        }
        let port = url.port().unwrap_or(match tls {
            SmtpTls::Implicit => 465,
            SmtpTls::StartTls => 587,
            SmtpTls::None => 25,
        });
        let decode = |part: &str| {
            percent_encoding::percent_decode_str(part)
                .decode_utf8()
                .map(|s| s.into_owned())
                .map_err(|_| "has a user or password that is not UTF-8")
        };
        let credentials = match (url.username(), url.password()) {
            ("", None) => None,
            (user, Some(password)) if !user.is_empty() => Some((decode(user)?, decode(password)?)),
            _ => return Err("needs both a user and a password, or neither"),
        };
        if credentials.is_some() && tls == SmtpTls::None {
            return Err("would send the password in clear: use STARTTLS or smtps://");
        }
        Ok(Self { host, port, tls, credentials })
    }

    /// The lettre transport for this endpoint.
    pub(super) fn transport(&self, timeout: Duration) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
        let parameters = || TlsParameters::new(self.host.clone()).map_err(|err| format!("TLS setup: {err}"));
        let tls = match self.tls {
            SmtpTls::StartTls => Tls::Required(parameters()?),
            SmtpTls::Implicit => Tls::Wrapper(parameters()?),
            SmtpTls::None => Tls::None,
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(self.host.clone())
            .port(self.port)
            .tls(tls)
            .timeout(Some(timeout));
        if let Some((user, password)) = &self.credentials {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        Ok(builder.build())
    }
}

/// Sends `message` through `transport`; a 5xx answer is permanent, anything else worth a retry.
#[tracing::instrument(name = "smtp.send", skip_all, fields(otel.kind = "client"))]
pub(super) async fn send(
    transport: &AsyncSmtpTransport<Tokio1Executor>,
    message: Message,
) -> Result<(), DeliveryFailure> {
    match transport.send(message).await {
        Ok(_) => Ok(()),
        Err(err) if err.is_permanent() => Err(DeliveryFailure::permanent(format!("smtp: {err}"))),
        Err(err) => Err(DeliveryFailure::transient(format!("smtp: {err}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_of_every_form_parse() {
        let starttls = SmtpEndpoint::parse("smtp://user:p%40ss@mail.example.com:587?tls=starttls").unwrap();
        assert_eq!(starttls.host, "mail.example.com");
        assert_eq!(starttls.port, 587);
        assert_eq!(starttls.tls, SmtpTls::StartTls);
        assert_eq!(starttls.credentials, Some(("user".into(), "p@ss".into())));
        assert!(!format!("{starttls:?}").contains("p@ss"), "the password is not in Debug");
        assert_eq!(SmtpEndpoint::parse("smtp://mail.example.com").unwrap().tls, SmtpTls::StartTls);
        let implicit = SmtpEndpoint::parse("smtps://u:p@mail.example.com").unwrap();
        assert_eq!((implicit.tls, implicit.port), (SmtpTls::Implicit, 465));
        let plain = SmtpEndpoint::parse("smtp://127.0.0.1:2525?tls=none").unwrap();
        assert_eq!((plain.tls, plain.port, plain.credentials), (SmtpTls::None, 2525, None));
    }

    #[test]
    fn bad_urls_are_refused_without_echoing_them() {
        for url in [
            "http://mail.example.com",
            "smtp://",
            "smtp://u:secret@localhost?tls=none",
            "smtp://localhost?tls=maybe",
            "smtps://localhost?tls=none",
            "smtp://localhost?x=1",
            "smtp://u@localhost",
            "smtp://localhost/path",
            "not a url",
        ] {
            let err = SmtpEndpoint::parse(url).unwrap_err();
            assert!(!err.contains("secret"), "{url}: {err}");
        }
    }
}
