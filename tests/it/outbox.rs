//! The outbox and the mailer: mail queued through the service is delivered over real SMTP to a
//! receiver the test runs; a relay that is down or refusing is retried with backoff (the test
//! moves the clock, then wakes the sender) and the mail arrives once it is back; a message that
//! keeps failing is kept marked dead; payloads are sealed at rest; the file transport is the
//! default; two replicas on one database send each message once; dead messages go after their
//! kind's retention, swept in batches, while younger dead ones and waiting ones stay.

use std::time::Duration;

use keyward::{
    service::{Services, email::EmailMessage, outbox::OutboxEvent},
    store::{NewOutboxMessage, Store, WEBHOOK_KIND},
};
use sea_orm::{ConnectionTrait, Database, Statement};
use tokio::sync::broadcast;

use crate::{
    common::{Backend, TestServer, both_backends},
    smtp_server::{SmtpServer, url_of},
};

/// The longest a test waits for an outbox event (a guard against a hang, not a delay).
const EVENT_WAIT: Duration = Duration::from_secs(30);

both_backends!(
    mail_is_delivered_over_smtp,
    a_relay_that_is_down_or_refusing_is_retried_until_it_takes_the_mail,
    a_message_that_keeps_failing_is_kept_dead_and_its_payload_sealed,
    without_smtp_mail_is_written_to_eml_files,
    two_replicas_send_every_message_once,
    dead_messages_past_their_retention_are_swept_in_batches,
);

fn mail(to: &str, n: usize) -> EmailMessage {
    EmailMessage {
        to: to.into(),
        subject: format!("Message {n}"),
        text: format!("Hello {n}: https://keyward.example/signin?token=abc{n}"),
        html: Some(format!("<p>Hello {n}</p>")),
    }
}

/// Starts a server whose mail goes to `smtp_url`, with one-second retries.
async fn server_with_smtp(backend: Backend, smtp_url: &str, max_attempts: u32) -> TestServer {
    TestServer::start_with(backend, |config| {
        config.email.smtp_url = Some(keyward::config::Secret::new(smtp_url));
        config.email.from = "Keyward Test <no-reply@keyward.test>".into();
        config.email.retry_initial_secs = 1;
        config.email.retry_max_secs = 1;
        config.email.max_attempts = max_attempts;
    })
    .await
}

/// The next outbox event, whatever it is.
async fn next_event(events: &mut broadcast::Receiver<OutboxEvent>) -> OutboxEvent {
    tokio::time::timeout(EVENT_WAIT, events.recv()).await.expect("an outbox event").expect("the event feed")
}

/// Moves time past the retry delay and wakes the sender.
fn retry_now(server: &TestServer, services: &Services) {
    server.clock.advance(Duration::from_secs(2));
    services.outbox().wake();
}

async fn mail_is_delivered_over_smtp(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let server = server_with_smtp(backend, &smtp.url(), 10).await;
    let services = server.app.services().clone();
    let mut events = services.outbox().subscribe();
    services.queue_email(&mail("Ada@Example.com", 1)).await.unwrap();

    assert!(matches!(next_event(&mut events).await, OutboxEvent::Delivered { attempt: 1, .. }));
    let mails = smtp.wait_for(1).await;
    assert_eq!(mails.len(), 1);
    let got = &mails[0];
    assert_eq!(got.from, "no-reply@keyward.test");
    assert_eq!(got.to, ["Ada@Example.com"]);
    assert_eq!(got.header("Subject").as_deref(), Some("Message 1"));
    assert_eq!(got.header("From").as_deref(), Some("\"Keyward Test\" <no-reply@keyward.test>"));
    assert!(got.header("Message-ID").unwrap().ends_with("@keyward.test>"));
    let text = got.text();
    assert!(text.contains("https://keyward.example/signin?token=abc1"), "{text}");
    assert!(text.contains("<p>Hello 1</p>"), "the HTML alternative: {text}");
    let counts = services.store().outbox_counts("email").await.unwrap();
    assert_eq!((counts.waiting, counts.dead), (0, 0), "a delivered message leaves the outbox");
    server.stop().await;
}

async fn a_relay_that_is_down_or_refusing_is_retried_until_it_takes_the_mail(backend: Backend) {
    // Down: nothing listens on the port yet.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let server = server_with_smtp(backend, &url_of(port), 10).await;
    let services = server.app.services().clone();
    let mut events = services.outbox().subscribe();
    services.queue_email(&mail("ada@example.com", 1)).await.unwrap();
    let OutboxEvent::WillRetry { id, attempt: 1 } = next_event(&mut events).await else { panic!("a retry") };
    assert_eq!(services.store().outbox_counts("email").await.unwrap().waiting, 1, "the message waits");

    // Up, but refusing for now (421): another failure, counted.
    let smtp = SmtpServer::start_on(port).await;
    smtp.set_refusing(true);
    retry_now(&server, &services);
    assert_eq!(next_event(&mut events).await, OutboxEvent::WillRetry { id: id.clone(), attempt: 2 });

    // Accepting: the mail arrives, once.
    smtp.set_refusing(false);
    retry_now(&server, &services);
    assert_eq!(next_event(&mut events).await, OutboxEvent::Delivered { id, attempt: 3 });
    assert_eq!(smtp.wait_for(1).await.len(), 1);
    assert_eq!(services.store().outbox_counts("email").await.unwrap().waiting, 0);
    retry_now(&server, &services);
    assert_eq!(smtp.mails().len(), 1, "nothing is sent twice");
    server.stop().await;
}

async fn a_message_that_keeps_failing_is_kept_dead_and_its_payload_sealed(backend: Backend) {
    let smtp = SmtpServer::start().await;
    smtp.set_refusing(true);
    let server = server_with_smtp(backend, &smtp.url(), 2).await;
    let services = server.app.services().clone();
    let mut events = services.outbox().subscribe();
    services.queue_email(&mail("ada@example.com", 1)).await.unwrap();
    assert!(matches!(next_event(&mut events).await, OutboxEvent::WillRetry { attempt: 1, .. }));

    // At rest the payload is ciphertext: neither the link nor the address is readable.
    let db = Database::connect(&server.db.url).await.unwrap();
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), "SELECT payload FROM outbox"))
        .await
        .unwrap()
        .unwrap();
    let payload: String = row.try_get("", "payload").unwrap();
    assert!(payload.starts_with("kw1:"), "{payload}");
    assert!(!payload.contains("token=abc1") && !payload.contains("ada@example.com"));
    db.close().await.unwrap();

    retry_now(&server, &services);
    assert!(matches!(next_event(&mut events).await, OutboxEvent::Dead { attempt: 2, .. }));
    let counts = services.store().outbox_counts("email").await.unwrap();
    assert_eq!((counts.waiting, counts.dead), (0, 1));
    let dead = services.store().dead_outbox_messages("email", 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].attempts, 2);
    assert!(dead[0].last_error.as_deref().unwrap().contains("421"), "{:?}", dead[0].last_error);

    // A dead message is not tried again, even when the relay is back.
    smtp.set_refusing(false);
    retry_now(&server, &services);
    services.queue_email(&mail("grace@example.com", 2)).await.unwrap();
    assert!(matches!(next_event(&mut events).await, OutboxEvent::Delivered { attempt: 1, .. }));
    let mails = smtp.wait_for(1).await;
    assert_eq!(mails.iter().map(|m| m.to[0].as_str()).collect::<Vec<_>>(), ["grace@example.com"]);
    server.stop().await;
}

async fn without_smtp_mail_is_written_to_eml_files(backend: Backend) {
    let server = TestServer::start(backend).await;
    let services = server.app.services().clone();
    let mut events = services.outbox().subscribe();
    services.queue_email(&mail("ada@example.com", 7)).await.unwrap();
    let OutboxEvent::Delivered { id, .. } = next_event(&mut events).await else { panic!("delivered") };
    let path = server.config.data_dir.join("outbox").join(format!("{id}.eml"));
    let eml = std::fs::read_to_string(&path).unwrap();
    assert!(eml.contains("Subject: Message 7"), "{eml}");
    assert!(eml.contains("To: ada@example.com"), "{eml}");
    let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    server.stop().await;
}

async fn two_replicas_send_every_message_once(backend: Backend) {
    const MESSAGES: usize = 40;
    let smtp = SmtpServer::start().await;
    let server = server_with_smtp(backend, &smtp.url(), 10).await;
    let replica = server.start_replica().await;
    let (one, two) = (server.app.services().clone(), replica.services().clone());
    let (mut events_one, mut events_two) = (one.outbox().subscribe(), two.outbox().subscribe());
    for n in 0..MESSAGES {
        let services = if n % 2 == 0 { &one } else { &two };
        services.queue_email(&mail(&format!("user{n}@example.com"), n)).await.unwrap();
        // Both senders race for every message.
        one.outbox().wake();
        two.outbox().wake();
    }
    let mut delivered = Vec::new();
    while delivered.len() < MESSAGES {
        let event = tokio::select! {
            event = next_event(&mut events_one) => event,
            event = next_event(&mut events_two) => event,
        };
        match event {
            OutboxEvent::Delivered { id, .. } => delivered.push(id),
            // A replica that lost a SQLite lock race tries again at its next wake-up.
            other => panic!("unexpected {other:?}"),
        }
    }
    delivered.sort();
    delivered.dedup();
    assert_eq!(delivered.len(), MESSAGES, "each message delivered by exactly one replica");
    assert_eq!(one.store().outbox_counts("email").await.unwrap().waiting, 0, "nothing left to send");
    let mut recipients: Vec<String> = smtp.wait_for(MESSAGES).await.into_iter().map(|m| m.to[0].clone()).collect();
    recipients.sort();
    recipients.dedup();
    assert_eq!(recipients.len(), MESSAGES);
    assert_eq!(smtp.mails().len(), MESSAGES, "no mail twice");
    replica.shutdown().await.unwrap();
    server.stop().await;
}

/// Queues `n` messages of `kind` at `at` and, when `dead_at` is given, gives them up then.
async fn outbox_rows(
    store: &Store,
    kind: &'static str,
    n: usize,
    at: chrono::DateTime<chrono::Utc>,
    dead_at: Option<chrono::DateTime<chrono::Utc>>,
) {
    for _ in 0..n {
        store.enqueue(NewOutboxMessage { kind, payload: "{}".into() }, at).await.unwrap();
    }
    let Some(dead_at) = dead_at else { return };
    let claimed = store.claim_outbox(kind, None, at, chrono::Duration::minutes(1), n as u64).await.unwrap();
    assert_eq!(claimed.len(), n);
    for message in claimed {
        assert!(store.bury_outbox(&message.id, message.attempt, dead_at, "gave up").await.unwrap());
    }
}

async fn dead_messages_past_their_retention_are_swept_in_batches(backend: Backend) {
    let server = TestServer::start_with(backend, |config| {
        config.email.dead_retention_days = 7;
        config.webhook_delivery.dead_retention_days = 30;
    })
    .await;
    let services = server.app.services().clone();
    let store = services.store().clone();
    let now = server.clock.now();
    let days = chrono::Duration::days;
    // Queued far ahead, so no sender takes them while the test runs (no webhook endpoint is
    // configured: nothing delivers webhook rows at all).
    let ahead = now + days(1000);
    // More old dead mail than one sweep batch (1000 rows a statement).
    outbox_rows(&store, "email", 1001, ahead, Some(now - days(8))).await;
    outbox_rows(&store, "email", 2, ahead, Some(now - days(6))).await;
    outbox_rows(&store, WEBHOOK_KIND, 1, ahead, Some(now - days(31))).await;
    outbox_rows(&store, WEBHOOK_KIND, 1, ahead, Some(now - days(8))).await;
    // Waiting messages stay however old they are.
    outbox_rows(&store, "email", 1, ahead, None).await;
    outbox_rows(&store, WEBHOOK_KIND, 1, now - days(400), None).await;
    let email = store.outbox_counts("email").await.unwrap();
    assert_eq!((email.waiting, email.dead), (1, 1003));

    let swept = services.sweep_expired().await.unwrap();
    assert!(swept >= 1002, "{swept}");
    let email = store.outbox_counts("email").await.unwrap();
    assert_eq!((email.waiting, email.dead), (1, 2), "mail dead 8 days ago went (7-day retention); 6 days ago stayed");
    let webhooks = store.outbox_counts(WEBHOOK_KIND).await.unwrap();
    assert_eq!((webhooks.waiting, webhooks.dead), (1, 1), "the webhook dead 31 days ago went (30-day retention)");
    let kept = store.dead_outbox_messages(WEBHOOK_KIND, 10).await.unwrap();
    assert_eq!(kept.len(), 1);
    assert!(kept[0].dead_at > now - days(9) && kept[0].dead_at < now - days(7), "{kept:?}");
    assert_eq!(services.sweep_expired().await.unwrap(), 0, "nothing more to sweep");
    server.stop().await;
}
