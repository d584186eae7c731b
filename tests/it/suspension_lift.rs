//! A suspended password comes back with a proof of the address: after `failed_sign_in_limit`
//! wrong passwords the factor is suspended (even the right password is RATE_LIMITED); a
//! completed password reset lifts it in the reset's transaction, and so does a magic-link
//! sign-in. A refused reset or a bad link lifts nothing.

use std::time::Duration;

use keyward::{pb, service::failure_key};
use tonic::Code;

use crate::{
    common::{Backend, PASSWORD, TestServer, both_backends, login, reason, register},
    smtp_server::SmtpServer,
    verification::{NEW_PASSWORD, REDIRECT, client, link_of, mail_number, request_reset},
};

both_backends!(a_reset_lifts_the_password_suspension, a_magic_link_sign_in_lifts_the_password_suspension);

const WRONG: &str = "not-the-password-0";

async fn server(backend: Backend, smtp: &SmtpServer) -> TestServer {
    TestServer::start_with(backend, |config| {
        config.email.smtp_url = Some(keyward::config::Secret::new(smtp.url()));
        config.email.redirect_uris = vec![REDIRECT.into()];
        config.public_url = Some("https://id.example.com".into());
        config.failed_sign_in_free_attempts = 2;
        config.failed_sign_in_limit = 3;
        config.failed_sign_in_delay_secs = 1;
        config.failed_sign_in_max_delay_secs = 1;
        config.failed_sign_in_forget_secs = 86_400;
    })
    .await
}

/// Three wrong passwords (the limit), then the right one is refused: the factor is suspended.
async fn suspend(server: &TestServer, email: &str) {
    let mut auth = server.auth().await;
    for _ in 0..3 {
        assert_eq!(reason(&login(&mut auth, email, WRONG).await.unwrap_err()), "INVALID_CREDENTIALS");
        server.clock.advance(Duration::from_secs(2));
    }
    server.clock.advance(Duration::from_secs(60));
    let refused = login(&mut auth, email, PASSWORD).await.unwrap_err();
    assert_eq!((refused.code(), reason(&refused).as_str()), (Code::ResourceExhausted, "RATE_LIMITED"));
    assert_eq!(password_failures(server, email).await, 3);
}

async fn password_failures(server: &TestServer, email: &str) -> u32 {
    server.app.services().store().sign_in_failures(&failure_key("password", email)).await.unwrap()
}

async fn a_reset_lifts_the_password_suspension(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let server = server(backend, &smtp).await;
    let (mut auth, mut verification) = (server.auth().await, client(&server).await);
    register(&mut auth, "ada@example.com").await;
    suspend(&server, "ada@example.com").await;

    request_reset(&mut verification, "ada@example.com").await;
    let (_, token) = link_of(&mail_number(&smtp, 1).await);
    let reset = |password: &str| pb::ResetPasswordRequest {
        token: token.clone(),
        new_password: password.into(),
        ..Default::default()
    };
    // A reset the policy refuses changes nothing: still suspended.
    let weak = verification.reset_password(reset("short")).await.unwrap_err();
    assert_eq!(reason(&weak), "PASSWORD_TOO_SHORT");
    assert_eq!(password_failures(&server, "ada@example.com").await, 3, "a refused reset lifts nothing");

    verification.reset_password(reset(NEW_PASSWORD)).await.unwrap();
    assert_eq!(password_failures(&server, "ada@example.com").await, 0);
    login(&mut auth, "ada@example.com", NEW_PASSWORD).await.expect("the new password signs in at once");
    server.stop().await;
}

async fn a_magic_link_sign_in_lifts_the_password_suspension(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let server = server(backend, &smtp).await;
    let (mut auth, mut verification) = (server.auth().await, client(&server).await);
    register(&mut auth, "grace@example.com").await;
    suspend(&server, "grace@example.com").await;

    let send = pb::SendMagicLinkRequest { email: "grace@example.com".into(), redirect_uri: REDIRECT.into() };
    verification.send_magic_link(send).await.unwrap();
    let (_, token) = link_of(&mail_number(&smtp, 1).await);
    let bad = pb::SignInWithMagicLinkRequest { token: "A".repeat(43), ..Default::default() };
    assert_eq!(reason(&verification.sign_in_with_magic_link(bad).await.unwrap_err()), "VERIFICATION_TOKEN_INVALID");
    assert_eq!(password_failures(&server, "grace@example.com").await, 3, "a bad link lifts nothing");

    let good = pb::SignInWithMagicLinkRequest { token, ..Default::default() };
    verification.sign_in_with_magic_link(good).await.unwrap();
    assert_eq!(password_failures(&server, "grace@example.com").await, 0);
    login(&mut auth, "grace@example.com", PASSWORD).await.expect("the password works again");
    server.stop().await;
}
