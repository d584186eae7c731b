//! Recent authentication for factor changes, re-authentication (password and passkey), factor
//! changes ending the other sessions, and sign-ins ending the session the caller presented.
//! Every refused call is checked to have written nothing.

use std::time::Duration;

use keyward::{pb, store::RowCounts};
use tonic::Code;

use crate::{
    common::{Backend, PASSWORD, TestServer, bearer, both_backends, get_session, login, reason, register, violations},
    passkey_authenticator::TestPasskey,
    passkeys::{add_passkey, passkeys},
};

both_backends!(
    factor_changes_need_a_recent_authentication,
    reauthentication_with_a_passkey_is_bound_to_its_session,
    factor_changes_end_the_other_sessions,
    a_sign_in_ends_the_session_the_caller_presented
);

/// Past the default 300 s re-authentication window.
const STALE: Duration = Duration::from_secs(301);

/// Row counts once the factor-change notices queued so far are delivered.
async fn counts(server: &TestServer) -> RowCounts {
    crate::common::mail_delivered(server).await;
    server.app.services().store().row_counts().await.unwrap()
}

async fn kinds(server: &TestServer, user_id: &str) -> Vec<String> {
    server.app.services().store().audit_event_kinds(user_id).await.unwrap()
}

fn assert_refused(result: Result<impl std::fmt::Debug, tonic::Status>, code: Code, expected: &str) {
    let status = result.expect_err(expected);
    assert_eq!((status.code(), reason(&status).as_str()), (code, expected), "{status:?}");
}

fn reauthenticate(password: &str, token: &str) -> tonic::Request<pb::ReauthenticateRequest> {
    bearer(pb::ReauthenticateRequest { password: password.into() }, token)
}

async fn factor_changes_need_a_recent_authentication(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut auth = server.auth().await;
    let mut client = passkeys(&server).await;
    let signed_up = register(&mut auth, "stale@example.com").await;
    let user_id = signed_up.user.as_ref().unwrap().id.clone();
    let token = signed_up.session_token.clone();
    let other = login(&mut auth, "stale@example.com", PASSWORD).await.unwrap();
    // Fresh from sign-in: adding a passkey works.
    let mut key = TestPasskey::new();
    let passkey = add_passkey(&mut client, &mut key, &token, "Laptop").await;
    let signed_in_at = get_session(&mut auth, &token).await.unwrap().session.unwrap().authenticate_time.unwrap();
    assert_eq!(signed_in_at, signed_up.session.as_ref().unwrap().authenticate_time.unwrap());

    server.clock.advance(STALE);
    let before = counts(&server).await;
    let result = client.start_passkey_registration(bearer(pb::StartPasskeyRegistrationRequest {}, &token)).await;
    assert_refused(result, Code::FailedPrecondition, "REAUTHENTICATION_REQUIRED");
    let result = client
        .delete_passkey(bearer(
            pb::DeletePasskeyRequest { passkey_id: passkey.id.clone(), keep_other_sessions: false },
            &token,
        ))
        .await;
    assert_refused(result, Code::FailedPrecondition, "REAUTHENTICATION_REQUIRED");
    let result = auth.revoke_other_sessions(bearer(pb::RevokeOtherSessionsRequest {}, &token)).await;
    assert_refused(result, Code::FailedPrecondition, "REAUTHENTICATION_REQUIRED");
    let other_id = other.session.as_ref().unwrap().id.clone();
    let result = auth.revoke_session(bearer(pb::RevokeSessionRequest { session_id: other_id }, &token)).await;
    assert_refused(result, Code::FailedPrecondition, "REAUTHENTICATION_REQUIRED");
    // ChangePassword carries its own proof, the current password: wrong, it changes nothing.
    let wrong = pb::ChangePasswordRequest {
        current_password: "not-the-password-1".into(),
        new_password: "quiet-harbor-tram-58".into(),
    };
    let result = auth.change_password(bearer(wrong, &token)).await;
    assert_refused(result, Code::InvalidArgument, "PASSWORD_INCORRECT");
    // Nothing written but the failed password check's audit row.
    assert_eq!(counts(&server).await, RowCounts { audit_events: before.audit_events + 1, ..before });
    assert!(get_session(&mut auth, &other.session_token).await.is_ok(), "the other session survived");

    // Re-authentication: a wrong password changes nothing but an audit row; bad input, nothing.
    let before = counts(&server).await;
    assert_refused(
        auth.reauthenticate(reauthenticate("wrong-password-42", &token)).await,
        Code::InvalidArgument,
        "PASSWORD_INCORRECT",
    );
    let status = auth.reauthenticate(reauthenticate("", &token)).await.unwrap_err();
    assert_eq!((status.code(), reason(&status).as_str()), (Code::InvalidArgument, "FIELD_REQUIRED"));
    assert!(violations(&status).contains_key("password"));
    let access = signed_up.access_token.as_ref().unwrap().token.clone();
    assert_refused(
        auth.reauthenticate(reauthenticate(PASSWORD, &access)).await,
        Code::PermissionDenied,
        "SESSION_TOKEN_REQUIRED",
    );
    assert_eq!(counts(&server).await, RowCounts { audit_events: before.audit_events + 1, ..before });

    // The right password stamps this session (and creates none), then the change goes through.
    let session = auth.reauthenticate(reauthenticate(PASSWORD, &token)).await.unwrap().into_inner().session.unwrap();
    assert!(session.authenticate_time.unwrap().seconds > signed_in_at.seconds);
    assert_eq!(session.id, signed_up.session.as_ref().unwrap().id);
    assert_eq!(counts(&server).await.sessions, before.sessions);
    add_passkey(&mut client, &mut TestPasskey::new(), &token, "Phone").await;
    let kinds = kinds(&server, &user_id).await;
    for kind in ["session.reauthentication_failed", "session.reauthenticated", "passkey.added"] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} missing from {kinds:?}");
    }

    // A user without a password re-authenticates with a passkey instead.
    let result = auth.reauthenticate(reauthenticate(PASSWORD, &other.session_token)).await;
    assert!(result.is_ok(), "the other session of a password user re-authenticates too");
    server.stop().await;
}

/// Re-authenticates the session behind `token` with `key`, through a full ceremony.
async fn reauthenticate_with_passkey(
    client: &mut pb::passkey_service_client::PasskeyServiceClient<tonic::transport::Channel>,
    key: &mut TestPasskey,
    token: &str,
) -> Result<pb::Session, tonic::Status> {
    let start = client
        .start_passkey_reauthentication(bearer(pb::StartPasskeyReauthenticationRequest {}, token))
        .await?
        .into_inner();
    let credential_json = key.get(&start.options_json);
    let finish = pb::FinishPasskeyReauthenticationRequest { ceremony_id: start.ceremony_id, credential_json };
    Ok(client.finish_passkey_reauthentication(bearer(finish, token)).await?.into_inner().session.unwrap())
}

async fn reauthentication_with_a_passkey_is_bound_to_its_session(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut auth = server.auth().await;
    let mut client = passkeys(&server).await;
    let signed_up = register(&mut auth, "reauth-passkey@example.com").await;
    let token = signed_up.session_token.clone();
    let mut key = TestPasskey::new();
    let passkey = add_passkey(&mut client, &mut key, &token, "Key").await;
    let second = login(&mut auth, "reauth-passkey@example.com", PASSWORD).await.unwrap().session_token;
    server.clock.advance(STALE);

    // The passkey re-authenticates this session: no new session, and the stale change now works.
    let before = counts(&server).await;
    let session = reauthenticate_with_passkey(&mut client, &mut key, &token).await.unwrap();
    assert_eq!(session.id, signed_up.session.as_ref().unwrap().id);
    assert_eq!(counts(&server).await.sessions, before.sessions);
    let stored =
        server.app.services().store().find_user_authenticator(&signed_up.user.as_ref().unwrap().id, &passkey.id);
    assert!(stored.await.unwrap().unwrap().last_used_at.is_some(), "the use is recorded like a sign-in");
    client
        .delete_passkey(bearer(
            pb::DeletePasskeyRequest { passkey_id: passkey.id.clone(), keep_other_sessions: true },
            &token,
        ))
        .await
        .unwrap();
    // The second session was not stamped by the first one's re-authentication.
    let result = client.start_passkey_registration(bearer(pb::StartPasskeyRegistrationRequest {}, &second)).await;
    assert_refused(result, Code::FailedPrecondition, "REAUTHENTICATION_REQUIRED");

    // No passkey left: nothing to re-authenticate with.
    let result =
        client.start_passkey_reauthentication(bearer(pb::StartPasskeyReauthenticationRequest {}, &token)).await;
    assert_refused(result, Code::FailedPrecondition, "NO_PASSKEY");

    // A ceremony finishes only in the session that started it.
    add_passkey(&mut client, &mut key, &token, "Key again").await;
    let start = client
        .start_passkey_reauthentication(bearer(pb::StartPasskeyReauthenticationRequest {}, &token))
        .await
        .unwrap()
        .into_inner();
    let credential_json = key.get(&start.options_json);
    let finish = |session_token: &str| {
        bearer(
            pb::FinishPasskeyReauthenticationRequest {
                ceremony_id: start.ceremony_id.clone(),
                credential_json: credential_json.clone(),
            },
            session_token,
        )
    };
    let mallory = register(&mut auth, "mallory@example.com").await.session_token;
    let before = counts(&server).await;
    assert_refused(
        client.finish_passkey_reauthentication(finish(&mallory)).await,
        Code::PermissionDenied,
        "CEREMONY_NOT_YOURS",
    );
    assert_refused(
        client.finish_passkey_reauthentication(finish(&second)).await,
        Code::PermissionDenied,
        "CEREMONY_NOT_YOURS",
    );
    let garbage = pb::FinishPasskeyReauthenticationRequest { ceremony_id: String::new(), credential_json: "{}".into() };
    let status = client.finish_passkey_reauthentication(bearer(garbage, &token)).await.unwrap_err();
    assert!(violations(&status).contains_key("ceremony_id"), "{status:?}");
    assert_eq!(counts(&server).await.sessions, before.sessions);

    // A passkey registration started in one session cannot be finished in another.
    let start = client
        .start_passkey_registration(bearer(pb::StartPasskeyRegistrationRequest {}, &token))
        .await
        .unwrap()
        .into_inner();
    let mut new_key = TestPasskey::new();
    let credential_json = new_key.create(&start.options_json);
    let before = counts(&server).await;
    let finish = pb::FinishPasskeyRegistrationRequest {
        ceremony_id: start.ceremony_id,
        credential_json,
        name: String::new(),
        revoke_other_sessions: false,
    };
    let fresh_other = login(&mut auth, "reauth-passkey@example.com", PASSWORD).await.unwrap().session_token;
    let before = RowCounts { sessions: before.sessions + 1, audit_events: before.audit_events + 1, ..before };
    assert_refused(
        client.finish_passkey_registration(bearer(finish, &fresh_other)).await,
        Code::PermissionDenied,
        "CEREMONY_NOT_YOURS",
    );
    assert_eq!(counts(&server).await, before);
    server.stop().await;
}

async fn factor_changes_end_the_other_sessions(backend: Backend) {
    // A long cache TTL: a revoked session still accepted afterwards would come from the cache.
    let server = TestServer::start_with(backend, |config| config.session_cache_ttl_ms = 60_000).await;
    let mut auth = server.auth().await;
    let mut client = passkeys(&server).await;
    let me = register(&mut auth, "factors@example.com").await;
    let user_id = me.user.as_ref().unwrap().id.clone();
    let token = me.session_token.clone();
    let base = auth.clone();
    let sign_in_elsewhere = || {
        let mut auth = base.clone();
        async move {
            let other = login(&mut auth, "factors@example.com", PASSWORD).await.unwrap().session_token;
            get_session(&mut auth, &other).await.unwrap(); // cached on this replica
            other
        }
    };

    // Adding a passkey keeps the other sessions unless asked.
    let elsewhere = sign_in_elsewhere().await;
    let mut key = TestPasskey::new();
    let first = add_passkey(&mut client, &mut key, &token, "First").await;
    assert!(get_session(&mut auth, &elsewhere).await.is_ok());
    let start = client
        .start_passkey_registration(bearer(pb::StartPasskeyRegistrationRequest {}, &token))
        .await
        .unwrap()
        .into_inner();
    let credential_json = TestPasskey::new().create(&start.options_json);
    let finish = pb::FinishPasskeyRegistrationRequest {
        ceremony_id: start.ceremony_id,
        credential_json,
        name: "Second".into(),
        revoke_other_sessions: true,
    };
    let added = client.finish_passkey_registration(bearer(finish, &token)).await.unwrap().into_inner();
    assert_eq!(added.revoked_sessions, 1);
    assert_eq!(reason(&get_session(&mut auth, &elsewhere).await.unwrap_err()), "SESSION_INVALID");

    // Deleting a passkey ends the other sessions by default…
    let elsewhere = sign_in_elsewhere().await;
    let delete = |passkey_id: &str, keep_other_sessions: bool| {
        bearer(pb::DeletePasskeyRequest { passkey_id: passkey_id.into(), keep_other_sessions }, &token)
    };
    let deleted = client.delete_passkey(delete(&first.id, false)).await.unwrap().into_inner();
    assert_eq!(deleted.revoked_sessions, 1);
    assert_eq!(reason(&get_session(&mut auth, &elsewhere).await.unwrap_err()), "SESSION_INVALID");
    // …and keeps them when asked.
    let elsewhere = sign_in_elsewhere().await;
    let deleted = client.delete_passkey(delete(&added.passkey.unwrap().id, true)).await.unwrap().into_inner();
    assert_eq!(deleted.revoked_sessions, 0);
    assert!(get_session(&mut auth, &elsewhere).await.is_ok());

    // Sign out everywhere else.
    let third = sign_in_elsewhere().await;
    let revoked = auth.revoke_other_sessions(bearer(pb::RevokeOtherSessionsRequest {}, &token)).await.unwrap();
    assert_eq!(revoked.into_inner().revoked_sessions, 2);
    for ended in [&elsewhere, &third] {
        assert_eq!(reason(&get_session(&mut auth, ended).await.unwrap_err()), "SESSION_INVALID");
    }
    assert!(get_session(&mut auth, &token).await.is_ok(), "the current session stays");
    let kinds = kinds(&server, &user_id).await;
    for kind in ["passkey.added", "passkey.deleted", "session.revoked_others"] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} missing from {kinds:?}");
    }
    server.stop().await;
}

async fn a_sign_in_ends_the_session_the_caller_presented(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut auth = server.auth().await;
    let old = register(&mut auth, "fixation@example.com").await;
    let user_id = old.user.as_ref().unwrap().id.clone();
    let keep = login(&mut auth, "fixation@example.com", PASSWORD).await.unwrap();

    // A sign-in that presents a session (here as a bearer token) ends it.
    let login_with = |token: &str| {
        bearer(pb::LoginRequest { email: "fixation@example.com".into(), password: PASSWORD.into() }, token)
    };
    let fresh = auth.login(login_with(&old.session_token)).await.unwrap().into_inner().signed_in.unwrap();
    assert_eq!(reason(&get_session(&mut auth, &old.session_token).await.unwrap_err()), "SESSION_INVALID");
    assert!(get_session(&mut auth, &fresh.session_token).await.is_ok());
    assert!(kinds(&server, &user_id).await.iter().any(|k| k == "session.replaced"));

    // Presenting an access token ends nothing: its session is not the caller's to hand over.
    let access = keep.access_token.as_ref().unwrap().token.clone();
    auth.login(login_with(&access)).await.unwrap();
    assert!(get_session(&mut auth, &keep.session_token).await.is_ok());

    // A failed sign-in ends nothing either.
    let wrong = bearer(
        pb::LoginRequest { email: "fixation@example.com".into(), password: "wrong-password-42".into() },
        &fresh.session_token,
    );
    assert!(auth.login(wrong).await.is_err());
    assert!(get_session(&mut auth, &fresh.session_token).await.is_ok());

    // Signing in as someone else ends the presented session too.
    let stranger = auth
        .register(bearer(
            pb::RegisterRequest {
                email: "someone-else@example.com".into(),
                password: PASSWORD.into(),
                name: String::new(),
            },
            &fresh.session_token,
        ))
        .await
        .unwrap();
    assert!(stranger.into_inner().signed_in.is_some());
    assert_eq!(reason(&get_session(&mut auth, &fresh.session_token).await.unwrap_err()), "SESSION_INVALID");
    server.stop().await;
}
