//! Passkey failures: every ceremony and verification error has its own status and reason and
//! leaves the stored passkeys, sessions and users as they were.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use keyward::{config::CounterPolicy, pb, store::RowCounts};
use sea_orm::{ConnectionTrait, Database};
use serde_json::Value;
use tonic::Code;

use crate::{
    common::{Backend, RELATED_ORIGIN, TestServer, bearer, both_backends, reason, register, violations},
    passkey_authenticator::TestPasskey,
    passkeys::{add_passkey, passkey_login, passkeys, sign_up_with_passkey},
};

both_backends!(
    concurrent_deletes_cannot_remove_the_last_method,
    ceremonies_are_single_use_expire_and_stay_with_their_owner,
    counter_regression_follows_policy,
    credential_of_another_user_is_refused
);

/// Row counts once the factor-change notices queued so far are delivered.
async fn counts(server: &TestServer) -> RowCounts {
    crate::common::mail_delivered(server).await;
    server.app.services().store().row_counts().await.unwrap()
}

/// Counts that a refused finish must leave alone (ceremonies are consumed by design).
fn durable(counts: RowCounts) -> (u64, u64, u64) {
    (counts.users, counts.sessions, counts.authenticators)
}

async fn ceremonies_are_single_use_expire_and_stay_with_their_owner(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut auth = server.auth().await;
    let mut client = passkeys(&server).await;
    let alice = register(&mut auth, "alice@example.com").await.session_token;
    let mallory = register(&mut auth, "mallory@example.com").await.session_token;
    let mut key = TestPasskey::new();

    // Someone else's ceremony id: refused, and left for its owner.
    let start = client
        .start_passkey_registration(bearer(pb::StartPasskeyRegistrationRequest {}, &alice))
        .await
        .unwrap()
        .into_inner();
    let credential_json = key.create(&start.options_json);
    let finish = |token: &str| {
        bearer(
            pb::FinishPasskeyRegistrationRequest {
                ceremony_id: start.ceremony_id.clone(),
                credential_json: credential_json.clone(),
                name: String::new(),
                revoke_other_sessions: false,
            },
            token,
        )
    };
    let before = counts(&server).await;
    let err = client.finish_passkey_registration(finish(&mallory)).await.unwrap_err();
    assert_eq!((err.code(), reason(&err).as_str()), (Code::PermissionDenied, "CEREMONY_NOT_YOURS"));
    assert_eq!(counts(&server).await, before);
    client.finish_passkey_registration(finish(&alice)).await.unwrap();

    // Replaying the finished ceremony.
    let before = counts(&server).await;
    let err = client.finish_passkey_registration(finish(&alice)).await.unwrap_err();
    assert_eq!((err.code(), reason(&err).as_str()), (Code::NotFound, "CEREMONY_NOT_FOUND"));
    assert_eq!(counts(&server).await, before);

    // A ceremony of another kind, and an id that was never issued.
    let login = client.start_passkey_login(pb::StartPasskeyLoginRequest::default()).await.unwrap().into_inner();
    for ceremony_id in [login.ceremony_id.clone(), "A".repeat(43)] {
        let err = client
            .finish_passkey_registration(bearer(
                pb::FinishPasskeyRegistrationRequest {
                    ceremony_id,
                    credential_json: credential_json.clone(),
                    name: String::new(),
                    revoke_other_sessions: false,
                },
                &alice,
            ))
            .await
            .unwrap_err();
        assert_eq!(reason(&err), "CEREMONY_NOT_FOUND");
    }

    // Expired: the configured 5 minutes pass between start and finish.
    let start = client.start_passkey_login(pb::StartPasskeyLoginRequest::default()).await.unwrap().into_inner();
    let credential_json = key.get(&start.options_json);
    server.clock.advance(std::time::Duration::from_secs(301));
    let before = durable(counts(&server).await);
    let err = client
        .finish_passkey_login(pb::FinishPasskeyLoginRequest { ceremony_id: start.ceremony_id, credential_json })
        .await
        .unwrap_err();
    assert_eq!((err.code(), reason(&err).as_str()), (Code::FailedPrecondition, "CHALLENGE_EXPIRED"));
    assert_eq!(durable(counts(&server).await), before);

    // Expired ceremonies are swept.
    client.start_passkey_login(pb::StartPasskeyLoginRequest::default()).await.unwrap();
    server.clock.advance(std::time::Duration::from_secs(301));
    assert!(server.app.services().sweep_expired().await.unwrap() >= 1);
    assert_eq!(counts(&server).await.ceremonies, 0);

    // Malformed input never reaches the ceremony.
    let start = client.start_passkey_login(pb::StartPasskeyLoginRequest::default()).await.unwrap().into_inner();
    for (ceremony_id, credential_json, field) in [
        (String::new(), "{}".to_owned(), "ceremony_id"),
        ("x".repeat(100), "{}".to_owned(), "ceremony_id"),
        (start.ceremony_id.clone(), String::new(), "credential_json"),
        (start.ceremony_id.clone(), "not json".to_owned(), "credential_json"),
        (start.ceremony_id.clone(), r#"{"id": 5}"#.to_owned(), "credential_json"),
        (start.ceremony_id.clone(), "x".repeat(40 * 1024), "credential_json"),
    ] {
        let err = client
            .finish_passkey_login(pb::FinishPasskeyLoginRequest { ceremony_id, credential_json })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument);
        assert!(violations(&err).contains_key(field), "{err:?}");
    }
    assert_eq!(counts(&server).await.ceremonies, 1, "the ceremony is still there for a well-formed finish");
    let err =
        client.start_passkey_login(pb::StartPasskeyLoginRequest { email: "not-an-email".into() }).await.unwrap_err();
    assert!(violations(&err).contains_key("email"));
    server.stop().await;
}

async fn counter_regression_follows_policy(backend: Backend) {
    for (policy, allowed) in
        [(CounterPolicy::IgnoreWhenBackupEligible, false), (CounterPolicy::Reject, false), (CounterPolicy::Flag, true)]
    {
        let server = TestServer::start_with(backend, |config| config.passkey_counter_policy = policy).await;
        let mut auth = server.auth().await;
        let mut client = passkeys(&server).await;
        let signed_up = register(&mut auth, "clone@example.com").await;
        let user_id = signed_up.user.unwrap().id;
        let mut key = TestPasskey::new();
        add_passkey(&mut client, &mut key, &signed_up.session_token, "Key").await;
        passkey_login(&mut client, &mut key, "").await.unwrap();

        // A clone of this authenticator has meanwhile signed 50 times.
        let db = Database::connect(&server.db.url).await.unwrap();
        db.execute_unprepared("UPDATE authenticators SET counter = 50").await.unwrap();
        db.close().await.unwrap();

        let before = counts(&server).await;
        let result = passkey_login(&mut client, &mut key, "").await;
        let kinds = server.app.services().store().audit_event_kinds(&user_id).await.unwrap();
        assert!(kinds.iter().any(|k| k == "passkey.counter_regressed"), "{policy:?}: {kinds:?}");
        let stored = server.app.services().store().user_authenticators(&user_id).await.unwrap();
        assert_eq!(stored[0].counter, 50, "the stored counter never goes backwards");
        if allowed {
            assert!(result.is_ok(), "{policy:?}: {result:?}");
        } else {
            let err = result.unwrap_err();
            assert_eq!(
                (err.code(), reason(&err).as_str()),
                (Code::Unauthenticated, "PASSKEY_COUNTER_REGRESSED"),
                "{policy:?}"
            );
            assert_eq!(counts(&server).await.sessions, before.sessions, "no session for a possible clone");
        }
        server.stop().await;
    }
}

async fn credential_of_another_user_is_refused(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut auth = server.auth().await;
    let mut client = passkeys(&server).await;
    let alice = register(&mut auth, "alice@example.com").await.session_token;
    let bob = register(&mut auth, "bob@example.com").await.session_token;
    let mut alice_key = TestPasskey::new();
    let alice_passkey = add_passkey(&mut client, &mut alice_key, &alice, "Alice's").await;

    // Bob's authenticator makes a credential whose id Alice's passkey already has (we make the
    // ids collide in the table: real authenticators choose ids at random, webauthn-rs does not
    // check uniqueness, and the UNIQUE constraint on credential_id must).
    let mut bob_key = TestPasskey::new();
    let start = client
        .start_passkey_registration(bearer(pb::StartPasskeyRegistrationRequest {}, &bob))
        .await
        .unwrap()
        .into_inner();
    let credential_json = bob_key.create(&start.options_json);
    let db = Database::connect(&server.db.url).await.unwrap();
    let bobs_id = bob_key.last_credential_id.clone().unwrap();
    db.execute_unprepared(&format!(
        "UPDATE authenticators SET credential_id = '{bobs_id}' WHERE id = '{}'",
        alice_passkey.id
    ))
    .await
    .unwrap();
    db.close().await.unwrap();

    let before = counts(&server).await;
    let err = client
        .finish_passkey_registration(bearer(
            pb::FinishPasskeyRegistrationRequest {
                ceremony_id: start.ceremony_id,
                credential_json,
                name: String::new(),
                revoke_other_sessions: false,
            },
            &bob,
        ))
        .await
        .unwrap_err();
    assert_eq!((err.code(), reason(&err).as_str()), (Code::AlreadyExists, "PASSKEY_ALREADY_REGISTERED"));
    assert_eq!(durable(counts(&server).await), durable(before));

    // Someone else's passkey id is indistinguishable from an unknown one.
    for call in ["rename", "delete"] {
        let err = match call {
            "rename" => client
                .rename_passkey(bearer(
                    pb::RenamePasskeyRequest { passkey_id: alice_passkey.id.clone(), name: "mine".into() },
                    &bob,
                ))
                .await
                .unwrap_err(),
            _ => client
                .delete_passkey(bearer(
                    pb::DeletePasskeyRequest { passkey_id: alice_passkey.id.clone(), keep_other_sessions: false },
                    &bob,
                ))
                .await
                .unwrap_err(),
        };
        assert_eq!((err.code(), reason(&err).as_str()), (Code::NotFound, "PASSKEY_NOT_FOUND"), "{call}");
    }
    for (passkey_id, name, field) in [
        (String::new(), "x", "passkey_id"),
        (alice_passkey.id.clone(), "", "name"),
        (alice_passkey.id.clone(), &"n".repeat(101), "name"),
    ] {
        let err = client
            .rename_passkey(bearer(pb::RenamePasskeyRequest { passkey_id, name: name.to_owned() }, &alice))
            .await
            .unwrap_err();
        assert!(violations(&err).contains_key(field), "{err:?}");
    }
    server.stop().await;
}

/// Registration with a tampered or foreign response, over one ceremony each.
async fn register_with(
    server: &TestServer,
    token: &str,
    key: &mut TestPasskey,
    tamper: impl FnOnce(&mut Value),
) -> tonic::Status {
    let mut client = passkeys(server).await;
    let start = client
        .start_passkey_registration(bearer(pb::StartPasskeyRegistrationRequest {}, token))
        .await
        .unwrap()
        .into_inner();
    let mut options: Value = serde_json::from_str(&start.options_json).unwrap();
    tamper(&mut options);
    let credential_json = key.create_with(options);
    let before = durable(counts(server).await);
    let err = client
        .finish_passkey_registration(bearer(
            pb::FinishPasskeyRegistrationRequest {
                ceremony_id: start.ceremony_id,
                credential_json,
                name: String::new(),
                revoke_other_sessions: false,
            },
            token,
        ))
        .await
        .unwrap_err();
    assert_eq!(durable(counts(server).await), before, "a refused registration writes nothing");
    err
}

/// Sign-in with an assertion altered by `tamper` (the parsed AuthenticationResponseJSON).
async fn login_with(server: &TestServer, key: &mut TestPasskey, tamper: impl FnOnce(&mut Value)) -> tonic::Status {
    let mut client = passkeys(server).await;
    let start = client.start_passkey_login(pb::StartPasskeyLoginRequest::default()).await.unwrap().into_inner();
    let mut credential: Value = serde_json::from_str(&key.get(&start.options_json)).unwrap();
    tamper(&mut credential);
    let before = counts(server).await;
    let err = client
        .finish_passkey_login(pb::FinishPasskeyLoginRequest {
            ceremony_id: start.ceremony_id,
            credential_json: credential.to_string(),
        })
        .await
        .unwrap_err();
    let after = counts(server).await;
    assert_eq!(
        (after.sessions, after.authenticators),
        (before.sessions, before.authenticators),
        "a refused sign-in writes nothing"
    );
    err
}

fn edit_b64(value: &mut Value, edit: impl FnOnce(&mut Vec<u8>)) {
    let mut bytes = URL_SAFE_NO_PAD.decode(value.as_str().unwrap()).unwrap();
    edit(&mut bytes);
    *value = URL_SAFE_NO_PAD.encode(bytes).into();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_origins_rp_ids_signatures_and_presence_are_refused() {
    let server = TestServer::start(Backend::Sqlite).await;
    let mut auth = server.auth().await;
    let token = register(&mut auth, "victim@example.com").await.session_token;

    // Registration from an origin that is not allowed (a sibling of an allowed one).
    let err = register_with(&server, &token, &mut TestPasskey::at("https://other.localhost"), |_| {}).await;
    assert_eq!((err.code(), reason(&err).as_str()), (Code::InvalidArgument, "PASSKEY_ORIGIN_MISMATCH"));

    // An allowed origin, but the credential is scoped to another rp id.
    let err = register_with(&server, &token, &mut TestPasskey::at(RELATED_ORIGIN), |options| {
        options["rp"]["id"] = "evil.localhost".into();
    })
    .await;
    assert_eq!((err.code(), reason(&err).as_str()), (Code::InvalidArgument, "PASSKEY_RP_ID_MISMATCH"));

    // A passkey registered properly, then assertions tampered with on the way back.
    let mut key = TestPasskey::new();
    let mut client = passkeys(&server).await;
    add_passkey(&mut client, &mut key, &token, "Key").await;

    let err = login_with(&server, &mut key, |credential| {
        edit_b64(&mut credential["response"]["signature"], |sig| {
            let last = sig.len() - 1;
            sig[last] ^= 0x01;
        });
    })
    .await;
    assert_eq!((err.code(), reason(&err).as_str()), (Code::Unauthenticated, "PASSKEY_SIGNATURE_INVALID"));

    let err = login_with(&server, &mut key, |credential| {
        edit_b64(&mut credential["response"]["authenticatorData"], |data| data[32] &= !0x01); // clear UP
    })
    .await;
    assert_eq!((err.code(), reason(&err).as_str()), (Code::Unauthenticated, "PASSKEY_USER_NOT_PRESENT"));

    let err = login_with(&server, &mut key, |credential| {
        edit_b64(&mut credential["response"]["clientDataJSON"], |data| {
            let mut client_data: Value = serde_json::from_slice(data).unwrap();
            client_data["origin"] = "https://other.localhost".into();
            *data = client_data.to_string().into_bytes();
        });
    })
    .await;
    assert_eq!((err.code(), reason(&err).as_str()), (Code::Unauthenticated, "PASSKEY_ORIGIN_MISMATCH"));

    let err = login_with(&server, &mut key, |credential| {
        credential["response"]["userHandle"] = URL_SAFE_NO_PAD.encode(uuid::Uuid::new_v4().as_bytes()).into();
    })
    .await;
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::Unauthenticated, "PASSKEY_INVALID"),
        "user handle of another user"
    );

    // And the untampered assertion still works: none of the above consumed the passkey.
    passkey_login(&mut client, &mut key, "").await.unwrap();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn required_user_verification_is_enforced_by_the_server() {
    let server = TestServer::start_with(Backend::Sqlite, |config| {
        config.passkey_user_verification = keyward::config::UserVerification::Required;
    })
    .await;
    let mut auth = server.auth().await;
    let token = register(&mut auth, "uv@example.com").await.session_token;
    // A client that downgrades the request so the authenticator skips verification is caught:
    // the server checks UV against its own ceremony state, not against what the client saw.
    let err = register_with(&server, &token, &mut TestPasskey::new(), |options| {
        assert_eq!(options["authenticatorSelection"]["userVerification"], "required");
        options["authenticatorSelection"]["userVerification"] = "preferred".into();
    })
    .await;
    assert_eq!((err.code(), reason(&err).as_str()), (Code::InvalidArgument, "PASSKEY_USER_NOT_VERIFIED"));
    // Unaltered, the same authenticator verifies the user and registers.
    add_passkey(&mut passkeys(&server).await, &mut TestPasskey::new(), &token, "Verified").await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preferred_user_verification_the_default_accepts_an_authenticator_without_it() {
    // The default (NIST SP 800-63B-4: such a passkey is a single-factor authenticator; set
    // `required` to make every passkey sign-in multi-factor, as the test above shows).
    let server = TestServer::start(Backend::Sqlite).await;
    assert_eq!(server.config.passkey_user_verification, keyward::config::UserVerification::Preferred);
    let token = register(&mut server.auth().await, "nouv@example.com").await.session_token;
    let mut key = TestPasskey::without_user_verification();
    add_passkey(&mut passkeys(&server).await, &mut key, &token, "No PIN").await;
    passkey_login(&mut passkeys(&server).await, &mut key, "").await.unwrap();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configured_native_app_origins_sign_in_and_others_do_not() {
    const APP: &str = "android:apk-key-hash:n1ZnPLpXpYH9-WyM3dHvmGvOjEzkg1ESLDnbOeBMpG4";
    const OTHER_APP: &str = "android:apk-key-hash:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let server = TestServer::start_with(Backend::Sqlite, |config| {
        config.rp_origins.push(APP.into());
    })
    .await;
    let mut auth = server.auth().await;
    let signed_up = register(&mut auth, "app@example.com").await;
    let mut client = passkeys(&server).await;
    let mut key = TestPasskey::new();
    add_passkey(&mut client, &mut key, &signed_up.session_token, "Phone").await;

    for (origin, expected) in [(APP, None), (OTHER_APP, Some("PASSKEY_ORIGIN_MISMATCH"))] {
        let start = client
            .start_passkey_login(pb::StartPasskeyLoginRequest { email: "app@example.com".into() })
            .await
            .unwrap()
            .into_inner();
        let credential_json = key.get_from_app(&start.options_json, origin);
        let result = client
            .finish_passkey_login(pb::FinishPasskeyLoginRequest { ceremony_id: start.ceremony_id, credential_json })
            .await;
        match expected {
            None => assert_eq!(result.unwrap().into_inner().signed_in.unwrap().user.unwrap().email, "app@example.com"),
            Some(expected) => assert_eq!(reason(&result.unwrap_err()), expected),
        }
    }
    server.stop().await;
}

async fn concurrent_deletes_cannot_remove_the_last_method(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut client = passkeys(&server).await;
    for round in 0..5 {
        // A passwordless user with exactly two passkeys deletes both at the same time.
        let signed_up = sign_up_with_passkey(
            &mut client.clone(),
            &mut client,
            &mut TestPasskey::new(),
            &format!("race{round}@example.com"),
        )
        .await;
        let token = signed_up.signed_in.unwrap().session_token;
        let second = add_passkey(&mut client, &mut TestPasskey::new(), &token, "Second").await;
        let ids = [signed_up.passkey.unwrap().id, second.id];

        let deletes = ids.map(|passkey_id| {
            let (mut client, token) = (client.clone(), token.clone());
            tokio::spawn(async move {
                client
                    .delete_passkey(bearer(pb::DeletePasskeyRequest { passkey_id, keep_other_sessions: false }, &token))
                    .await
            })
        });
        let mut refused = 0;
        for delete in deletes {
            if let Err(err) = delete.await.unwrap() {
                assert_eq!(reason(&err), "LAST_SIGN_IN_METHOD");
                refused += 1;
            }
        }
        assert_eq!(refused, 1, "round {round}: exactly one of the two deletions must be refused");
        let left = client.list_passkeys(bearer(pb::ListPasskeysRequest::default(), &token)).await.unwrap().into_inner();
        assert_eq!(left.passkeys.len(), 1);
    }
    server.stop().await;
}
