//! Factor changes are loud (issue 21 item 14): changing the password, adding and removing a
//! passkey, moving the address and resetting the password each mail exactly one notice to the
//! account's address (the old one for a move) through the test SMTP server, naming what changed
//! and the client address. Linking and unlinking a provider: oauth.rs. A reset that asks for it
//! also removes every passkey (and linked provider), and its notice says so.

use keyward::pb::{self, passkey_service_client::PasskeyServiceClient};

use crate::{
    common::{Backend, PASSWORD, bearer, both_backends, register},
    passkey_authenticator::TestPasskey,
    passkeys::add_passkey,
    smtp_server::{ReceivedMail, SmtpServer},
    verification::{NEW_PASSWORD, client, link_of, mail_number, request_reset, server_with},
};

both_backends!(each_factor_change_mails_one_notice_to_the_account, a_reset_can_remove_every_other_factor);

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

async fn a_reset_can_remove_every_other_factor(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let server = server_with(backend, &smtp).await;
    let (mut auth, mut verification) = (server.auth().await, client(&server).await);
    let me = register(&mut auth, "grace@example.com").await;
    let mut passkeys = PasskeyServiceClient::connect(server.base_url()).await.unwrap();
    let (mut planted, mut own) = (TestPasskey::new(), TestPasskey::new());
    add_passkey(&mut passkeys, &mut planted, &me.session_token, "Planted").await;
    add_passkey(&mut passkeys, &mut own, &me.session_token, "Own").await;
    let store = server.app.services().store().clone();
    let user_id = me.user.unwrap().id;
    assert_eq!(store.count_user_authenticators(&user_id).await.unwrap(), 2);

    // A plain reset keeps the passkeys.
    request_reset(&mut verification, "grace@example.com").await;
    let (_, token) = link_of(&mail_number(&smtp, 3).await);
    let reset = pb::ResetPasswordRequest { token, new_password: NEW_PASSWORD.into(), ..Default::default() };
    verification.reset_password(reset).await.unwrap();
    let mail = notice(&smtp, 4, "grace@example.com", "Your Acme password was changed").await;
    assert!(!mail.text().contains("was removed"), "{}", mail.text());
    assert_eq!(store.count_user_authenticators(&user_id).await.unwrap(), 2);

    // Asked to, the reset removes every passkey in its transaction, and the notice says so.
    request_reset(&mut verification, "grace@example.com").await;
    let (_, token) = link_of(&mail_number(&smtp, 5).await);
    let reset = pb::ResetPasswordRequest {
        token,
        new_password: PASSWORD.into(),
        remove_other_factors: true,
        ..Default::default()
    };
    verification.reset_password(reset).await.unwrap();
    let mail = notice(&smtp, 6, "grace@example.com", "Your Acme password was changed").await;
    assert!(mail.text().contains("every passkey and linked sign-in provider was removed"), "{}", mail.text());
    assert_eq!(store.count_user_authenticators(&user_id).await.unwrap(), 0);
    assert_eq!(store.list_accounts(&user_id, None, 10).await.unwrap().len(), 0);
    let status = crate::passkeys::passkey_login(&mut passkeys, &mut planted, "").await.unwrap_err();
    assert_eq!(crate::common::reason(&status), "PASSKEY_UNKNOWN", "the planted passkey no longer signs in");
    crate::common::login(&mut auth, "grace@example.com", PASSWORD).await.unwrap();
    server.stop().await;
}
