//! AdminService.CreateUser's invitation, against the SMTP receiver: `send_invitation` mails a
//! set-password link (and code) that works for `email.invitation_ttl_secs`, which ResetPassword
//! finishes; without the flag nothing is mailed; a refused creation mails nothing either (the
//! user, its token and its mail are one transaction).

use std::time::Duration;

use keyward::pb;
use tonic::Code;

use crate::{
    admin::{admin, root_key},
    common::{Backend, TestServer, bearer, both_backends, login, reason},
    smtp_server::SmtpServer,
    verification::{NEW_PASSWORD, client, link_of, mail_number},
};

both_backends!(an_invitation_mails_a_set_password_link);

async fn an_invitation_mails_a_set_password_link(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let server = TestServer::start_with(backend, |config| {
        config.email.smtp_url = Some(keyward::config::Secret::new(smtp.url()));
        config.public_url = Some("https://id.example.com".into());
        config.rp_name = "Acme".into();
    })
    .await;
    let (mut admin_client, key) = (admin(&server).await, root_key(&server).await);
    let create = |email: &str, send_invitation: bool| {
        bearer(pb::CreateUserRequest { email: email.into(), name: String::new(), send_invitation }, &key)
    };
    let store = server.app.services().store().clone();

    admin_client.create_user(create("plain@example.com", false)).await.unwrap();
    assert_eq!(store.row_counts().await.unwrap().verification_tokens, 0, "no invitation asked for");
    admin_client.create_user(create("invited@example.com", true)).await.unwrap();
    let mail = mail_number(&smtp, 1).await;
    assert_eq!(mail.to, ["invited@example.com"]);
    assert_eq!(mail.header("Subject").as_deref(), Some("You are invited to Acme"));
    assert!(mail.text().contains("72 hours"), "{}", mail.text());
    let (link, token) = link_of(&mail);
    assert!(link.starts_with("https://id.example.com/signin?flow=reset-password&token="), "{link}");

    // A taken address: refused, and no token or mail was written with it.
    let before = store.row_counts().await.unwrap();
    let taken = admin_client.create_user(create("invited@example.com", true)).await.unwrap_err();
    assert_eq!((taken.code(), reason(&taken).as_str()), (Code::AlreadyExists, "EMAIL_TAKEN"));
    let after = store.row_counts().await.unwrap();
    assert_eq!((after.verification_tokens, after.users), (before.verification_tokens, before.users));

    // Still good after 71 hours (a reset link's 15 minutes are long gone): it sets the password.
    server.clock.advance(Duration::from_secs(71 * 3600));
    let request = pb::ResetPasswordRequest { token, new_password: NEW_PASSWORD.into(), ..Default::default() };
    client(&server).await.reset_password(request).await.unwrap();
    let mut auth = server.auth().await;
    login(&mut auth, "invited@example.com", NEW_PASSWORD).await.unwrap();
    assert_eq!(smtp.wait_for(2).await.len(), 2, "and the 'password changed' notice follows");
    assert!(smtp.mails().iter().all(|m| m.to != ["plain@example.com"]));
    server.stop().await;
}
