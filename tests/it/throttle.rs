//! Throttles: consecutive failures per account held in the database across replicas, budgets
//! per client address (X-Forwarded-For only from trusted proxies), and one client's flood not
//! refusing another client's login. Every refusal is RESOURCE_EXHAUSTED / RATE_LIMITED with
//! RetryInfo, looks the same for known and unknown accounts, and writes nothing.

use std::{sync::Arc, time::Duration};

use keyward::{
    config::{RateBudget, RateLimits},
    pb::{self, auth_service_client::AuthServiceClient, passkey_service_client::PasskeyServiceClient},
    service::failure_key,
};
use tonic::{Code, Request, Status, transport::Channel};
use tonic_types::StatusExt;

use crate::common::{Backend, PASSWORD, TestServer, both_backends, login, reason, register};

both_backends!(two_replicas_share_one_failure_count_per_account, concurrent_successes_reset_without_refusing);

const WRONG: &str = "not-the-password-0";

/// `message` as sent by `client_ip` (through a proxy that says so in X-Forwarded-For).
fn with_client<T>(client_ip: &str, message: T) -> Request<T> {
    let mut request = Request::new(message);
    request.metadata_mut().insert("x-forwarded-for", client_ip.parse().unwrap());
    request
}

fn login_request(email: &str, password: &str) -> pb::LoginRequest {
    pb::LoginRequest { email: email.into(), password: password.into() }
}

/// The answer to a refused attempt: RESOURCE_EXHAUSTED, RATE_LIMITED, and when to retry.
fn assert_rate_limited(err: &Status) -> Duration {
    assert_eq!((err.code(), reason(err).as_str()), (Code::ResourceExhausted, "RATE_LIMITED"), "{err:?}");
    err.get_details_retry_info().and_then(|info| info.retry_delay).expect("RetryInfo says when to retry")
}

/// `n` concurrent wrong-password logins for `email`, alternating between two servers; returns
/// how many were checked (INVALID_CREDENTIALS) and how many refused (RATE_LIMITED).
async fn guess_concurrently(
    replicas: [&AuthServiceClient<Channel>; 2],
    email: &str,
    n: usize,
) -> (usize, usize, Vec<Status>) {
    let mut guesses = Vec::new();
    for i in 0..n {
        let mut client = replicas[i % 2].clone();
        let email = email.to_owned();
        guesses.push(tokio::spawn(async move { login(&mut client, &email, WRONG).await.unwrap_err() }));
    }
    let (mut checked, mut refused, mut answers) = (0, 0, Vec::new());
    for guess in guesses {
        let err = guess.await.unwrap();
        match err.code() {
            Code::Unauthenticated => {
                assert_eq!(reason(&err), "INVALID_CREDENTIALS");
                checked += 1;
            }
            _ => {
                assert_rate_limited(&err);
                refused += 1;
            }
        }
        answers.push(err);
    }
    (checked, refused, answers)
}

async fn two_replicas_share_one_failure_count_per_account(backend: Backend) {
    const FREE: usize = 5;
    // A first delay long enough that no window reopens while the test runs; the test moves the
    // clock instead of waiting.
    let server = TestServer::start_with(backend, |config| {
        config.failed_sign_in_free_attempts = FREE as u32;
        config.failed_sign_in_delay_secs = 600;
        config.failed_sign_in_max_delay_secs = 3600;
    })
    .await;
    let other = server.start_replica().await;
    let here = server.auth().await;
    let there = AuthServiceClient::connect(format!("http://{}", other.local_addr())).await.unwrap();
    register(&mut here.clone(), "victim@example.com").await;
    let store = server.app.services().store().clone();
    let before = store.row_counts().await.unwrap();

    // 40 concurrent guesses through two replicas, on a real account and on an unknown email:
    // exactly the free attempts are checked, the rest refused, on each.
    let (checked, refused, known_answers) = guess_concurrently([&here, &there], "victim@example.com", 40).await;
    assert_eq!((checked, refused), (FREE, 40 - FREE), "the database count holds across replicas");
    let (checked, refused, unknown_answers) = guess_concurrently([&here, &there], "nobody@example.com", 40).await;
    assert_eq!((checked, refused), (FREE, 40 - FREE), "an unknown email is throttled exactly alike");
    let refusal = |answers: &[Status]| {
        let err = answers.iter().find(|e| e.code() == Code::ResourceExhausted).unwrap();
        (err.code(), err.message().to_owned(), reason(err))
    };
    assert_eq!(refusal(&known_answers), refusal(&unknown_answers), "the refusal does not tell them apart");
    assert_eq!(store.sign_in_failures(&failure_key("password", "victim@example.com")).await.unwrap(), FREE as u32);

    // Refused calls wrote nothing: only the checked attempts were audited; no session.
    let after = store.row_counts().await.unwrap();
    assert_eq!(after.audit_events, before.audit_events + 2 * FREE as u64);
    assert_eq!(after.sessions, before.sessions);

    // While the delay runs, even the right password is refused (that is what stops guessing)…
    assert_rate_limited(&login(&mut here.clone(), "victim@example.com", PASSWORD).await.unwrap_err());
    // …once it has passed, one more guess is checked, and the next delay has doubled.
    server.clock.advance(Duration::from_secs(601));
    let err = login(&mut here.clone(), "victim@example.com", WRONG).await.unwrap_err();
    assert_eq!(reason(&err), "INVALID_CREDENTIALS");
    let retry = assert_rate_limited(&login(&mut there.clone(), "victim@example.com", WRONG).await.unwrap_err());
    assert!(retry > Duration::from_secs(1000), "the second delay doubles the first: {retry:?}");

    // A success clears the count.
    server.clock.advance(Duration::from_secs(1201));
    login(&mut there.clone(), "victim@example.com", PASSWORD).await.unwrap();
    assert_eq!(store.sign_in_failures(&failure_key("password", "victim@example.com")).await.unwrap(), 0);
    for _ in 0..FREE - 1 {
        assert_eq!(
            reason(&login(&mut here.clone(), "victim@example.com", WRONG).await.unwrap_err()),
            "INVALID_CREDENTIALS"
        );
    }
    other.shutdown().await.unwrap();
    server.stop().await;
}

/// A success resets the count (deletes the row) while other attempts are being reserved: they
/// start over on a fresh row instead of being refused.
async fn concurrent_successes_reset_without_refusing(backend: Backend) {
    let server = TestServer::start_with(backend, |config| config.failed_sign_in_free_attempts = 100).await;
    let other = server.start_replica().await;
    let here = server.auth().await;
    let there = AuthServiceClient::connect(format!("http://{}", other.local_addr())).await.unwrap();
    register(&mut here.clone(), "busy@example.com").await;
    let mut logins = Vec::new();
    for i in 0..24 {
        let mut client = if i % 2 == 0 { here.clone() } else { there.clone() };
        logins.push(tokio::spawn(async move { login(&mut client, "busy@example.com", PASSWORD).await }));
    }
    for login in logins {
        login.await.unwrap().expect("a correct password is not refused because of another success");
    }
    other.shutdown().await.unwrap();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_stop_at_the_limit_until_forgotten() {
    let server = TestServer::start_with(Backend::Sqlite, |config| {
        config.failed_sign_in_free_attempts = 2;
        config.failed_sign_in_limit = 3;
        config.failed_sign_in_delay_secs = 1;
        config.failed_sign_in_max_delay_secs = 1;
        config.failed_sign_in_forget_secs = 3600;
    })
    .await;
    let mut auth = server.auth().await;
    register(&mut auth, "target@example.com").await;
    for _ in 0..3 {
        assert_eq!(reason(&login(&mut auth, "target@example.com", WRONG).await.unwrap_err()), "INVALID_CREDENTIALS");
        server.clock.advance(Duration::from_secs(2));
    }
    // At the limit: nothing passes, however long one waits within the memory of the count…
    server.clock.advance(Duration::from_secs(1800));
    assert_rate_limited(&login(&mut auth, "target@example.com", PASSWORD).await.unwrap_err());
    // …and the suspension lifts when the count is forgotten (never a permanent lockout).
    server.clock.advance(Duration::from_secs(1801));
    assert!(server.app.services().sweep_expired().await.unwrap() >= 1, "the count was forgotten");
    login(&mut auth, "target@example.com", PASSWORD).await.unwrap();
    server.stop().await;
}

fn tight(per_minute: u32, burst: u32) -> RateBudget {
    RateBudget { per_minute, burst }
}

async fn throttled_server() -> TestServer {
    TestServer::start_with(Backend::Sqlite, |config| {
        config.trusted_proxies = vec!["127.0.0.1".into()];
        config.rate_limits = RateLimits {
            enabled: true,
            login: tight(1, 3),
            register: tight(1, 2),
            passkey_start: tight(1, 3),
            oauth_start: tight(1, 2),
            email_send: tight(1, 2),
            email_address: tight(1, 2),
            email_code: tight(1, 2),
            email_code_address: tight(1, 2),
            password_reset: tight(1, 2),
        };
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_budgets_refuse_a_flood_without_writing_and_spare_other_clients() {
    let server = throttled_server().await;
    let mut auth = server.auth().await;
    let mut passkeys = PasskeyServiceClient::connect(server.base_url()).await.unwrap();
    auth.register(with_client(
        "198.51.100.1",
        pb::RegisterRequest { email: "ada@example.com".into(), password: PASSWORD.into(), name: String::new() },
    ))
    .await
    .unwrap();
    let store = server.app.services().store().clone();
    let flooder = "192.0.2.66";

    // Login: the burst is checked, the rest refused before any work.
    for _ in 0..3 {
        let err = auth.login(with_client(flooder, login_request("ada@example.com", WRONG))).await.unwrap_err();
        assert_eq!(reason(&err), "INVALID_CREDENTIALS");
    }
    let before = store.row_counts().await.unwrap();
    for _ in 0..5 {
        assert_rate_limited(
            &auth.login(with_client(flooder, login_request("ada@example.com", PASSWORD))).await.unwrap_err(),
        );
    }
    // Register and StartPasskeySignUp share one budget: a taken email is no free oracle.
    let register_request =
        |email: &str| pb::RegisterRequest { email: email.into(), password: PASSWORD.into(), name: String::new() };
    auth.register(with_client(flooder, register_request("new1@example.com"))).await.unwrap();
    let probe_taken_email = || {
        let mut passkeys = passkeys.clone();
        async move {
            let probe = pb::StartPasskeySignUpRequest { email: "ada@example.com".into(), name: String::new() };
            passkeys.start_passkey_sign_up(with_client(flooder, probe)).await.unwrap_err()
        }
    };
    assert_eq!(reason(&probe_taken_email().await), "EMAIL_TAKEN");
    let before_register = store.row_counts().await.unwrap();
    assert_rate_limited(&auth.register(with_client(flooder, register_request("new2@example.com"))).await.unwrap_err());
    assert_rate_limited(&probe_taken_email().await);
    // StartPasskeyLogin: each writes a ceremony, so the budget bounds what one address stores.
    for _ in 0..3 {
        passkeys.start_passkey_login(with_client(flooder, pb::StartPasskeyLoginRequest::default())).await.unwrap();
    }
    let before_start = store.row_counts().await.unwrap();
    for _ in 0..5 {
        let err = passkeys
            .start_passkey_login(with_client(flooder, pb::StartPasskeyLoginRequest::default()))
            .await
            .unwrap_err();
        assert_rate_limited(&err);
    }
    assert_eq!(store.row_counts().await.unwrap(), before_start, "refused Start calls wrote nothing");
    assert_eq!(before_register.users, before_start.users);
    assert_eq!(before.sessions, before_start.sessions - 1, "only the one allowed Register signed in");

    // Another client is not affected by the flooder's empty buckets.
    let ok = auth.login(with_client("203.0.113.5", login_request("ada@example.com", PASSWORD))).await;
    assert!(ok.is_ok(), "{ok:?}");
    passkeys.start_passkey_login(with_client("203.0.113.5", pb::StartPasskeyLoginRequest::default())).await.unwrap();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_for_is_ignored_from_untrusted_peers() {
    let server = TestServer::start_with(Backend::Sqlite, |config| {
        config.rate_limits = RateLimits { enabled: true, login: tight(1, 2), ..RateLimits::default() };
    })
    .await;
    let mut auth = server.auth().await;
    // Claiming a new address on every call does not buy a new bucket: the peer is the client.
    for (i, expected) in ["INVALID_CREDENTIALS", "INVALID_CREDENTIALS", "RATE_LIMITED"].into_iter().enumerate() {
        let err =
            auth.login(with_client(&format!("192.0.2.{i}"), login_request("x@example.com", WRONG))).await.unwrap_err();
        assert_eq!(reason(&err), expected);
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_clients_flood_does_not_refuse_another_clients_login() {
    // Real argon2 cost, one hashing thread, a short queue: without per-client budgets a flood
    // fills the queue and everyone else's login answers OVERLOADED.
    let server = TestServer::start_with(Backend::Sqlite, |config| {
        config.argon2_memory_kib = 19 * 1024;
        config.argon2_iterations = 2;
        config.hash_workers = Some(1);
        config.hash_queue_depth = 4;
        config.trusted_proxies = vec!["127.0.0.1".into()];
        config.rate_limits = RateLimits { enabled: true, login: tight(6, 2), ..RateLimits::default() };
    })
    .await;
    let mut auth = server.auth().await;
    register(&mut auth, "legit@example.com").await;

    let refused = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut flood = Vec::new();
    for task in 0..12 {
        let mut client = server.auth().await;
        let refused = Arc::clone(&refused);
        flood.push(tokio::spawn(async move {
            for attempt in 0..6 {
                // Random accounts: the flooder is not targeting the legitimate user's account.
                let email = format!("guess{task}-{attempt}@example.com");
                let err = client.login(with_client("192.0.2.66", login_request(&email, WRONG))).await.unwrap_err();
                match reason(&err).as_str() {
                    "RATE_LIMITED" => {
                        refused.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                    other => assert_eq!(other, "INVALID_CREDENTIALS"),
                }
            }
        }));
    }
    for user in 0..8 {
        // Eight legitimate users behind their own addresses, signing in during the flood.
        let answer =
            auth.login(with_client(&format!("203.0.113.{user}"), login_request("legit@example.com", PASSWORD))).await;
        assert!(answer.is_ok(), "the legitimate client was refused: {answer:?}");
    }
    for task in flood {
        task.await.unwrap();
    }
    assert!(refused.load(std::sync::atomic::Ordering::SeqCst) > 0, "the flood met its budget");
    server.stop().await;
}
