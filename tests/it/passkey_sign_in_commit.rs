//! FinishPasskeyLogin writes a regular sign-in in one transaction (`Store::sign_in_with_passkey`)
//! and leaves everything irregular to the step-by-step path. These show the rules that path
//! enforced still hold on the one-commit path: a locked passkey factor refuses even a valid
//! assertion (writing no session and using up the ceremony), a success clears every factor's
//! failures, and the counter, last use and audit event are written with the session.

use std::time::Duration;

use keyward::{service::failure_key, store::FailurePolicy};
use tonic::Code;

use crate::{
    common::{Backend, TestServer, both_backends, login, reason, register},
    passkey_authenticator::TestPasskey,
    passkeys::{add_passkey, passkey_login, passkeys},
};

both_backends!(one_commit_sign_in_keeps_the_failure_rules);

const EMAIL: &str = "ada@example.com";
const POLICY: FailurePolicy =
    FailurePolicy { free_attempts: 2, delay: Duration::from_secs(1), max_delay: Duration::from_secs(1), limit: 3 };

async fn one_commit_sign_in_keeps_the_failure_rules(backend: Backend) {
    let server = TestServer::start_with(backend, |config| {
        config.failed_sign_in_free_attempts = POLICY.free_attempts;
        config.failed_sign_in_limit = POLICY.limit;
        config.failed_sign_in_delay_secs = 1;
        config.failed_sign_in_max_delay_secs = 1;
    })
    .await;
    let store = server.app.services().store().clone();
    let mut auth = server.auth().await;
    let mut client = passkeys(&server).await;
    let signed_up = register(&mut auth, EMAIL).await;
    let user_id = signed_up.user.unwrap().id;
    let mut laptop = TestPasskey::new();
    add_passkey(&mut client, &mut laptop, &signed_up.session_token, "Laptop").await;
    let password_key = failure_key("password", EMAIL);
    let passkey_key = failure_key("passkey", EMAIL);

    // A passkey sign-in clears the password's failures too (the owner proved control).
    login(&mut auth, EMAIL, "not-the-password-0").await.unwrap_err();
    assert_eq!(store.sign_in_failures(&password_key).await.unwrap(), 1);
    let signed_in = passkey_login(&mut client, &mut laptop, "").await.unwrap().into_inner().signed_in.unwrap();
    assert_eq!(store.sign_in_failures(&password_key).await.unwrap(), 0);
    let stored = store.user_authenticators(&user_id).await.unwrap();
    assert_eq!(stored[0].counter, 1, "the counter moved with the session");
    assert!(stored[0].last_used_at.is_some());
    let kinds = store.audit_event_kinds(&user_id).await.unwrap();
    assert!(kinds.iter().any(|kind| kind == "login.succeeded"), "{kinds:?}");
    assert!(!signed_in.session_token.is_empty());

    // Lock the passkey factor (as failed assertions would), then present a valid assertion.
    for _ in 0..POLICY.limit {
        let attempt = store.reserve_sign_in_attempt(&passkey_key, server.clock.now(), POLICY).await.unwrap();
        assert_eq!(attempt, keyward::store::Attempt::Allowed);
        server.clock.advance(Duration::from_secs(2));
    }
    let before = store.row_counts().await.unwrap();
    let start = client
        .start_passkey_login(keyward::pb::StartPasskeyLoginRequest { email: String::new() })
        .await
        .unwrap()
        .into_inner();
    let credential_json = laptop.get(&start.options_json);
    let finish = keyward::pb::FinishPasskeyLoginRequest { ceremony_id: start.ceremony_id.clone(), credential_json };
    let err = client.finish_passkey_login(finish.clone()).await.unwrap_err();
    assert_eq!((err.code(), reason(&err).as_str()), (Code::ResourceExhausted, "RATE_LIMITED"), "{err:?}");
    let after = store.row_counts().await.unwrap();
    assert_eq!(after.sessions, before.sessions, "no session while locked");
    assert_eq!(after.ceremonies, before.ceremonies, "the refused finish used the ceremony up");
    assert_eq!(store.user_authenticators(&user_id).await.unwrap()[0].counter, 1, "the counter did not move");
    // Used up: the same finish again is an unknown ceremony, not a second try.
    let again = client.finish_passkey_login(finish).await.unwrap_err();
    assert_eq!(reason(&again), "CEREMONY_NOT_FOUND", "{again:?}");
    server.stop().await;
}
