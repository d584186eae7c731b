//! Mails speak the language of the request that caused them: its `Accept-Language` (which
//! grpc-web carries from the browser) picks the catalog, English when none fits.

use keyward::pb;

use crate::{
    common::{Backend, TestServer, register},
    smtp_server::SmtpServer,
    verification::{client, link_of, mail_number},
};

fn magic_link_request(accept_language: Option<&str>) -> tonic::Request<pb::SendMagicLinkRequest> {
    let mut request =
        tonic::Request::new(pb::SendMagicLinkRequest { email: "ada@example.com".into(), redirect_uri: String::new() });
    if let Some(header) = accept_language {
        request.metadata_mut().insert("accept-language", header.parse().unwrap());
    }
    request
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn link_mails_are_in_the_requests_language() {
    let smtp = SmtpServer::start().await;
    let server = TestServer::start_with(Backend::Sqlite, |config| {
        config.email.smtp_url = Some(keyward::config::Secret::new(smtp.url()));
        config.rp_name = "Acme".into();
    })
    .await;
    let (mut auth, mut verification) = (server.auth().await, client(&server).await);
    register(&mut auth, "ada@example.com").await;

    for (n, accept_language, subject, texts) in [
        (
            1,
            Some("de-DE,de;q=0.9,en;q=0.8"),
            "Bei Acme anmelden",
            ["Melden Sie sich mit diesem Link an.", "Oder geben Sie diesen Code in der App ein:", "10 Minuten lang"],
        ),
        (
            2,
            Some("es"),
            "Inicia sesión en Acme",
            ["Usa este enlace para iniciar sesión.", "durante 10 minutos", "O pega"],
        ),
        (3, Some("ja"), "Sign in to Acme", ["Use this link to sign in.", "for 10 minutes", "Or paste"]),
        (4, None, "Sign in to Acme", ["Use this link to sign in.", "for 10 minutes", "Or paste"]),
    ] {
        verification.send_magic_link(magic_link_request(accept_language)).await.unwrap();
        let mail = mail_number(&smtp, n).await;
        let decoded_subject = mail.header("Subject").map(|raw| decode_subject(&raw));
        assert_eq!(decoded_subject.as_deref(), Some(subject), "{accept_language:?}");
        let body = mail.text();
        for text in texts {
            assert!(body.contains(text), "{accept_language:?}: {text:?} missing from {body}");
        }
        // The link and code still work whatever the language.
        let (_, token) = link_of(&mail);
        let signed_in = verification
            .sign_in_with_magic_link(pb::SignInWithMagicLinkRequest { token, ..Default::default() })
            .await
            .unwrap();
        assert!(signed_in.into_inner().signed_in.is_some(), "{accept_language:?}: the link does not sign in");
    }
    server.stop().await;
}

/// An RFC 2047 `=?utf-8?b?…?=` subject (non-ASCII) decoded; a plain one as it is.
fn decode_subject(raw: &str) -> String {
    use base64::Engine as _;
    raw.split_whitespace()
        .map(|word| {
            let lower = word.to_ascii_lowercase();
            match lower.strip_prefix("=?utf-8?b?").and_then(|rest| rest.strip_suffix("?=")) {
                Some(_) => {
                    let encoded = &word["=?utf-8?b?".len()..word.len() - 2];
                    let bytes = base64::engine::general_purpose::STANDARD.decode(encoded).unwrap();
                    (String::from_utf8(bytes).unwrap(), true)
                }
                None => (word.to_owned(), false),
            }
        })
        .fold((String::new(), false), |(mut out, last_encoded), (word, encoded)| {
            // Whitespace between two encoded words is not part of the text (RFC 2047 §6.2).
            if !(out.is_empty() || last_encoded && encoded) {
                out.push(' ');
            }
            out.push_str(&word);
            (out, encoded)
        })
        .0
}
