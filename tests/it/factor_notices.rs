//! Factor changes are loud (issue 21 item 14): changing the password, adding and removing a
//! passkey, moving the address and resetting the password each mail exactly one notice to the
//! account's address (the old one for a move) through the test SMTP server, naming what changed
//! and the client address. Linking and unlinking a provider: oauth.rs.

use keyward::pb::{self, passkey_service_client::PasskeyServiceClient};

use crate::{
    common::{Backend, PASSWORD, bearer, both_backends, register},
    passkey_authenticator::TestPasskey,
    passkeys::add_passkey,
    smtp_server::{ReceivedMail, SmtpServer},
    verification::{NEW_PASSWORD, client, link_of, mail_number, request_reset, server_with},
};

both_backends!(each_factor_change_mails_one_notice_to_the_account);

/// Mail number `n`, which must be a notice to `to` with `subject`, naming the client address.
async fn notice(smtp: &SmtpServer, n: usize, to: &str, subject: &str) -> ReceivedMail {
    let mail = mail_number(smtp, n).await;
    assert_eq!(mail.to, [to], "mail {n}");
    assert_eq!(mail.header("Subject").as_deref(), Some(subject), "mail {n}");
    assert!(mail.text().contains("From: 127.0.0.1"), "mail {n}: {}", mail.text());
    mail
}

async fn each_factor_change_mails_one_notice_to_the_account(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let server = server_with(backend, &smtp).await;
    let (mut auth, mut verification) = (server.auth().await, client(&server).await);
    let me = register(&mut auth, "ada@example.com").await;
    let token = me.session_token.clone();

    let change = pb::ChangePasswordRequest { current_password: PASSWORD.into(), new_password: NEW_PASSWORD.into() };
    auth.change_password(bearer(change, &token)).await.unwrap();
    notice(&smtp, 1, "ada@example.com", "Your Acme password was changed").await;

    let mut passkeys = PasskeyServiceClient::connect(server.base_url()).await.unwrap();
    let mut laptop = TestPasskey::new();
    let added = add_passkey(&mut passkeys, &mut laptop, &token, "Laptop").await;
    let mail = notice(&smtp, 2, "ada@example.com", "A passkey was added to your Acme account").await;
    assert!(mail.text().contains("\"Laptop\""), "{}", mail.text());
    let delete = pb::DeletePasskeyRequest { passkey_id: added.id, keep_other_sessions: true };
    passkeys.delete_passkey(bearer(delete, &token)).await.unwrap();
    let mail = notice(&smtp, 3, "ada@example.com", "A passkey was removed from your Acme account").await;
    assert!(mail.text().contains("\"Laptop\""), "{}", mail.text());

    // The move: the link to the new address and the request's notice, then on confirmation the
    // notice of the change, to the old address.
    let request =
        pb::RequestEmailChangeRequest { new_email: "ada.new@example.com".into(), redirect_uri: String::new() };
    verification.request_email_change(bearer(request, &token)).await.unwrap();
    let mails = smtp.wait_for(5).await;
    let link_mail = mails[3..].iter().find(|m| m.to == ["ada.new@example.com"]).expect("the link");
    let (_, change_token) = link_of(link_mail);
    let confirm = pb::ConfirmEmailChangeRequest { token: change_token, ..Default::default() };
    verification.confirm_email_change(confirm).await.unwrap();
    let mail = notice(&smtp, 6, "ada@example.com", "The email address of your Acme account was changed").await;
    assert!(mail.text().contains("ada.new@example.com"), "{}", mail.text());

    request_reset(&mut verification, "ada.new@example.com").await;
    let (_, reset_token) = link_of(&mail_number(&smtp, 7).await);
    let reset = pb::ResetPasswordRequest { token: reset_token, new_password: PASSWORD.into(), ..Default::default() };
    verification.reset_password(reset).await.unwrap();
    let mail = notice(&smtp, 8, "ada.new@example.com", "Your Acme password was changed").await;
    assert!(mail.text().contains("reset link or code"), "{}", mail.text());

    // Exactly one notice per change: nothing else was queued.
    crate::common::mail_delivered(&server).await;
    assert_eq!(smtp.mails().len(), 8);
    server.stop().await;
}
