//! Mail templates from `email.templates_dir`: an override replaces a purpose's subject, text and
//! HTML with its placeholders filled (HTML-escaped in HTML), a purpose without files keeps the
//! built-in mail, and a bad template stops the start naming the file.

use keyward::pb;

use crate::{
    common::{Backend, TestDb, TestServer, both_backends, register, test_config},
    smtp_server::SmtpServer,
    verification::{client, link_of, mail_number, request_reset},
};

both_backends!(overrides_replace_a_purposes_mail_and_escape_html, a_bad_template_stops_the_start);

async fn overrides_replace_a_purposes_mail_and_escape_html(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let templates = tempfile::tempdir().unwrap();
    std::fs::write(
        templates.path().join("magic_link.txt"),
        "Subject: {{product}}: your sign-in link\nHello from {{product}}!\nOpen {{link}} or type {{code}} within {{expires}}.\n",
    )
    .unwrap();
    std::fs::write(
        templates.path().join("magic_link.html"),
        "<html><body><p>{{product}}</p><a href=\"{{link}}\">Sign in</a><b>{{code}}</b></body></html>",
    )
    .unwrap();
    let server = TestServer::start_with(backend, |config| {
        config.email.smtp_url = Some(keyward::config::Secret::new(smtp.url()));
        config.email.templates_dir = Some(templates.path().to_path_buf());
        config.public_url = Some("https://id.example.com".into());
        config.rp_name = "Acme & Sons".into();
    })
    .await;
    let (mut auth, mut verification) = (server.auth().await, client(&server).await);
    register(&mut auth, "ada@example.com").await;

    let request = pb::SendMagicLinkRequest { email: "ada@example.com".into(), redirect_uri: String::new() };
    verification.send_magic_link(request).await.unwrap();
    let mail = mail_number(&smtp, 1).await;
    assert_eq!(mail.header("Subject").as_deref(), Some("Acme & Sons: your sign-in link"));
    let body = mail.text();
    let (link, token) = link_of(&mail);
    assert!(body.contains(&format!("Hello from Acme & Sons!\nOpen {link} or type ")), "{body}");
    assert!(body.contains("within 10 minutes."), "{body}");
    assert!(body.contains("<p>Acme &amp; Sons</p>"), "the product is escaped in HTML: {body}");
    assert!(body.contains(&format!("flow=magic-link&amp;token={token}\">Sign in</a>")), "the link too: {body}");
    let signed_in = verification
        .sign_in_with_magic_link(pb::SignInWithMagicLinkRequest { token, ..Default::default() })
        .await
        .unwrap();
    assert!(signed_in.into_inner().signed_in.is_some(), "the link in the template works");

    // No files for password_reset: the built-in mail.
    request_reset(&mut verification, "ada@example.com").await;
    let reset = mail_number(&smtp, 2).await;
    assert_eq!(reset.header("Subject").as_deref(), Some("Reset your Acme & Sons password"));
    assert!(reset.text().contains("Choose a new password"));
    server.stop().await;
}

async fn a_bad_template_stops_the_start(backend: Backend) {
    let db = TestDb::create(backend).await;
    let templates = tempfile::tempdir().unwrap();
    for (file, content, expected) in [
        ("password_reset.html", "<a href=\"{{lnk}}\">reset</a>", "{{lnk}}"),
        ("email_change.txt", "Confirm: {{link}", "without its `}}`"),
    ] {
        let path = templates.path().join(file);
        std::fs::write(&path, content).unwrap();
        let mut config = test_config(&db);
        config.email.templates_dir = Some(templates.path().to_path_buf());
        let listener = tokio::net::TcpListener::bind(config.listen).await.unwrap();
        let err = keyward::App::spawn(config, listener).await.expect_err(file).to_string();
        assert!(err.contains(file) && err.contains(expected), "{file}: {err}");
        std::fs::remove_file(path).unwrap();
    }
    let mut config = test_config(&db);
    config.email.templates_dir = Some(templates.path().join("missing"));
    let listener = tokio::net::TcpListener::bind(config.listen).await.unwrap();
    let err = keyward::App::spawn(config, listener).await.expect_err("missing dir").to_string();
    assert!(err.contains("email.templates_dir"), "{err}");
}
