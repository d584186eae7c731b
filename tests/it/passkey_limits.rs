//! WebAuthn limits: credential ids over 1023 bytes are refused on both backends, an account
//! holds at most `max_passkeys_per_user` passkeys, and the signature counter only moves forward
//! even when two sign-ins race.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use keyward::{pb, store::AuthenticatorUse};
use serde_json::Value;
use tonic::Code;

use crate::{
    common::{Backend, TestServer, bearer, both_backends, mail_delivered, reason, register, violations},
    passkey_authenticator::TestPasskey,
    passkeys::{add_passkey, passkeys},
};

both_backends!(
    credential_ids_longer_than_webauthn_allows_are_refused,
    passkeys_per_user_are_capped,
    the_stored_counter_only_moves_forward_when_sign_ins_race
);

/// The same credential JSON with a `len`-byte credential id.
fn with_long_id(credential_json: &str, len: usize) -> String {
    let mut value: Value = serde_json::from_str(credential_json).unwrap();
    let id = URL_SAFE_NO_PAD.encode(vec![7u8; len]);
    value["id"] = id.clone().into();
    value["rawId"] = id.into();
    value.to_string()
}

async fn credential_ids_longer_than_webauthn_allows_are_refused(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut client = passkeys(&server).await;
    let token = register(&mut server.auth().await, "long@example.com").await.session_token;
    let mut authenticator = TestPasskey::new();
    let start = client
        .start_passkey_registration(bearer(pb::StartPasskeyRegistrationRequest {}, &token))
        .await
        .unwrap()
        .into_inner();
    let credential_json = authenticator.create(&start.options_json);
    let before = server.app.services().store().row_counts().await.unwrap();
    for len in [1024, 2048] {
        let err = client
            .finish_passkey_registration(bearer(
                pb::FinishPasskeyRegistrationRequest {
                    ceremony_id: start.ceremony_id.clone(),
                    credential_json: with_long_id(&credential_json, len),
                    name: String::new(),
                    revoke_other_sessions: false,
                },
                &token,
            ))
            .await
            .unwrap_err();
        assert_eq!((err.code(), reason(&err).as_str()), (Code::InvalidArgument, "FIELD_TOO_LONG"), "{len}: {err:?}");
        assert!(violations(&err).contains_key("credential_json"));
    }
    assert_eq!(server.app.services().store().row_counts().await.unwrap(), before, "nothing written or consumed");
    // The ceremony survived the bad input: the real credential still finishes it.
    client
        .finish_passkey_registration(bearer(
            pb::FinishPasskeyRegistrationRequest {
                ceremony_id: start.ceremony_id,
                credential_json,
                name: String::new(),
                revoke_other_sessions: false,
            },
            &token,
        ))
        .await
        .unwrap();

    // Sign-up and sign-in refuse such ids the same way.
    let sign_up = client
        .start_passkey_sign_up(pb::StartPasskeySignUpRequest { email: "new@example.com".into(), name: String::new() })
        .await
        .unwrap()
        .into_inner();
    let created = TestPasskey::new().create(&sign_up.options_json);
    let err = client
        .finish_passkey_sign_up(pb::FinishPasskeySignUpRequest {
            ceremony_id: sign_up.ceremony_id,
            credential_json: with_long_id(&created, 1024),
            passkey_name: String::new(),
            code: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(reason(&err), "FIELD_TOO_LONG");
    let login = client.start_passkey_login(pb::StartPasskeyLoginRequest::default()).await.unwrap().into_inner();
    let assertion = authenticator.get(&login.options_json);
    let err = client
        .finish_passkey_login(pb::FinishPasskeyLoginRequest {
            ceremony_id: login.ceremony_id,
            credential_json: with_long_id(&assertion, 4000),
        })
        .await
        .unwrap_err();
    assert_eq!((err.code(), reason(&err).as_str()), (Code::InvalidArgument, "FIELD_TOO_LONG"));
    server.stop().await;
}

async fn passkeys_per_user_are_capped(backend: Backend) {
    let server = TestServer::start_with(backend, |config| config.max_passkeys_per_user = 2).await;
    let mut client = passkeys(&server).await;
    let token = register(&mut server.auth().await, "many@example.com").await.session_token;
    for name in ["one", "two"] {
        add_passkey(&mut client, &mut TestPasskey::new(), &token, name).await;
    }
    // The "passkey added" notices leave the outbox on their own time: let them go first.
    mail_delivered(&server).await;
    let before = server.app.services().store().row_counts().await.unwrap();
    let err =
        client.start_passkey_registration(bearer(pb::StartPasskeyRegistrationRequest {}, &token)).await.unwrap_err();
    assert_eq!((err.code(), reason(&err).as_str()), (Code::FailedPrecondition, "PASSKEY_LIMIT_REACHED"));
    assert_eq!(server.app.services().store().row_counts().await.unwrap(), before, "no ceremony was stored");
    server.stop().await;
}

async fn the_stored_counter_only_moves_forward_when_sign_ins_race(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut client = passkeys(&server).await;
    let signed_in = register(&mut server.auth().await, "racer@example.com").await;
    add_passkey(&mut client, &mut TestPasskey::new(), &signed_in.session_token, "key").await;
    let store = server.app.services().store().clone();
    let record = store.user_authenticators(&signed_in.user.unwrap().id).await.unwrap().remove(0);
    let usage = AuthenticatorUse {
        credential_backed_up: record.credential_backed_up,
        backup_eligible: record.backup_eligible,
        credential_device_type: "singleDevice",
        passkey: record.passkey.clone(),
        used_at: server.clock.now(),
    };
    // Eight sign-ins presenting the same next counter at once: exactly one advances it.
    let next = record.counter + 1;
    let mut racers = Vec::new();
    for _ in 0..8 {
        let (store, id, usage) = (store.clone(), record.id.clone(), usage.clone());
        racers.push(tokio::spawn(async move { store.record_authenticator_use(&id, usage, Some(next)).await.unwrap() }));
    }
    let mut winners = 0;
    for racer in racers {
        winners += usize::from(racer.await.unwrap());
    }
    assert_eq!(winners, 1, "of concurrent same-counter sign-ins exactly one is accepted");
    assert!(!store.record_authenticator_use(&record.id, usage, Some(record.counter)).await.unwrap(), "never backwards");
    assert_eq!(store.user_authenticators(&record.user_id).await.unwrap()[0].counter, next);
    server.stop().await;
}
