//! Wrong-password timing does not separate imported accounts from unknown addresses: after an
//! import of bcrypt hashes (the Auth.js credentials tutorials' kind), an address without an
//! account is verified against a bcrypt dummy of the accounts' cost, so a wrong password for an
//! imported account and one for an unknown address take about the same time. The test measures
//! both in one run, before and after the server counted the import, and prints the figures.

use std::time::{Duration, Instant};

use keyward::{
    pb::auth_service_client::AuthServiceClient,
    store::{NewUser, new_id},
};
use tonic::transport::Channel;

use crate::common::{Backend, TestServer, both_backends, login, reason};

both_backends!(imported_accounts_and_unknown_addresses_take_the_same_time, imported_better_auth_accounts_too);

/// The cost the imported hashes have (bcryptjs's default is 10; blowfish is built optimized).
const IMPORTED_COST: u32 = 10;
const SAMPLES: usize = 9;
const WRONG: &str = "not-the-password-0";

/// How long a wrong-password Login for `email` takes.
async fn wrong_password_time(auth: &mut AuthServiceClient<Channel>, email: &str) -> Duration {
    let started = Instant::now();
    let refused = login(auth, email, WRONG).await.unwrap_err();
    let took = started.elapsed();
    assert_eq!(reason(&refused), "INVALID_CREDENTIALS", "{email}");
    took
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// Median wrong-password times of `imported` accounts and of fresh unknown addresses, measured
/// alternately (so both see the same load); `round` keeps the unknown addresses fresh.
async fn measure(auth: &mut AuthServiceClient<Channel>, imported: &[String], round: &str) -> (Duration, Duration) {
    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    for (i, email) in imported.iter().enumerate() {
        known.push(wrong_password_time(auth, email).await);
        unknown.push(wrong_password_time(auth, &format!("nobody-{round}-{i}@example.com")).await);
    }
    (median(known), median(unknown))
}

async fn imported_accounts_and_unknown_addresses_take_the_same_time(backend: Backend) {
    let bcrypt = |i: usize| bcrypt::hash(format!("their-own-password-{i}"), IMPORTED_COST).unwrap();
    same_time(backend, &format!("bcrypt-{IMPORTED_COST}"), bcrypt).await;
}

/// The same after `keyward import better-auth`: its scrypt hashes (N=16384, r=16; the scrypt
/// crate is built optimized) against the scrypt dummy.
async fn imported_better_auth_accounts_too(backend: Backend) {
    // Made by better-auth 1.7.29's hashPassword (see src/crypto/scrypt_hash.rs).
    const BETTER_AUTH_HASH: &str = "01cb97bea00ceb0103f788c5705cd2a1:9e2fff4728fe5f4e7b51adb697428048cffe16d2cf4e9e6e982301918207fcec20d18c1325c257da9a721d73b969bab6bbde1ab911ace90d55da1ba89fa74470";
    let scrypt = |_| keyward::crypto::better_auth_password_hash(BETTER_AUTH_HASH).unwrap();
    same_time(backend, "better-auth scrypt", scrypt).await;
}

/// Imports `SAMPLES` accounts holding `hash_for(i)` and compares wrong-password times.
async fn same_time(backend: Backend, kind: &str, hash_for: impl Fn(usize) -> String) {
    let server = TestServer::start_with(backend, |config| {
        config.failed_sign_in_free_attempts = 100;
    })
    .await;
    let mut auth = server.auth().await;
    let store = server.app.services().store().clone();
    let now = server.clock.now();
    // What `keyward import authjs` writes for a credentials user: the bcrypt hash as it was.
    let mut imported = Vec::new();
    for i in 0..SAMPLES {
        let email = format!("imported-{i}@example.com");
        let hash = hash_for(i);
        let user = NewUser {
            id: new_id(),
            email: email.clone(),
            name: None,
            password_hash: Some(hash),
            created_at: now,
            email_verified: Some(now),
        };
        store.create_user(user).await.unwrap();
        imported.push(email);
    }
    // One warm-up each way (connections, the bcrypt dummy's first use).
    wrong_password_time(&mut auth, &imported[0]).await;
    wrong_password_time(&mut auth, "nobody-warm-up@example.com").await;

    // Before the server counted the import: unknown addresses get the argon2 dummy (the old
    // behaviour), far cheaper than a bcrypt check.
    let (known_before, unknown_before) = measure(&mut auth, &imported, "before").await;
    server.app.services().sweep_expired().await.unwrap();
    wrong_password_time(&mut auth, "nobody-warm-up-2@example.com").await;
    let (known_after, unknown_after) = measure(&mut auth, &imported, "after").await;

    let ratio = |known: Duration, unknown: Duration| known.as_secs_f64() / unknown.as_secs_f64();
    let (before, after) = (ratio(known_before, unknown_before), ratio(known_after, unknown_after));
    eprintln!(
        "wrong password, medians of {SAMPLES}: {kind} account {known_before:?} vs unknown address \
         {unknown_before:?} before the mix was counted (ratio {before:.2}); {known_after:?} vs {unknown_after:?} \
         after (ratio {after:.2})"
    );
    // Loose on purpose: the other tests of this binary run alongside and load the 2 cores, so
    // a median can move 2× either way; the difference the dummy removes is 10-30× (`before`).
    assert!((0.33..=3.0).contains(&after), "imported vs unknown: ratio {after:.2}");
    assert!(before > 2.0, "the measurement can see the difference the dummy removes (ratio {before:.2})");
    server.stop().await;
}
