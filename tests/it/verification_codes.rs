//! The one-time codes in mailed links, end to end against the SMTP receiver: the code read out of
//! the mail finishes every flow in place of the token; a wrong code is counted, the sixth try is
//! refused even when right (the link still works); a code works only for its purpose, its address
//! and its time; malformed codes change nothing; tries are throttled per address; and the
//! database holds a keyed hash, not the code or its plain SHA-256.

use std::time::Duration;

use keyward::{
    pb::{self, verification_service_client::VerificationServiceClient},
    service::outbox::OutboxEvent,
};
use sea_orm::{ConnectionTrait, Database, Statement};
use tonic::{Code, transport::Channel};

use crate::{
    common::{Backend, PASSWORD, TestServer, bearer, both_backends, login, reason, register, violations},
    smtp_server::{ReceivedMail, SmtpServer},
    verification::{NEW_PASSWORD, client, link_of, mail_number, request_reset, server_with},
};

both_backends!(
    a_mailed_code_finishes_every_flow,
    wrong_codes_disable_the_code_never_the_link,
    codes_are_bound_to_purpose_address_and_time,
    malformed_proofs_are_refused_and_change_nothing,
    code_tries_are_throttled_per_address,
);

/// The six-digit code in `mail`.
pub(crate) fn code_of(mail: &ReceivedMail) -> String {
    let text = mail.text();
    let at = text.find("code in the app: ").unwrap_or_else(|| panic!("no code in {text}")) + "code in the app: ".len();
    let code: String = text[at..].chars().take(6).collect();
    assert!(code.bytes().all(|b| b.is_ascii_digit()), "{code}");
    code
}

/// A six-digit code other than `code`.
fn other_than(code: &str, n: u32) -> String {
    let value: u32 = code.parse().unwrap();
    format!("{:06}", (value + n) % 1_000_000)
}

async fn reset_with_code(
    client: &mut VerificationServiceClient<Channel>,
    email: &str,
    code: &str,
) -> Result<i32, tonic::Status> {
    let request = pb::ResetPasswordRequest {
        email: email.into(),
        code: code.into(),
        new_password: NEW_PASSWORD.into(),
        ..Default::default()
    };
    Ok(client.reset_password(request).await?.into_inner().revoked_sessions)
}

async fn magic_with_code(
    client: &mut VerificationServiceClient<Channel>,
    email: &str,
    code: &str,
) -> Result<pb::SignedIn, tonic::Status> {
    let request = pb::SignInWithMagicLinkRequest { email: email.into(), code: code.into(), ..Default::default() };
    Ok(client.sign_in_with_magic_link(request).await?.into_inner().signed_in.unwrap())
}

async fn send_magic_link(client: &mut VerificationServiceClient<Channel>, email: &str) {
    client
        .send_magic_link(pb::SendMagicLinkRequest { email: email.into(), redirect_uri: String::new() })
        .await
        .unwrap();
}

fn assert_code_refused(result: Result<impl std::fmt::Debug, tonic::Status>, what: &str) {
    let status = result.expect_err(what);
    assert_eq!(
        (status.code(), reason(&status).as_str()),
        (Code::InvalidArgument, "VERIFICATION_CODE_INVALID"),
        "{what}"
    );
    assert!(violations(&status).contains_key("code"), "{what}: {status:?}");
}

/// `verification_tokens` rows as (identifier, code_hash, code_attempts), read straight from the
/// database.
async fn code_rows(server: &TestServer) -> Vec<(String, Option<String>, i64)> {
    let db = Database::connect(&server.db.url).await.unwrap();
    let sql = "SELECT identifier, code_hash, CAST(code_attempts AS BIGINT) AS attempts FROM verification_tokens \
               ORDER BY identifier, purpose";
    let rows = db.query_all_raw(Statement::from_string(db.get_database_backend(), sql)).await.unwrap();
    db.close().await.unwrap();
    rows.iter()
        .map(|row| {
            (
                row.try_get::<String>("", "identifier").unwrap(),
                row.try_get::<Option<String>>("", "code_hash").unwrap(),
                row.try_get::<i64>("", "attempts").unwrap(),
            )
        })
        .collect()
}

async fn a_mailed_code_finishes_every_flow(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let server = server_with(backend, &smtp).await;
    let (mut auth, mut verification) = (server.auth().await, client(&server).await);
    let me = register(&mut auth, "ada@example.com").await;

    // Verification, by code: the address is proved.
    verification
        .send_verification_email(bearer(pb::SendVerificationEmailRequest::default(), &me.session_token))
        .await
        .unwrap();
    let mail = mail_number(&smtp, 1).await;
    let code = code_of(&mail);
    assert!(mail.data.contains(&code), "the HTML part shows it too");
    let request = pb::VerifyEmailRequest { email: "Ada@Example.com".into(), code: code.clone(), ..Default::default() };
    let user = verification.verify_email(request).await.unwrap().into_inner().user.unwrap();
    assert!(user.email_verify_time.is_some());
    // The code used the row: the link in the same mail is void now.
    let (_, token) = link_of(&mail);
    let link = verification.verify_email(pb::VerifyEmailRequest { token, ..Default::default() }).await.unwrap_err();
    assert_eq!(reason(&link), "VERIFICATION_TOKEN_INVALID");

    // Reset, by code: every session ends and the new password works.
    request_reset(&mut verification, "ada@example.com").await;
    let code = code_of(&mail_number(&smtp, 2).await);
    assert_eq!(reset_with_code(&mut verification, "ada@example.com", &code).await.unwrap(), 1);
    assert_code_refused(reset_with_code(&mut verification, "ada@example.com", &code).await, "single use");
    login(&mut auth, "ada@example.com", NEW_PASSWORD).await.unwrap();

    // Magic link, by code: signed in.
    send_magic_link(&mut verification, "ada@example.com").await;
    let mails = smtp.wait_for(4).await;
    let magic = mails.iter().find(|m| m.header("Subject").unwrap().starts_with("Sign in")).unwrap();
    let signed_in = magic_with_code(&mut verification, "ada@example.com", &code_of(magic)).await.unwrap();
    assert!(!signed_in.session_token.is_empty());

    // Email change, by code sent to the new address.
    let fresh = login(&mut auth, "ada@example.com", NEW_PASSWORD).await.unwrap();
    let change = pb::RequestEmailChangeRequest { new_email: "ada.new@example.com".into(), redirect_uri: String::new() };
    verification.request_email_change(bearer(change, &fresh.session_token)).await.unwrap();
    let mails = smtp.wait_for(6).await;
    let to_new = mails.iter().find(|m| m.to == ["ada.new@example.com"]).unwrap();
    let confirm = pb::ConfirmEmailChangeRequest {
        email: "ada.new@example.com".into(),
        code: code_of(to_new),
        ..Default::default()
    };
    let user = verification.confirm_email_change(confirm).await.unwrap().into_inner().user.unwrap();
    assert_eq!(user.email, "ada.new@example.com");
    server.stop().await;
}

async fn wrong_codes_disable_the_code_never_the_link(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let server = server_with(backend, &smtp).await;
    let (mut auth, mut verification) = (server.auth().await, client(&server).await);
    register(&mut auth, "ada@example.com").await;

    // Four wrong codes are counted; the right one still works on the fifth try.
    request_reset(&mut verification, "ada@example.com").await;
    let code = code_of(&mail_number(&smtp, 1).await);
    let rows = code_rows(&server).await;
    let (_, hash, _) = &rows[0];
    let hash = hash.clone().expect("a code hash");
    let sha256: String = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, code.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert!(!hash.contains(&code) && hash != sha256, "stored keyed, not as the code or its SHA-256");
    for n in 1..=4 {
        assert_code_refused(
            reset_with_code(&mut verification, "ada@example.com", &other_than(&code, n)).await,
            "wrong",
        );
        assert_eq!(code_rows(&server).await[0].2, i64::from(n), "each wrong code is counted");
    }
    reset_with_code(&mut verification, "ada@example.com", &code).await.unwrap();
    assert!(code_rows(&server).await.is_empty(), "the row is used");

    // Five wrong codes disable the mail's code — the right one on the sixth try is refused — but
    // never its link: the row stays, and the link in the same mail still resets.
    request_reset(&mut verification, "ada@example.com").await;
    let mail = mail_number(&smtp, 3).await;
    let code = code_of(&mail);
    for n in 1..=5 {
        assert_code_refused(
            reset_with_code(&mut verification, "ada@example.com", &other_than(&code, n)).await,
            "wrong",
        );
    }
    assert_eq!(code_rows(&server).await[0].2, 5, "the row stays, its code used up");
    assert_code_refused(reset_with_code(&mut verification, "ada@example.com", &code).await, "sixth try, right code");
    assert_eq!(code_rows(&server).await[0].2, 5, "a refused try counts nothing more");
    let (_, token) = link_of(&mail);
    let request = pb::ResetPasswordRequest { token, new_password: NEW_PASSWORD.into(), ..Default::default() };
    verification.reset_password(request).await.unwrap();
    assert!(code_rows(&server).await.is_empty(), "the link used the row");
    login(&mut auth, "ada@example.com", NEW_PASSWORD).await.unwrap();
    server.stop().await;
}

async fn codes_are_bound_to_purpose_address_and_time(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let server = server_with(backend, &smtp).await;
    let (mut auth, mut verification) = (server.auth().await, client(&server).await);
    register(&mut auth, "ada@example.com").await;
    register(&mut auth, "bob@example.com").await;

    send_magic_link(&mut verification, "ada@example.com").await;
    let magic = code_of(&mail_number(&smtp, 1).await);
    assert_code_refused(reset_with_code(&mut verification, "ada@example.com", &magic).await, "another purpose");
    request_reset(&mut verification, "bob@example.com").await;
    let bobs = code_of(&mail_number(&smtp, 2).await);
    assert_code_refused(magic_with_code(&mut verification, "bob@example.com", &magic).await, "another address");
    if bobs != magic {
        assert_code_refused(magic_with_code(&mut verification, "ada@example.com", &bobs).await, "bob's code");
    }
    assert_code_refused(magic_with_code(&mut verification, "nobody@example.com", &magic).await, "no such address");

    // Past the magic link's 10 minutes the right code is refused like a wrong one.
    server.clock.advance(Duration::from_secs(11 * 60));
    assert_code_refused(magic_with_code(&mut verification, "ada@example.com", &magic).await, "expired");
    // Bob's reset (15 minutes) still works with its own code.
    reset_with_code(&mut verification, "bob@example.com", &bobs).await.unwrap();
    login(&mut auth, "ada@example.com", PASSWORD).await.unwrap();
    server.stop().await;
}

async fn malformed_proofs_are_refused_and_change_nothing(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let server = server_with(backend, &smtp).await;
    let (mut auth, mut verification) = (server.auth().await, client(&server).await);
    let me = register(&mut auth, "ada@example.com").await;
    let mut events = server.app.services().outbox().subscribe();
    request_reset(&mut verification, "ada@example.com").await;
    send_magic_link(&mut verification, "ada@example.com").await;
    verification
        .send_verification_email(bearer(pb::SendVerificationEmailRequest::default(), &me.session_token))
        .await
        .unwrap();
    let mails = smtp.wait_for(3).await;
    let reset_mail = mails.iter().find(|m| m.header("Subject").unwrap().starts_with("Reset")).unwrap();
    let code = code_of(reset_mail);
    let (_, token) = link_of(reset_mail);
    // Every mail is out of the outbox before the rows are counted.
    let mut delivered = 0;
    while delivered < 3 {
        let event = tokio::time::timeout(Duration::from_secs(30), events.recv()).await.unwrap().unwrap();
        delivered += usize::from(matches!(event, OutboxEvent::Delivered { .. }));
    }
    let store = server.app.services().store().clone();
    let (before, rows_before) = (store.row_counts().await.unwrap(), code_rows(&server).await);

    let oversized = "9".repeat(10_000);
    // (token, email, code) → (field, reason)
    let cases: &[(&str, &str, &str, &str, &str)] = &[
        ("", "", "", "token", "FIELD_REQUIRED"),
        ("", "ada@example.com", "", "code", "FIELD_REQUIRED"),
        ("", "", &code, "email", "FIELD_REQUIRED"),
        ("", "ada@example.com", "12a456", "code", "FIELD_MALFORMED"),
        ("", "ada@example.com", "12345", "code", "FIELD_MALFORMED"),
        ("", "ada@example.com", "1234567", "code", "FIELD_MALFORMED"),
        ("", "ada@example.com", &oversized, "code", "FIELD_TOO_LONG"),
        ("", "not-an-address", &code, "email", "INVALID_EMAIL"),
        (&token, "ada@example.com", &code, "code", "FIELD_MALFORMED"),
    ];
    for (token, email, code, field, expected) in cases {
        let (token, email, code) = (token.to_string(), email.to_string(), code.to_string());
        let statuses = [
            verification
                .reset_password(pb::ResetPasswordRequest {
                    token: token.clone(),
                    new_password: NEW_PASSWORD.into(),
                    email: email.clone(),
                    code: code.clone(),
                    remove_other_factors: false,
                })
                .await
                .unwrap_err(),
            verification
                .verify_email(pb::VerifyEmailRequest { token: token.clone(), email: email.clone(), code: code.clone() })
                .await
                .unwrap_err(),
            verification
                .sign_in_with_magic_link(pb::SignInWithMagicLinkRequest {
                    token: token.clone(),
                    email: email.clone(),
                    code: code.clone(),
                })
                .await
                .unwrap_err(),
            verification.confirm_email_change(pb::ConfirmEmailChangeRequest { token, email, code }).await.unwrap_err(),
        ];
        for status in statuses {
            assert_eq!((status.code(), reason(&status).as_str()), (Code::InvalidArgument, *expected), "{field}");
            assert!(violations(&status).contains_key(*field), "{field}: {status:?}");
        }
    }
    assert_eq!(store.row_counts().await.unwrap(), before, "nothing written");
    assert_eq!(code_rows(&server).await, rows_before, "no attempt counted");
    reset_with_code(&mut verification, "ada@example.com", &code).await.unwrap();
    server.stop().await;
}

async fn code_tries_are_throttled_per_address(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let server = TestServer::start_with(backend, |config| {
        config.email.smtp_url = Some(keyward::config::Secret::new(smtp.url()));
        config.rate_limits.enabled = true;
        config.rate_limits.email_code_address = keyward::service::RateBudget { per_minute: 1, burst: 2 };
    })
    .await;
    let (mut auth, mut verification) = (server.auth().await, client(&server).await);
    register(&mut auth, "ada@example.com").await;
    request_reset(&mut verification, "ada@example.com").await;
    let code = code_of(&mail_number(&smtp, 1).await);
    for n in 1..=2 {
        assert_code_refused(
            reset_with_code(&mut verification, "ada@example.com", &other_than(&code, n)).await,
            "wrong",
        );
    }
    let throttled = reset_with_code(&mut verification, "ada@example.com", &code).await.unwrap_err();
    assert_eq!((throttled.code(), reason(&throttled).as_str()), (Code::ResourceExhausted, "RATE_LIMITED"));
    assert_eq!(code_rows(&server).await[0].2, 2, "a throttled try is not counted");
    // Another address has its own budget.
    assert_code_refused(reset_with_code(&mut verification, "bob@example.com", &code).await, "no mail to bob");
    server.clock.advance(Duration::from_secs(61));
    reset_with_code(&mut verification, "ada@example.com", &code).await.unwrap();
    server.stop().await;
}
