//! CPU-heavy work must not hold GetSession hostage: password hashing and password-strength
//! estimation queue on their own bounded pool, and past the queue bound Login and Register answer
//! RESOURCE_EXHAUSTED at once.

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use tonic::Code;
use tonic_types::StatusExt;

use crate::common::{Backend, TestServer, get_session, login, reason, register};

const ATTACKERS: usize = 12;
const ATTEMPTS_EACH: usize = 4;
const SESSION_CHECKS: usize = 100;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_storm_does_not_starve_get_session() {
    // Real OWASP argon2 parameters, one hashing thread, a short queue.
    let server = TestServer::start_with(Backend::Sqlite, |config| {
        config.argon2_memory_kib = 19 * 1024;
        config.argon2_iterations = 2;
        config.hash_workers = Some(1);
        config.hash_queue_depth = 4;
        // This storm is about the hashing queue, not the account's failure throttle.
        config.failed_sign_in_free_attempts = 100;
    })
    .await;
    let token = register(&mut server.auth().await, "victim@example.com").await.session_token;

    let checked = Arc::new(AtomicUsize::new(0));
    let overloaded = Arc::new(AtomicUsize::new(0));
    let mut storm = Vec::new();
    for _ in 0..ATTACKERS {
        let mut client = server.auth().await;
        let (checked, overloaded) = (Arc::clone(&checked), Arc::clone(&overloaded));
        storm.push(tokio::spawn(async move {
            let mut done = 0;
            while done < ATTEMPTS_EACH {
                let err = login(&mut client, "victim@example.com", "not-the-password-0").await.unwrap_err();
                match err.code() {
                    Code::Unauthenticated => {
                        assert_eq!(reason(&err), "INVALID_CREDENTIALS");
                        checked.fetch_add(1, Ordering::SeqCst);
                        done += 1;
                    }
                    Code::ResourceExhausted => {
                        assert_eq!(reason(&err), "OVERLOADED", "{:?}", err.get_details_retry_info());
                        assert!(err.get_details_retry_info().is_some(), "tells the client when to retry");
                        overloaded.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(std::time::Duration::from_millis(10)).await; // back off, as RetryInfo asks
                    }
                    other => panic!("unexpected {other:?}: {err:?}"),
                }
            }
        }));
    }

    // Meanwhile, session checks keep being answered, and all of them finish while the storm is
    // still being worked through.
    let mut client = server.auth().await;
    for _ in 0..SESSION_CHECKS {
        get_session(&mut client, &token).await.unwrap();
    }
    let checked_when_sessions_done = checked.load(Ordering::SeqCst);
    for attacker in storm {
        attacker.await.unwrap();
    }
    assert_eq!(checked.load(Ordering::SeqCst), ATTACKERS * ATTEMPTS_EACH);
    assert!(
        checked_when_sessions_done < ATTACKERS * ATTEMPTS_EACH,
        "{SESSION_CHECKS} GetSession calls finished only after all {} password checks",
        ATTACKERS * ATTEMPTS_EACH
    );
    assert!(overloaded.load(Ordering::SeqCst) > 0, "{ATTACKERS} concurrent logins overflow a queue of 4");
    server.stop().await;
}

/// 128 characters of l33t substitutions: zxcvbn's most expensive kind of input (each of
/// `@ 4 3 1 ! 0 $ 5 7 |` stands for one or more letters, and the combinations multiply).
fn adversarial_password(i: usize) -> String {
    format!("{i:04}{}", "p@$$w0rd!l33t|4r3@5y7".repeat(7)).chars().take(128).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adversarial_register_storm_does_not_starve_get_session() {
    const CLIENTS: usize = 6;
    const REGISTERS_EACH: usize = 2;
    let server = TestServer::start_with(Backend::Sqlite, |config| {
        config.hash_workers = Some(1);
        config.hash_queue_depth = 64;
    })
    .await;
    let token = register(&mut server.auth().await, "watcher@example.com").await.session_token;

    let answered = Arc::new(AtomicUsize::new(0));
    let mut storm = Vec::new();
    for client_index in 0..CLIENTS {
        let mut client = server.auth().await;
        let answered = Arc::clone(&answered);
        storm.push(tokio::spawn(async move {
            for n in 0..REGISTERS_EACH {
                let i = client_index * REGISTERS_EACH + n;
                let request = keyward::pb::RegisterRequest {
                    email: format!("storm{i}@example.com"),
                    password: adversarial_password(i),
                    name: String::new(),
                };
                // Accepted or refused as guessable: either way zxcvbn had to look at it.
                match client.register(request).await {
                    Ok(_) => {}
                    Err(err) => assert_eq!(reason(&err), "PASSWORD_TOO_COMMON", "{err:?}"),
                }
                answered.fetch_add(1, Ordering::SeqCst);
            }
        }));
    }
    let mut client = server.auth().await;
    for _ in 0..SESSION_CHECKS {
        get_session(&mut client, &token).await.unwrap();
    }
    let answered_when_sessions_done = answered.load(Ordering::SeqCst);
    for registrations in storm {
        registrations.await.unwrap();
    }
    assert!(
        answered_when_sessions_done < CLIENTS * REGISTERS_EACH,
        "{SESSION_CHECKS} GetSession calls finished only after all {} registrations",
        CLIENTS * REGISTERS_EACH
    );
    server.stop().await;
}
