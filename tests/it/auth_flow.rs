//! The main path: register → login → get-session → refresh → list → revoke → logout, and
//! change-password revoking the other sessions.

use keyward::pb;
use tonic::Code;

use crate::common::{Backend, PASSWORD, TestServer, bearer, both_backends, get_session, login, reason, register};

both_backends!(
    register_login_refresh_list_revoke_logout,
    change_password_revokes_other_sessions,
    health_and_jwks_are_served
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
    assert!(cookie.starts_with("keyward_session=;") && cookie.contains("Max-Age=0"), "{cookie}");
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
