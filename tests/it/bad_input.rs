//! Bad input: each kind gets a clear status and reason, nothing panics, nothing is written.

use keyward::pb;
use tonic::Code;

use crate::common::{
    Backend, PASSWORD, TestServer, bearer, both_backends, get_session, login, reason, register, violations,
};

both_backends!(
    bad_registrations_write_nothing,
    bad_logins_and_unknown_users_look_alike,
    garbage_tokens_and_bad_list_arguments
);

async fn bad_registrations_write_nothing(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut auth = server.auth().await;
    register(&mut auth, "taken@example.com").await;
    let store = server.app.services().store();
    let before = store.row_counts().await.unwrap();

    let long_email = format!("{}@example.com", "a".repeat(250));
    let cases: Vec<(&str, String, String, String, &str)> = vec![
        // (what, email, password, name, expected field)
        ("empty email", String::new(), PASSWORD.into(), String::new(), "email"),
        ("blank email", "   ".into(), PASSWORD.into(), String::new(), "email"),
        ("oversized email", long_email, PASSWORD.into(), String::new(), "email"),
        ("malformed email", "not-an-email".into(), PASSWORD.into(), String::new(), "email"),
        ("email without domain dot", "ada@localhost".into(), PASSWORD.into(), String::new(), "email"),
        ("empty password", "new@example.com".into(), String::new(), String::new(), "password"),
        ("short password", "new@example.com".into(), "k7#pQ2x".into(), String::new(), "password"),
        ("long password", "new@example.com".into(), "x9-".repeat(43), String::new(), "password"),
        ("common password", "new@example.com".into(), "password12345678".into(), String::new(), "password"),
        (
            "password from email",
            "margaret.hamilton@example.com".into(),
            "margaret.hamilton".into(),
            String::new(),
            "password",
        ),
        ("oversized name", "new@example.com".into(), PASSWORD.into(), "n".repeat(201), "name"),
        ("control chars in name", "new@example.com".into(), PASSWORD.into(), "bad\u{7}name".into(), "name"),
    ];
    for (what, email, password, name, field) in cases {
        let err = auth.register(pb::RegisterRequest { email, password, name }).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{what}: {err:?}");
        let violations = violations(&err);
        assert!(violations.contains_key(field), "{what}: violations {violations:?}");
        assert!(!violations[field].is_empty(), "{what}: the violation says why");
    }

    // Reasons the caller can show.
    let common = auth
        .register(pb::RegisterRequest {
            email: "new@example.com".into(),
            password: "password12345678".into(),
            name: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(reason(&common), "PASSWORD_TOO_COMMON");
    let short = auth
        .register(pb::RegisterRequest {
            email: "new@example.com".into(),
            password: "k7#pQ2x".into(),
            name: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(reason(&short), "PASSWORD_TOO_SHORT");
    assert!(short.message().contains("at least 15 characters"), "{}", short.message());

    // 128 characters is allowed: the limit counts characters, not bytes (é is 2 bytes).
    let long_ok: String = (0..).flat_map(|i: u32| format!("é{i}").chars().collect::<Vec<_>>()).take(128).collect();
    assert_eq!(long_ok.chars().count(), 128);
    auth.register(pb::RegisterRequest { email: "long@example.com".into(), password: long_ok, name: String::new() })
        .await
        .unwrap();

    // A taken email, whatever its case.
    let taken = auth
        .register(pb::RegisterRequest {
            email: "TAKEN@example.com".into(),
            password: PASSWORD.into(),
            name: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!((taken.code(), reason(&taken).as_str()), (Code::AlreadyExists, "EMAIL_TAKEN"));

    // A message over the size limit is refused before it is decoded.
    let huge = auth
        .register(pb::RegisterRequest {
            email: "huge@example.com".into(),
            password: "x".repeat(100 * 1024),
            name: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(huge.code(), Code::OutOfRange, "{huge:?}");

    let after = store.row_counts().await.unwrap();
    assert_eq!(after.users, before.users + 1, "only the valid 128-character registration was written");
    assert_eq!(after.sessions, before.sessions + 1);
    server.stop().await;
}

async fn bad_logins_and_unknown_users_look_alike(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut auth = server.auth().await;
    register(&mut auth, "known@example.com").await;
    let before = server.app.services().store().row_counts().await.unwrap();

    let wrong_password = login(&mut auth, "known@example.com", "wrong-password-77").await.unwrap_err();
    let unknown_user = login(&mut auth, "unknown@example.com", "wrong-password-77").await.unwrap_err();
    assert_eq!(wrong_password.code(), Code::Unauthenticated);
    assert_eq!(
        (wrong_password.code(), wrong_password.message(), reason(&wrong_password)),
        (unknown_user.code(), unknown_user.message(), reason(&unknown_user)),
        "no user enumeration through the answer"
    );
    assert_eq!(reason(&wrong_password), "INVALID_CREDENTIALS");

    for (email, password, field) in [
        ("", PASSWORD, "email"),
        ("known@example.com", "", "password"),
        ("garbage", PASSWORD, "email"),
        ("known@example.com", &"p".repeat(129), "password"),
    ] {
        let err = login(&mut auth, email, password).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument);
        assert!(violations(&err).contains_key(field), "{err:?}");
    }
    let after = server.app.services().store().row_counts().await.unwrap();
    assert_eq!((after.users, after.sessions), (before.users, before.sessions), "failed logins create no session");
    assert_eq!(
        after.audit_events,
        before.audit_events + 2,
        "each failed credential check is audited, known user or not"
    );
    server.stop().await;
}

async fn garbage_tokens_and_bad_list_arguments(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut auth = server.auth().await;
    let alice = register(&mut auth, "alice@example.com").await;
    let bob = register(&mut auth, "bob@example.com").await;
    let before = server.app.services().store().row_counts().await.unwrap();

    // Missing credentials.
    let err = auth.get_session(pb::GetSessionRequest::default()).await.unwrap_err();
    assert_eq!((err.code(), reason(&err).as_str()), (Code::Unauthenticated, "NOT_SIGNED_IN"));

    // Garbage of every shape answers like an unknown or expired token.
    let random_looking = "A".repeat(43);
    for token in ["garbage", random_looking.as_str(), "a.b.c", "eyJhbGciOiJub25lIn0.e30.", &"x".repeat(3000)] {
        let err = get_session(&mut auth, token).await.unwrap_err();
        assert_eq!((err.code(), reason(&err).as_str()), (Code::Unauthenticated, "SESSION_INVALID"), "{token}");
    }
    let mut web = crate::common::grpc_web_auth(&server);
    let origin = server.base_url();
    for cookie in ["%%%", "garbage", random_looking.as_str()] {
        let request = crate::common::from_page(pb::GetSessionRequest::default(), &origin, Some(cookie));
        assert_eq!(reason(&web.get_session(request).await.unwrap_err()), "SESSION_INVALID", "{cookie}");
    }

    // The token field itself: valid, garbage, oversized.
    let by_field =
        auth.get_session(pb::GetSessionRequest { token: alice.session_token.clone() }).await.unwrap().into_inner();
    assert_eq!(by_field.user.unwrap().email, "alice@example.com");
    let err = auth.get_session(pb::GetSessionRequest { token: "x".repeat(5000) }).await.unwrap_err();
    assert_eq!((err.code(), reason(&err).as_str()), (Code::InvalidArgument, "FIELD_TOO_LONG"));

    // Pagination arguments.
    for (page_size, page_token, expected) in
        [(-1, String::new(), "INVALID_PAGE_SIZE"), (10, "not-a-token".to_owned(), "INVALID_PAGE_TOKEN")]
    {
        let err = auth
            .list_sessions(bearer(pb::ListSessionsRequest { page_size, page_token }, &alice.session_token))
            .await
            .unwrap_err();
        assert_eq!((err.code(), reason(&err).as_str()), (Code::InvalidArgument, expected));
    }

    // Revoking: missing id, oversized id, and Bob's session id (indistinguishable from unknown).
    for (session_id, code, expected) in [
        (String::new(), Code::InvalidArgument, "FIELD_REQUIRED"),
        ("s".repeat(65), Code::InvalidArgument, "FIELD_TOO_LONG"),
        (bob.session.as_ref().unwrap().id.clone(), Code::NotFound, "SESSION_NOT_FOUND"),
        ("no-such-session".to_owned(), Code::NotFound, "SESSION_NOT_FOUND"),
    ] {
        let err = auth
            .revoke_session(bearer(pb::RevokeSessionRequest { session_id }, &alice.session_token))
            .await
            .unwrap_err();
        assert_eq!((err.code(), reason(&err).as_str()), (code, expected));
    }
    assert!(get_session(&mut auth, &bob.session_token).await.is_ok(), "Bob's session survived Alice's attempt");
    assert_eq!(server.app.services().store().row_counts().await.unwrap(), before);
    server.stop().await;
}
