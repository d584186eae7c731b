//! Register under `require_email_verification` says nothing about whether an address is taken:
//! every address gets the same answer (OK, nobody signed in, no cookie) and the same rows written
//! before it; afterwards a free address becomes an unverified account with a verification link,
//! and a taken one's owner is mailed "someone tried to create an account" — no link, no code, no
//! change to the account. Bad input is refused alike, writing and mailing nothing.

use keyward::pb::{self, auth_service_client::AuthServiceClient};
use tonic::{Code, transport::Channel};

use crate::{
    common::{Backend, PASSWORD, TestServer, both_backends, login, reason, register_unverified},
    smtp_server::SmtpServer,
    verification::{client, link_of, mail_number},
};

both_backends!(register_answers_a_taken_address_like_a_free_one);

const OTHER_PASSWORD: &str = "lantern-orchard-vivid-93";

async fn register_raw(
    auth: &mut AuthServiceClient<Channel>,
    email: &str,
    password: &str,
) -> Result<tonic::Response<pb::RegisterResponse>, tonic::Status> {
    auth.register(pb::RegisterRequest { email: email.into(), password: password.into(), name: String::new() }).await
}

async fn register_answers_a_taken_address_like_a_free_one(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let server = TestServer::start_with(backend, |config| {
        config.email.smtp_url = Some(keyward::config::Secret::new(smtp.url()));
        config.require_email_verification = true;
        config.rp_name = "Acme".into();
    })
    .await;
    let (mut auth, mut verification) = (server.auth().await, client(&server).await);
    let store = server.app.services().store().clone();

    // The account to collide with: registered, verified by its link, signing in.
    register_unverified(&mut auth, "taken@example.com").await;
    let (_, token) = link_of(&mail_number(&smtp, 1).await);
    verification.verify_email(pb::VerifyEmailRequest { token, ..Default::default() }).await.unwrap();
    login(&mut auth, "taken@example.com", PASSWORD).await.unwrap();

    // Bad input: the same refusal for both, nothing written, nothing mailed.
    let before = store.row_counts().await.unwrap();
    for email in ["new@example.com", "taken@example.com"] {
        let weak = register_raw(&mut auth, email, "password1234567").await.unwrap_err();
        assert_eq!((weak.code(), reason(&weak).as_str()), (Code::InvalidArgument, "PASSWORD_TOO_COMMON"), "{email}");
    }
    assert_eq!(store.row_counts().await.unwrap(), before);

    // The same answer: OK, no session in the body, no cookie.
    let mut answers = Vec::new();
    for email in ["new@example.com", "taken@example.com"] {
        let answer = register_raw(&mut auth, email, OTHER_PASSWORD).await.unwrap();
        answers.push((answer.metadata().get("set-cookie").is_some(), answer.into_inner()));
    }
    assert_eq!(answers[0], answers[1], "a taken address is answered like a free one");
    assert_eq!(answers[0], (false, pb::RegisterResponse { signed_in: None }));

    // Afterwards each address is told what it needs: a link to the free one, a note to the owner.
    let mails = smtp.wait_for(3).await;
    let to_free = mails.iter().find(|m| m.to == ["new@example.com"]).unwrap();
    let to_taken = mails[1..].iter().find(|m| m.to == ["taken@example.com"]).unwrap();
    assert!(link_of(to_free).0.contains("flow=verify-email"), "{}", to_free.text());
    assert!(to_taken.text().contains("you already have one"), "{}", to_taken.text());
    assert!(!to_taken.text().contains("token=") && !to_taken.text().contains("enter this code"), "no link, no code");
    assert_eq!(store.row_counts().await.unwrap().users, before.users + 1, "one account: the free address's");

    // The taken account is untouched: its password still works, the stranger's does not.
    login(&mut auth, "taken@example.com", PASSWORD).await.unwrap();
    let stranger = login(&mut auth, "taken@example.com", OTHER_PASSWORD).await.unwrap_err();
    assert_eq!(reason(&stranger), "INVALID_CREDENTIALS");

    // The free address signs in once its link proved it.
    let unproved = login(&mut auth, "new@example.com", OTHER_PASSWORD).await.unwrap_err();
    assert_eq!(reason(&unproved), "EMAIL_NOT_VERIFIED");
    let latest = smtp.wait_for(4).await.into_iter().rfind(|m| m.to == ["new@example.com"]).unwrap();
    let (_, token) = link_of(&latest);
    verification.verify_email(pb::VerifyEmailRequest { token, ..Default::default() }).await.unwrap();
    login(&mut auth, "new@example.com", OTHER_PASSWORD).await.unwrap();
    server.stop().await;
}
