//! Mailed codes against a guesser (issue 21, items 2 and 3), on both backends: a stranger's
//! wrong codes disable only the mail's code — its link still works — and spend the stranger's
//! budget, not the owner's; wrong codes are counted per address and purpose across every mail
//! and every replica, and after 100 codes are refused (the right one too) until a link or
//! another sign-in method succeeds; each wrong code is audited, and a refusal writes and mails
//! nothing more.

use keyward::{
    config::RateBudget,
    pb::{self, verification_service_client::VerificationServiceClient},
    service::{failure_key, outbox::OutboxEvent},
};
use sea_orm::{ConnectionTrait, Database, Statement};
use tonic::{Code, Request, Status, transport::Channel};

use crate::{
    common::{Backend, PASSWORD, TestServer, both_backends, login, reason, register},
    smtp_server::SmtpServer,
    verification::{NEW_PASSWORD, link_of, mail_number, request_reset},
    verification_codes::code_of,
};

both_backends!(
    a_strangers_wrong_codes_void_neither_the_link_nor_the_owners_budget,
    a_hundred_wrong_codes_across_mails_refuse_codes_until_a_link_succeeds,
    a_right_code_clears_the_count_and_unmailed_addresses_get_none,
);

const STRANGER: &str = "192.0.2.66";
const OWNER: &str = "198.51.100.7";

fn from<T>(client: &str, message: T) -> Request<T> {
    let mut request = Request::new(message);
    request.metadata_mut().insert("x-forwarded-for", client.parse().unwrap());
    request
}

/// A six-digit code other than `code`.
fn other_than(code: &str, n: u32) -> String {
    let value: u32 = code.parse().unwrap();
    format!("{:06}", (value + n) % 1_000_000)
}

fn reset_by_code(email: &str, code: &str) -> pb::ResetPasswordRequest {
    pb::ResetPasswordRequest {
        email: email.into(),
        code: code.into(),
        new_password: NEW_PASSWORD.into(),
        ..Default::default()
    }
}

async fn try_code(
    client: &mut VerificationServiceClient<Channel>,
    from_client: &str,
    email: &str,
    code: &str,
) -> Result<(), Status> {
    client.reset_password(from(from_client, reset_by_code(email, code))).await.map(drop)
}

fn assert_code_refused(result: Result<(), Status>, what: &str) {
    let status = result.expect_err(what);
    assert_eq!(
        (status.code(), reason(&status).as_str()),
        (Code::InvalidArgument, "VERIFICATION_CODE_INVALID"),
        "{what}"
    );
}

/// Audit rows of `kind`, read straight from the database.
async fn audit_rows(server: &TestServer, kind: &str) -> i64 {
    count(server, &format!("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM audit_events WHERE kind = '{kind}'")).await
}

async fn count(server: &TestServer, sql: &str) -> i64 {
    let db = Database::connect(&server.db.url).await.unwrap();
    let sql = sql.to_owned();
    let row = db.query_one_raw(Statement::from_string(db.get_database_backend(), sql)).await.unwrap().unwrap();
    db.close().await.unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

/// Waits until every mail is out of the outbox (delivered), so rows can be counted.
async fn drained(store: &keyward::store::Store, events: &mut tokio::sync::broadcast::Receiver<OutboxEvent>) {
    while store.row_counts().await.unwrap().outbox > 0 {
        while !matches!(events.recv().await.unwrap(), OutboxEvent::Delivered { .. }) {}
    }
}

async fn server_with(backend: Backend, smtp: &SmtpServer, budgets: bool) -> TestServer {
    TestServer::start_with(backend, |config| {
        config.email.smtp_url = Some(keyward::config::Secret::new(smtp.url()));
        config.trusted_proxies = vec!["127.0.0.1".into()];
        if budgets {
            config.rate_limits.enabled = true;
            config.rate_limits.email_code_address = RateBudget { per_minute: 1, burst: 3 };
        }
    })
    .await
}

async fn a_strangers_wrong_codes_void_neither_the_link_nor_the_owners_budget(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let server = server_with(backend, &smtp, true).await;
    let (mut auth, mut verification) =
        (server.auth().await, VerificationServiceClient::connect(server.base_url()).await.unwrap());
    register(&mut auth, "ada@example.com").await;
    let mut events = server.app.services().outbox().subscribe();
    request_reset(&mut verification, "ada@example.com").await;
    let mail = mail_number(&smtp, 1).await;
    let code = code_of(&mail);
    let store = server.app.services().store().clone();
    drained(&store, &mut events).await;
    let before = store.row_counts().await.unwrap();

    // The stranger's tries spend the stranger's budget for this address: three, then refused
    // with nothing counted, audited or written.
    for n in 1..=3 {
        assert_code_refused(
            try_code(&mut verification, STRANGER, "ada@example.com", &other_than(&code, n)).await,
            "wrong",
        );
    }
    let throttled = try_code(&mut verification, STRANGER, "ada@example.com", &other_than(&code, 4)).await.unwrap_err();
    assert_eq!(reason(&throttled), "RATE_LIMITED");
    let after_stranger = store.row_counts().await.unwrap();
    assert_eq!(
        after_stranger.audit_events,
        before.audit_events + 3,
        "one audit row per wrong code, none for the refusal"
    );
    assert_eq!(audit_rows(&server, "verification.code_failed").await, 3);
    // A second stranger uses up the mail's five tries.
    for n in 4..=5 {
        assert_code_refused(
            try_code(&mut verification, "192.0.2.67", "ada@example.com", &other_than(&code, n)).await,
            "wrong",
        );
    }

    // The owner's right code is refused as a code (the mail's tries are used up) — not as a
    // spent budget — and their link in the same mail still resets.
    assert_code_refused(try_code(&mut verification, OWNER, "ada@example.com", &code).await, "code used up");
    let now = store.row_counts().await.unwrap();
    assert_eq!(
        (now.verification_tokens, now.outbox, now.sessions, now.users),
        (before.verification_tokens, before.outbox, before.sessions, before.users),
        "the row stays; nothing mailed, no session"
    );
    let (_, token) = link_of(&mail);
    let by_link = pb::ResetPasswordRequest { token, new_password: NEW_PASSWORD.into(), ..Default::default() };
    assert_eq!(verification.reset_password(from(OWNER, by_link)).await.unwrap().into_inner().revoked_sessions, 1);
    login(&mut auth, "ada@example.com", NEW_PASSWORD).await.unwrap();
    server.stop().await;
}

async fn a_hundred_wrong_codes_across_mails_refuse_codes_until_a_link_succeeds(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let server = server_with(backend, &smtp, false).await;
    let replica = server.start_replica().await;
    let mut here = VerificationServiceClient::connect(server.base_url()).await.unwrap();
    let mut there = VerificationServiceClient::connect(format!("http://{}", replica.local_addr())).await.unwrap();
    let mut auth = server.auth().await;
    register(&mut auth, "ada@example.com").await;
    let store = server.app.services().store().clone();
    let key = failure_key("code:password_reset", "ada@example.com");

    // Twenty mails, five wrong codes each, alternating replicas: one count of 100.
    for mail in 1..=20 {
        request_reset(&mut here, "ada@example.com").await;
        let code = code_of(&mail_number(&smtp, mail).await);
        for n in 1..=5 {
            let client = if n % 2 == 0 { &mut here } else { &mut there };
            assert_code_refused(try_code(client, OWNER, "ada@example.com", &other_than(&code, n)).await, "wrong");
        }
    }
    assert_eq!(store.code_failures(&key).await.unwrap(), 100);
    assert_eq!(audit_rows(&server, "verification.code_failed").await, 100, "each wrong code audited");

    // The 21st mail's right code is refused, and the refusal writes and mails nothing.
    let mut events = server.app.services().outbox().subscribe();
    request_reset(&mut here, "ada@example.com").await;
    let mail = mail_number(&smtp, 21).await;
    let code = code_of(&mail);
    drained(&store, &mut events).await;
    let before = store.row_counts().await.unwrap();
    assert_code_refused(try_code(&mut there, OWNER, "ada@example.com", &code).await, "past 100, the right code");
    assert_code_refused(try_code(&mut here, OWNER, "ada@example.com", &code).await, "on either replica");
    assert_eq!(store.row_counts().await.unwrap(), before, "nothing written, audited or mailed");
    assert_eq!(store.code_failures(&key).await.unwrap(), 100, "the bound holds");
    login(&mut auth, "ada@example.com", PASSWORD).await.expect("the password is unchanged");
    // That cleared the count (another method succeeded): the same code works again.
    assert_eq!(store.code_failures(&key).await.unwrap(), 0);
    for n in 1..=2 {
        assert_code_refused(try_code(&mut here, OWNER, "ada@example.com", &other_than(&code, n)).await, "wrong");
    }
    assert_eq!(store.code_failures(&key).await.unwrap(), 2);

    // A used link clears it too.
    let (_, token) = link_of(&mail);
    let by_link = pb::ResetPasswordRequest { token, new_password: NEW_PASSWORD.into(), ..Default::default() };
    there.reset_password(by_link).await.unwrap();
    assert_eq!(store.code_failures(&key).await.unwrap(), 0, "a link that worked resets the count");
    replica.shutdown().await.unwrap();
    server.stop().await;
}

async fn a_right_code_clears_the_count_and_unmailed_addresses_get_none(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let server = server_with(backend, &smtp, false).await;
    let (mut auth, mut verification) =
        (server.auth().await, VerificationServiceClient::connect(server.base_url()).await.unwrap());
    register(&mut auth, "ada@example.com").await;
    let store = server.app.services().store().clone();
    let key = failure_key("code:password_reset", "ada@example.com");
    request_reset(&mut verification, "ada@example.com").await;
    let code = code_of(&mail_number(&smtp, 1).await);
    for n in 1..=3 {
        assert_code_refused(
            try_code(&mut verification, OWNER, "ada@example.com", &other_than(&code, n)).await,
            "wrong",
        );
    }
    assert_eq!(store.code_failures(&key).await.unwrap(), 3);
    // A right code also clears the count (and resets).
    try_code(&mut verification, OWNER, "ada@example.com", &code).await.unwrap();
    assert_eq!(store.code_failures(&key).await.unwrap(), 0);
    // An address nobody mailed gets no count row at all: strangers cannot grow the table.
    assert_code_refused(try_code(&mut verification, STRANGER, "nobody@example.com", "123456").await, "no mail");
    let rows = count(&server, "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM code_failures").await;
    assert_eq!(rows, 0, "only an address with a mail pending is ever counted");
    server.stop().await;
}
