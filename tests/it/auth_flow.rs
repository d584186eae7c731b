//! The main path: register → login → get-session → refresh → list → revoke → logout, and
//! change-password revoking the other sessions.

use keyward::pb;
use tonic::Code;

use crate::common::{Backend, PASSWORD, TestServer, bearer, both_backends, get_session, login, reason, register};

both_backends!(
    register_login_refresh_list_revoke_logout,
    change_password_revokes_other_sessions,
    health_and_jwks_are_served,
    old_hash_parameters_are_upgraded_at_login,
    get_session_does_not_write_on_every_call,
    update_user_renames_and_validates
);

async fn register_login_refresh_list_revoke_logout(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut auth = server.auth().await;

    let registered = register(&mut auth, "  Ada@Example.com ").await;
    let user = registered.user.clone().unwrap();
    assert_eq!(user.email, "ada@example.com");
    assert_eq!(user.name, "Test User");
    assert!(user.has_password);
    assert_eq!(registered.session_token.len(), 43);

    // Email is case-insensitive at login too.
    let laptop = login(&mut auth, "ADA@example.com", PASSWORD).await.unwrap();
    let phone = login(&mut auth, "ada@example.com", PASSWORD).await.unwrap();
    assert_ne!(laptop.session_token, phone.session_token);

    let seen = get_session(&mut auth, &laptop.session_token).await.unwrap();
    assert_eq!(seen.user.as_ref().unwrap().email, "ada@example.com");
    assert_eq!(seen.user.unwrap().id, user.id);
    let laptop_session = seen.session.unwrap();
    assert!(laptop_session.current);
    assert_eq!(laptop_session.id, laptop.session.as_ref().unwrap().id);

    // Refresh: a new access token, usable in GetSession in place of the session token.
    let refreshed =
        auth.refresh_session(bearer(pb::RefreshSessionRequest {}, &laptop.session_token)).await.unwrap().into_inner();
    let access = refreshed.access_token.unwrap().token;
    let via_jwt = get_session(&mut auth, &access).await.unwrap();
    assert_eq!(via_jwt.session.unwrap().id, laptop_session.id);

    // List, one page at a time, newest first.
    let first = auth
        .list_sessions(bearer(
            pb::ListSessionsRequest { page_size: 2, page_token: String::new() },
            &laptop.session_token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.sessions.len(), 2);
    assert!(!first.next_page_token.is_empty());
    let second = auth
        .list_sessions(bearer(
            pb::ListSessionsRequest { page_size: 2, page_token: first.next_page_token },
            &laptop.session_token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second.sessions.len(), 1);
    assert!(second.next_page_token.is_empty());
    let ids: Vec<_> = first.sessions.iter().chain(&second.sessions).map(|s| s.id.clone()).collect();
    assert_eq!(
        ids,
        vec![phone.session.as_ref().unwrap().id.clone(), laptop_session.id.clone(), registered.session.unwrap().id]
    );
    assert_eq!(first.sessions.iter().chain(&second.sessions).filter(|s| s.current).count(), 1);

    // Revoke the phone from the laptop: the phone's token and its access token stop working.
    let phone_id = phone.session.as_ref().unwrap().id.clone();
    auth.revoke_session(bearer(pb::RevokeSessionRequest { session_id: phone_id }, &laptop.session_token))
        .await
        .unwrap();
    let err = get_session(&mut auth, &phone.session_token).await.unwrap_err();
    assert_eq!((err.code(), reason(&err).as_str()), (Code::Unauthenticated, "SESSION_INVALID"));
    let err = get_session(&mut auth, &phone.access_token.unwrap().token).await.unwrap_err();
    assert_eq!(reason(&err), "SESSION_INVALID");

    // Logout ends the laptop session and clears the cookie.
    let response = auth.logout(bearer(pb::LogoutRequest {}, &laptop.session_token)).await.unwrap();
    let cookie = response.metadata().get("set-cookie").unwrap().to_str().unwrap();
    assert!(cookie.starts_with(&format!("{}=;", crate::common::COOKIE)) && cookie.contains("Max-Age=0"), "{cookie}");
    assert_eq!(reason(&get_session(&mut auth, &laptop.session_token).await.unwrap_err()), "SESSION_INVALID");
    assert_eq!(reason(&get_session(&mut auth, &access).await.unwrap_err()), "SESSION_INVALID");

    let kinds = server.app.services().store().audit_event_kinds(&user.id).await.unwrap();
    for expected in ["user.registered", "login.succeeded", "session.revoked", "session.logout"] {
        assert!(kinds.iter().any(|k| k == expected), "{expected} missing from {kinds:?}");
    }
    server.stop().await;
}

async fn change_password_revokes_other_sessions(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut auth = server.auth().await;
    let first = register(&mut auth, "grace@example.com").await;
    let second = login(&mut auth, "grace@example.com", PASSWORD).await.unwrap();
    let third = login(&mut auth, "grace@example.com", PASSWORD).await.unwrap();

    let new_password = "quiet-harbor-tram-58";
    let wrong = auth
        .change_password(bearer(
            pb::ChangePasswordRequest {
                current_password: "not-the-password-1".into(),
                new_password: new_password.into(),
            },
            &first.session_token,
        ))
        .await
        .unwrap_err();
    assert_eq!((wrong.code(), reason(&wrong).as_str()), (Code::InvalidArgument, "PASSWORD_INCORRECT"));

    let changed = auth
        .change_password(bearer(
            pb::ChangePasswordRequest { current_password: PASSWORD.into(), new_password: new_password.into() },
            &first.session_token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(changed.revoked_sessions, 2);
    assert!(get_session(&mut auth, &first.session_token).await.is_ok());
    for other in [&second, &third] {
        assert_eq!(reason(&get_session(&mut auth, &other.session_token).await.unwrap_err()), "SESSION_INVALID");
    }
    assert_eq!(reason(&login(&mut auth, "grace@example.com", PASSWORD).await.unwrap_err()), "INVALID_CREDENTIALS");
    assert!(login(&mut auth, "grace@example.com", new_password).await.is_ok());
    server.stop().await;
}

async fn health_and_jwks_are_served(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut health = tonic_health::pb::health_client::HealthClient::new(
        tonic::transport::Channel::from_shared(server.base_url()).unwrap().connect().await.unwrap(),
    );
    let status = health
        .check(tonic_health::pb::HealthCheckRequest { service: "keyward.v1.AuthService".into() })
        .await
        .unwrap()
        .into_inner()
        .status;
    assert_eq!(status, tonic_health::pb::health_check_response::ServingStatus::Serving as i32);

    // Plain HTTP/1.1 on the same port.
    let http = reqwest::Client::new();
    let healthz = http.get(format!("{}/healthz", server.base_url())).send().await.unwrap();
    assert_eq!(healthz.status(), 200);
    let jwks: serde_json::Value =
        http.get(format!("{}/.well-known/jwks.json", server.base_url())).send().await.unwrap().json().await.unwrap();
    let key = &jwks["keys"][0];
    assert_eq!(
        (key["kty"].as_str(), key["crv"].as_str(), key["alg"].as_str()),
        (Some("OKP"), Some("Ed25519"), Some("EdDSA"))
    );
    assert!(key.get("d").is_none(), "private key material must never be published");
    server.stop().await;
}

async fn old_hash_parameters_are_upgraded_at_login(backend: Backend) {
    let server = TestServer::start(backend).await;
    let user_id = register(&mut server.auth().await, "legacy@example.com").await.user.unwrap().id;
    let stored =
        || async { server.app.services().store().find_user(&user_id).await.unwrap().unwrap().password_hash.unwrap() };
    assert!(stored().await.starts_with("$argon2id$v=19$m=256,t=1,p=1$"), "{}", stored().await);

    // A newer deployment with stronger parameters, on the same database.
    let upgraded = server.start_replica_with(|config| config.argon2_memory_kib = 512).await;
    let mut client =
        pb::auth_service_client::AuthServiceClient::connect(format!("http://{}", upgraded.local_addr())).await.unwrap();
    login(&mut client, "legacy@example.com", PASSWORD).await.unwrap();
    let rehashed = stored().await;
    assert!(rehashed.starts_with("$argon2id$v=19$m=512,t=1,p=1$"), "{rehashed}");
    // And the password still works, under the new hash, on both deployments.
    login(&mut client, "legacy@example.com", PASSWORD).await.unwrap();
    login(&mut server.auth().await, "legacy@example.com", PASSWORD).await.unwrap();
    upgraded.shutdown().await.unwrap();
    server.stop().await;
}

async fn get_session_does_not_write_on_every_call(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut auth = server.auth().await;
    let token = register(&mut auth, "reader@example.com").await.session_token;
    let first = get_session(&mut auth, &token).await.unwrap().session.unwrap();
    for _ in 0..5 {
        server.clock.advance(std::time::Duration::from_secs(30));
        let again = get_session(&mut auth, &token).await.unwrap().session.unwrap();
        assert_eq!((again.last_seen_time, again.idle_expire_time), (first.last_seen_time, first.idle_expire_time));
    }
    // Past the touch interval (300 s), one write moves last-seen and the idle expiry.
    server.clock.advance(std::time::Duration::from_secs(200));
    let touched = get_session(&mut auth, &token).await.unwrap().session.unwrap();
    assert!(touched.last_seen_time.unwrap().seconds > first.last_seen_time.unwrap().seconds);
    assert!(touched.idle_expire_time.unwrap().seconds > first.idle_expire_time.unwrap().seconds);
    server.stop().await;
}

/// Lists the services through one reflection protocol version (`v1` or `v1alpha`: the two
/// generated APIs are the same shape in different modules).
macro_rules! reflected_services {
    ($version:ident, $server:expr) => {{
        use tonic_reflection::pb::$version::{
            ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
            server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
        };
        let mut client = ServerReflectionClient::new(
            tonic::transport::Channel::from_shared($server.base_url()).unwrap().connect().await.unwrap(),
        );
        let request = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        };
        let mut responses = client.server_reflection_info(tokio_stream::iter([request])).await.unwrap().into_inner();
        let Some(MessageResponse::ListServicesResponse(list)) =
            responses.message().await.unwrap().unwrap().message_response
        else {
            panic!("expected a service list")
        };
        list.service.into_iter().map(|s| s.name).collect::<Vec<_>>()
    }};
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflection_lists_the_services_in_v1_and_v1alpha() {
    let server = TestServer::start(Backend::Sqlite).await;
    for (version, names) in [("v1", reflected_services!(v1, server)), ("v1alpha", reflected_services!(v1alpha, server))]
    {
        for expected in
            ["keyward.v1.AuthService", "keyward.v1.PasskeyService", "keyward.v1.OAuthService", "grpc.health.v1.Health"]
        {
            assert!(names.iter().any(|n| n == expected), "{version}: {expected} missing from {names:?}");
        }
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_in_flight_calls_finish() {
    // One hashing thread, held busy by the test: the logins are provably inside the server
    // (queued for hashing) when shutdown begins, whatever the machine's load. Ordering, not time.
    let server = TestServer::start_with(Backend::Sqlite, |config| {
        config.hash_workers = Some(1);
        config.failed_sign_in_free_attempts = 10; // six concurrent sign-ins on one account
    })
    .await;
    register(&mut server.auth().await, "busy@example.com").await;
    let store = server.app.services().store().clone();
    let pool = std::sync::Arc::clone(server.app.services().cpu_pool());
    let before = store.row_counts().await.unwrap().sessions;
    let (release, hold) = std::sync::mpsc::channel::<()>();
    let blocker = pool.run(move |_| hold.recv().ok());
    let blocker = tokio::spawn(blocker);
    const CALLS: usize = 6;
    let mut calls = Vec::new();
    for _ in 0..CALLS {
        let mut client = server.auth().await;
        calls.push(tokio::spawn(async move { login(&mut client, "busy@example.com", PASSWORD).await }));
    }
    // Wait until all six are queued behind the blocker, server-side.
    while pool.jobs_in_flight() < CALLS + 1 {
        tokio::task::yield_now().await;
    }
    assert_eq!(store.row_counts().await.unwrap().sessions, before, "no login has finished yet");
    let TestServer { app, db, .. } = server;
    let stopping = app.shutdown(); // stops accepting now
    release.send(()).unwrap();
    blocker.await.unwrap().unwrap();
    for call in calls {
        call.await.unwrap().expect("in-flight call answered normally");
    }
    stopping.await.unwrap();
    drop(db);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_cache_staleness_is_bounded_across_replicas() {
    let server = TestServer::start_with(Backend::Sqlite, |config| config.session_cache_ttl_ms = 2000).await;
    let other = server.start_replica().await;
    let mut here = server.auth().await;
    let mut there =
        pb::auth_service_client::AuthServiceClient::connect(format!("http://{}", other.local_addr())).await.unwrap();
    let keep = register(&mut here, "cached@example.com").await.session_token;
    let doomed = login(&mut here, "cached@example.com", PASSWORD).await.unwrap();
    assert!(get_session(&mut here, &doomed.session_token).await.is_ok(), "now cached on this replica");

    // Revoked through the other replica: this one may answer from its cache, within the TTL…
    let doomed_id = doomed.session.unwrap().id;
    there.revoke_session(bearer(pb::RevokeSessionRequest { session_id: doomed_id }, &keep)).await.unwrap();
    assert!(get_session(&mut here, &doomed.session_token).await.is_ok(), "a fresh cache entry may be stale");
    assert_eq!(reason(&get_session(&mut there, &doomed.session_token).await.unwrap_err()), "SESSION_INVALID");
    // …and refuses once the entry has aged out (the cache ages on the service clock).
    server.app.services().clock().advance(std::time::Duration::from_millis(2000));
    assert_eq!(reason(&get_session(&mut here, &doomed.session_token).await.unwrap_err()), "SESSION_INVALID");
    // Revocation through the same replica is immediate, cache or not.
    assert!(get_session(&mut here, &keep).await.is_ok());
    here.logout(bearer(pb::LogoutRequest {}, &keep)).await.unwrap();
    assert_eq!(reason(&get_session(&mut here, &keep).await.unwrap_err()), "SESSION_INVALID");
    other.shutdown().await.unwrap();
    server.stop().await;
}

async fn update_user_renames_and_validates(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut auth = server.auth().await;
    let signed_in = register(&mut auth, "rename@example.com").await;
    let token = signed_in.session_token.clone();
    // Cached by a read first: the rename must show at once anyway.
    assert_eq!(get_session(&mut auth, &token).await.unwrap().user.unwrap().name, "Test User");

    let updated = auth
        .update_user(bearer(pb::UpdateUserRequest { name: "  Ada Lovelace ".into() }, &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.user.unwrap().name, "Ada Lovelace");
    assert_eq!(get_session(&mut auth, &token).await.unwrap().user.unwrap().name, "Ada Lovelace");

    let before = server.app.services().store().row_counts().await.unwrap();
    for (name, expected) in [("n".repeat(201), "FIELD_TOO_LONG"), ("bell\u{7}".to_owned(), "FIELD_MALFORMED")] {
        let err = auth.update_user(bearer(pb::UpdateUserRequest { name }, &token)).await.unwrap_err();
        assert_eq!((err.code(), reason(&err).as_str()), (Code::InvalidArgument, expected));
    }
    let access = signed_in.access_token.unwrap().token;
    let err = auth.update_user(bearer(pb::UpdateUserRequest { name: "x".into() }, &access)).await.unwrap_err();
    assert_eq!(reason(&err), "SESSION_TOKEN_REQUIRED");
    let err = auth.update_user(pb::UpdateUserRequest { name: "x".into() }).await.unwrap_err();
    assert_eq!(reason(&err), "NOT_SIGNED_IN");
    assert_eq!(server.app.services().store().row_counts().await.unwrap(), before);
    assert_eq!(get_session(&mut auth, &token).await.unwrap().user.unwrap().name, "Ada Lovelace");

    // Empty clears the name.
    let cleared =
        auth.update_user(bearer(pb::UpdateUserRequest { name: String::new() }, &token)).await.unwrap().into_inner();
    assert_eq!(cleared.user.unwrap().name, "");
    server.stop().await;
}
