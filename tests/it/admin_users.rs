//! What AdminService does to users: DisableUser ends every session and blocks password and
//! passkey sign-in (OAuth: in oauth.rs) until EnableUser; DeleteUser cascades, keeps the audit
//! history's user id and frees the email; UpdateUser changes exactly what its mask names, roles
//! included (into GetSession and the access token's `roles` claim); list filters and pages; bad
//! input per RPC writes nothing; and self-service DeleteAccount.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use keyward::pb::{self, admin_service_client::AdminServiceClient};
use tonic::{Code, transport::Channel};

use crate::{
    admin::{admin, mask, root_key},
    common::{Backend, PASSWORD, TestServer, bearer, both_backends, get_session, login, reason, register, violations},
    passkey_authenticator::TestPasskey,
    passkeys::{add_passkey, passkey_login, passkeys},
};

both_backends!(
    disable_ends_sessions_and_blocks_sign_in,
    delete_cascades_keeps_history_and_frees_the_email,
    update_changes_only_what_the_mask_names,
    roles_reach_get_session_and_the_access_token,
    lists_filter_and_page,
    bad_input_is_refused_per_field_and_writes_nothing,
    delete_account_needs_a_recent_session_and_ends_everything,
);

/// One page of ListAuditEvents.
async fn audit_events(
    client: &mut AdminServiceClient<Channel>,
    key: &str,
    request: pb::ListAuditEventsRequest,
) -> pb::ListAuditEventsResponse {
    client.list_audit_events(bearer(request, key)).await.unwrap().into_inner()
}

/// Events of one kind, newest first (the first page).
async fn events_of_kind(client: &mut AdminServiceClient<Channel>, key: &str, kind: &str) -> Vec<pb::AuditEvent> {
    audit_events(client, key, pb::ListAuditEventsRequest { kind: kind.into(), ..Default::default() }).await.audit_events
}

fn claims(access_token: &str) -> serde_json::Value {
    let payload = access_token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

async fn disable_ends_sessions_and_blocks_sign_in(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut auth = server.auth().await;
    let mut client = admin(&server).await;
    let key = root_key(&server).await;
    let me = register(&mut auth, "disabled@example.com").await;
    let user_id = me.user.as_ref().unwrap().id.clone();
    let mut passkey_client = passkeys(&server).await;
    let mut authenticator = TestPasskey::new();
    add_passkey(&mut passkey_client, &mut authenticator, &me.session_token, "Mine").await;
    let second = login(&mut auth, "disabled@example.com", PASSWORD).await.unwrap();
    // Both sessions are cached on this replica (GetSession answered from them).
    assert!(get_session(&mut auth, &me.session_token).await.is_ok());
    assert!(get_session(&mut auth, &second.session_token).await.is_ok());

    let disabled = client
        .disable_user(bearer(pb::DisableUserRequest { user_id: user_id.clone() }, &key))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(disabled.revoked_sessions, 2);
    assert!(disabled.user.unwrap().disable_time.is_some());
    for token in [&me.session_token, &second.session_token, &me.access_token.as_ref().unwrap().token] {
        let status = get_session(&mut auth, token).await.unwrap_err();
        assert_eq!(reason(&status), "SESSION_INVALID", "a session outlived DisableUser");
    }
    let before = server.app.services().store().row_counts().await.unwrap();
    let status = login(&mut auth, "disabled@example.com", PASSWORD).await.unwrap_err();
    assert_eq!((status.code(), reason(&status).as_str()), (Code::PermissionDenied, "USER_DISABLED"));
    // Without the password nothing is revealed: the usual answer.
    let status = login(&mut auth, "disabled@example.com", "wrong-password-entirely").await.unwrap_err();
    assert_eq!(reason(&status), "INVALID_CREDENTIALS");
    let status = passkey_login(&mut passkey_client, &mut authenticator, "").await.unwrap_err();
    assert_eq!((status.code(), reason(&status).as_str()), (Code::PermissionDenied, "USER_DISABLED"));
    let status = passkey_login(&mut passkey_client, &mut authenticator, "disabled@example.com").await.unwrap_err();
    assert_eq!(reason(&status), "USER_DISABLED");
    assert_eq!(server.app.services().store().row_counts().await.unwrap().sessions, before.sessions, "no session made");

    // Listed as disabled; disabling again changes nothing.
    let listed = client
        .list_users(bearer(
            pb::ListUsersRequest { state: pb::UserStateFilter::Disabled.into(), ..Default::default() },
            &key,
        ))
        .await
        .unwrap()
        .into_inner()
        .users;
    assert_eq!(listed.iter().map(|u| u.id.as_str()).collect::<Vec<_>>(), [user_id.as_str()]);
    let again = client.disable_user(bearer(pb::DisableUserRequest { user_id: user_id.clone() }, &key)).await.unwrap();
    assert_eq!(again.into_inner().revoked_sessions, 0);

    let enabled = client.enable_user(bearer(pb::EnableUserRequest { user_id: user_id.clone() }, &key)).await.unwrap();
    assert!(enabled.into_inner().user.unwrap().disable_time.is_none());
    assert!(login(&mut auth, "disabled@example.com", PASSWORD).await.is_ok());
    assert!(passkey_login(&mut passkey_client, &mut authenticator, "").await.is_ok());
    let kinds = server.app.services().store().audit_event_kinds(&user_id).await.unwrap();
    assert!(kinds.contains(&"admin.user.disabled".to_owned()) && kinds.contains(&"admin.user.enabled".to_owned()));
    server.stop().await;
}

async fn delete_cascades_keeps_history_and_frees_the_email(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut auth = server.auth().await;
    let mut client = admin(&server).await;
    let key = root_key(&server).await;
    let store = server.app.services().store();
    let bystander = register(&mut auth, "bystander@example.com").await;
    let me = register(&mut auth, "deleted@example.com").await;
    let user_id = me.user.as_ref().unwrap().id.clone();
    add_passkey(&mut passkeys(&server).await, &mut TestPasskey::new(), &me.session_token, "Mine").await;
    let details = client.get_user(bearer(pb::GetUserRequest { user_id: user_id.clone() }, &key)).await.unwrap();
    let details = details.into_inner();
    assert!(details.user.unwrap().has_password);
    assert_eq!((details.passkeys.len(), details.sessions.len(), details.linked_accounts.len()), (1, 1, 0));
    let before = store.row_counts().await.unwrap();

    client.delete_user(bearer(pb::DeleteUserRequest { user_id: user_id.clone() }, &key)).await.unwrap();
    let after = store.row_counts().await.unwrap();
    assert_eq!(
        (after.users, after.sessions, after.authenticators),
        (before.users - 1, before.sessions - 1, before.authenticators - 1)
    );
    assert_eq!(reason(&get_session(&mut auth, &me.session_token).await.unwrap_err()), "SESSION_INVALID");
    assert!(get_session(&mut auth, &bystander.session_token).await.is_ok(), "only the user's rows went");
    let status = client.get_user(bearer(pb::GetUserRequest { user_id: user_id.clone() }, &key)).await.unwrap_err();
    assert_eq!((status.code(), reason(&status).as_str()), (Code::NotFound, "USER_NOT_FOUND"));
    let status = client.delete_user(bearer(pb::DeleteUserRequest { user_id: user_id.clone() }, &key)).await;
    assert_eq!(reason(&status.unwrap_err()), "USER_NOT_FOUND");

    // The history keeps the user id, the deletion included, newest first.
    let history =
        audit_events(&mut client, &key, pb::ListAuditEventsRequest { user_id: user_id.clone(), ..Default::default() })
            .await
            .audit_events;
    let kinds: Vec<&str> = history.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds.first(), Some(&"admin.user.deleted"), "{kinds:?}");
    assert_eq!(kinds.last(), Some(&"user.registered"), "{kinds:?}");
    assert!(history.iter().all(|e| e.user_id == user_id));

    // The email is free: a new, different user.
    let again = register(&mut auth, "deleted@example.com").await;
    assert_ne!(again.user.unwrap().id, user_id);
    server.stop().await;
}

async fn update_changes_only_what_the_mask_names(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut auth = server.auth().await;
    let mut client = admin(&server).await;
    let key = root_key(&server).await;
    let me = register(&mut auth, "masked@example.com").await;
    register(&mut auth, "taken@example.com").await;
    let user_id = me.user.as_ref().unwrap().id.clone();
    let update = |paths: &[&str]| pb::AdminServiceUpdateUserRequest {
        user_id: user_id.clone(),
        update_mask: mask(paths),
        name: "New Name".into(),
        email: "NEW@example.com".into(),
        email_verified: true,
        roles: vec!["editor".into()],
    };

    // Only the name, though every field carries a value.
    let user = client.update_user(bearer(update(&["name"]), &key)).await.unwrap().into_inner().user.unwrap();
    assert_eq!((user.name.as_str(), user.email.as_str()), ("New Name", "masked@example.com"));
    assert!(user.email_verify_time.is_none() && user.roles.is_empty());

    let user = client.update_user(bearer(update(&["email_verified"]), &key)).await.unwrap().into_inner().user.unwrap();
    let verified_at = user.email_verify_time.expect("verified");
    // Verifying again keeps the first time.
    server.clock.advance(std::time::Duration::from_secs(60));
    let user = client.update_user(bearer(update(&["email_verified"]), &key)).await.unwrap().into_inner().user.unwrap();
    assert_eq!(user.email_verify_time, Some(verified_at));

    // A new email (normalized) is unverified unless the mask says otherwise.
    let user = client.update_user(bearer(update(&["email"]), &key)).await.unwrap().into_inner().user.unwrap();
    assert_eq!(user.email, "new@example.com");
    assert!(user.email_verify_time.is_none());
    assert!(login(&mut auth, "new@example.com", PASSWORD).await.is_ok());

    let mut taken = update(&["email"]);
    taken.email = "taken@example.com".into();
    let status = client.update_user(bearer(taken, &key)).await.unwrap_err();
    assert_eq!((status.code(), reason(&status).as_str()), (Code::AlreadyExists, "EMAIL_TAKEN"));

    // Clearing the name; unverifying.
    let mut clear = update(&["name", "email_verified"]);
    clear.name = String::new();
    clear.email_verified = false;
    let user = client.update_user(bearer(clear, &key)).await.unwrap().into_inner().user.unwrap();
    assert_eq!(user.name, "");
    assert_eq!(user.email, "new@example.com");
    let status = client
        .update_user(bearer(pb::AdminServiceUpdateUserRequest { user_id: "nobody".into(), ..update(&["name"]) }, &key))
        .await
        .unwrap_err();
    assert_eq!(reason(&status), "USER_NOT_FOUND");
    server.stop().await;
}

async fn roles_reach_get_session_and_the_access_token(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut auth = server.auth().await;
    let mut client = admin(&server).await;
    let key = root_key(&server).await;
    let me = register(&mut auth, "roles@example.com").await;
    assert_eq!(claims(&me.access_token.as_ref().unwrap().token)["roles"], serde_json::json!([]));
    let user_id = me.user.as_ref().unwrap().id.clone();
    // GetSession on this replica caches the user: the update must not leave the old roles there.
    assert!(get_session(&mut auth, &me.session_token).await.unwrap().user.unwrap().roles.is_empty());

    let request = pb::AdminServiceUpdateUserRequest {
        user_id: user_id.clone(),
        update_mask: mask(&["roles"]),
        roles: vec!["admin".into(), "billing:read".into(), "admin".into()],
        ..Default::default()
    };
    let user = client.update_user(bearer(request, &key)).await.unwrap().into_inner().user.unwrap();
    assert_eq!(user.roles, ["admin", "billing:read"]);
    let seen = get_session(&mut auth, &me.session_token).await.unwrap().user.unwrap();
    assert_eq!(seen.roles, ["admin", "billing:read"]);
    let refreshed = auth
        .refresh_session(bearer(pb::RefreshSessionRequest {}, &me.session_token))
        .await
        .unwrap()
        .into_inner()
        .access_token
        .unwrap()
        .token;
    assert_eq!(claims(&refreshed)["roles"], serde_json::json!(["admin", "billing:read"]));
    let signed_in = login(&mut auth, "roles@example.com", PASSWORD).await.unwrap();
    assert_eq!(claims(&signed_in.access_token.unwrap().token)["roles"], serde_json::json!(["admin", "billing:read"]));
    assert_eq!(signed_in.user.unwrap().roles, ["admin", "billing:read"]);
    server.stop().await;
}

async fn lists_filter_and_page(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut auth = server.auth().await;
    let mut client = admin(&server).await;
    let key = root_key(&server).await;
    for name in ["ann", "anna", "bob", "an_x"] {
        register(&mut auth, &format!("{name}@example.com")).await;
    }
    let start = server.clock.now();
    server.clock.advance(std::time::Duration::from_secs(10));
    register(&mut auth, "late@example.com").await;
    let list = |request: pb::ListUsersRequest| {
        let mut client = client.clone();
        let key = key.clone();
        async move { client.list_users(bearer(request, &key)).await.unwrap().into_inner() }
    };
    let emails = |response: &pb::ListUsersResponse| {
        let mut emails: Vec<String> = response.users.iter().map(|u| u.email.clone()).collect();
        emails.sort();
        emails
    };
    let prefix = list(pb::ListUsersRequest { email_prefix: "AN".into(), ..Default::default() }).await;
    assert_eq!(emails(&prefix), ["an_x@example.com", "ann@example.com", "anna@example.com"]);
    // `_` is a character, not a wildcard.
    let literal = list(pb::ListUsersRequest { email_prefix: "an_".into(), ..Default::default() }).await;
    assert_eq!(emails(&literal), ["an_x@example.com"]);
    let late = list(pb::ListUsersRequest { create_time_from: Some(ts(start)), ..Default::default() }).await;
    assert_eq!(emails(&late), ["late@example.com"]);
    let early = list(pb::ListUsersRequest { create_time_to: Some(ts(start)), ..Default::default() }).await;
    assert_eq!(early.users.len(), 4);

    // Pages of two cover everything once.
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = list(pb::ListUsersRequest { page_size: 2, page_token: token.clone(), ..Default::default() }).await;
        assert!(page.users.len() <= 2);
        seen.extend(page.users.into_iter().map(|u| u.email));
        token = page.next_page_token;
        if token.is_empty() {
            break;
        }
    }
    seen.sort();
    assert_eq!(seen.len(), 5);
    seen.dedup();
    assert_eq!(seen.len(), 5);

    // Audit events: newest first, by kind, by time, paged, with the client address.
    let by_kind = |page_token: String| pb::ListAuditEventsRequest {
        kind: "user.registered".into(),
        page_size: 3,
        page_token,
        ..Default::default()
    };
    let events = audit_events(&mut client, &key, by_kind(String::new())).await;
    assert_eq!(events.audit_events.len(), 3);
    assert!(events.audit_events.iter().all(|e| e.kind == "user.registered"));
    assert!(events.audit_events.windows(2).all(|w| w[0].id > w[1].id), "newest first");
    assert!(!events.audit_events[0].client_address.is_empty(), "{:?}", events.audit_events[0]);
    let rest = audit_events(&mut client, &key, by_kind(events.next_page_token)).await;
    assert_eq!(rest.audit_events.len(), 2);
    assert!(rest.next_page_token.is_empty());

    assert!(events_of_kind(&mut client, &key, "login.succeeded").await.is_empty(), "registration is not a login");
    login(&mut auth, "ann@example.com", PASSWORD).await.unwrap();
    let logins = events_of_kind(&mut client, &key, "login.succeeded").await;
    assert!(logins[0].user_agent.starts_with("tonic/"), "{:?}", logins[0]);
    assert!(!logins[0].client_address.is_empty() && logins[0].api_key_id.is_empty());

    let admin_reads = events_of_kind(&mut client, &key, "admin.users.listed").await;
    assert!(!admin_reads.is_empty() && admin_reads.iter().all(|e| !e.api_key_id.is_empty()));
    let recent = pb::ListAuditEventsRequest { create_time_from: Some(ts(start)), ..by_kind(String::new()) };
    assert_eq!(audit_events(&mut client, &key, recent).await.audit_events.len(), 1);
    server.stop().await;
}

fn ts(at: chrono::DateTime<chrono::Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds: at.timestamp(), nanos: i32::try_from(at.timestamp_subsec_nanos()).unwrap() }
}

async fn bad_input_is_refused_per_field_and_writes_nothing(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut auth = server.auth().await;
    let client = admin(&server).await;
    let key = root_key(&server).await;
    let me = register(&mut auth, "input@example.com").await;
    let user_id = me.user.as_ref().unwrap().id.clone();
    let store = server.app.services().store();
    let long = "x".repeat(300);
    let bad_time = Some(prost_types::Timestamp { seconds: 0, nanos: -1 });
    let dead: i32 = pb::WebhookDeliveryState::Dead.into();
    let later = Some(prost_types::Timestamp { seconds: 2_000_000_000, nanos: 0 });
    let earlier = Some(prost_types::Timestamp { seconds: 1_000_000_000, nanos: 0 });
    let update = |paths: &[&str]| pb::AdminServiceUpdateUserRequest {
        user_id: user_id.clone(),
        update_mask: mask(paths),
        name: "Fine".into(),
        email: "fine@example.com".into(),
        email_verified: true,
        roles: vec!["fine".into()],
    };
    let before = store.row_counts().await.unwrap();
    let user_before = store.find_user(&user_id).await.unwrap();
    let mut c = client.clone();
    let k = key.clone();
    macro_rules! case {
        ($method:ident, $request:expr, $field:expr, $reason:expr) => {
            (stringify!($method), c.$method(bearer($request, &k)).await.map(drop), $field, $reason)
        };
    }
    let cases = vec![
        case!(
            list_users,
            pb::ListUsersRequest { page_size: -1, ..Default::default() },
            "page_size",
            "INVALID_PAGE_SIZE"
        ),
        case!(
            list_users,
            pb::ListUsersRequest { page_token: "nope".into(), ..Default::default() },
            "page_token",
            "INVALID_PAGE_TOKEN"
        ),
        case!(
            list_users,
            pb::ListUsersRequest { email_prefix: long.clone(), ..Default::default() },
            "email_prefix",
            "FIELD_MALFORMED"
        ),
        case!(
            list_users,
            pb::ListUsersRequest { create_time_from: bad_time, ..Default::default() },
            "create_time_from",
            "FIELD_MALFORMED"
        ),
        case!(
            list_users,
            pb::ListUsersRequest { create_time_from: later, create_time_to: earlier, ..Default::default() },
            "create_time_to",
            "FIELD_MALFORMED"
        ),
        case!(list_users, pb::ListUsersRequest { state: 7, ..Default::default() }, "state", "FIELD_MALFORMED"),
        case!(get_user, pb::GetUserRequest { user_id: " ".into() }, "user_id", "FIELD_REQUIRED"),
        case!(get_user, pb::GetUserRequest { user_id: long.clone() }, "user_id", "FIELD_TOO_LONG"),
        case!(
            create_user,
            pb::CreateUserRequest { email: String::new(), name: String::new(), send_invitation: false },
            "email",
            "FIELD_REQUIRED"
        ),
        case!(
            create_user,
            pb::CreateUserRequest { email: "not-an-email".into(), name: String::new(), send_invitation: false },
            "email",
            "INVALID_EMAIL"
        ),
        case!(
            create_user,
            pb::CreateUserRequest { email: "ok@example.com".into(), name: long.clone(), send_invitation: false },
            "name",
            "FIELD_TOO_LONG"
        ),
        case!(update_user, update(&[]), "update_mask", "FIELD_REQUIRED"),
        case!(update_user, update(&["name", "password_hash"]), "update_mask", "FIELD_MALFORMED"),
        case!(
            update_user,
            pb::AdminServiceUpdateUserRequest { user_id: String::new(), ..update(&["name"]) },
            "user_id",
            "FIELD_REQUIRED"
        ),
        case!(
            update_user,
            pb::AdminServiceUpdateUserRequest { name: long.clone(), ..update(&["email", "name"]) },
            "name",
            "FIELD_TOO_LONG"
        ),
        case!(
            update_user,
            pb::AdminServiceUpdateUserRequest { email: "bad".into(), ..update(&["name", "email"]) },
            "email",
            "INVALID_EMAIL"
        ),
        case!(
            update_user,
            pb::AdminServiceUpdateUserRequest { roles: vec!["Not A Role".into()], ..update(&["name", "roles"]) },
            "roles",
            "FIELD_MALFORMED"
        ),
        case!(
            update_user,
            pb::AdminServiceUpdateUserRequest { roles: vec!["r".into(); 33], ..update(&["roles"]) },
            "roles",
            "FIELD_TOO_LONG"
        ),
        case!(disable_user, pb::DisableUserRequest { user_id: String::new() }, "user_id", "FIELD_REQUIRED"),
        case!(enable_user, pb::EnableUserRequest { user_id: long.clone() }, "user_id", "FIELD_TOO_LONG"),
        case!(delete_user, pb::DeleteUserRequest { user_id: String::new() }, "user_id", "FIELD_REQUIRED"),
        case!(
            revoke_user_sessions,
            pb::RevokeUserSessionsRequest { user_id: String::new() },
            "user_id",
            "FIELD_REQUIRED"
        ),
        case!(
            list_audit_events,
            pb::ListAuditEventsRequest { page_size: -5, ..Default::default() },
            "page_size",
            "INVALID_PAGE_SIZE"
        ),
        case!(
            list_audit_events,
            pb::ListAuditEventsRequest { kind: "DROP TABLE".into(), ..Default::default() },
            "kind",
            "FIELD_MALFORMED"
        ),
        case!(
            list_audit_events,
            pb::ListAuditEventsRequest { user_id: long.clone(), ..Default::default() },
            "user_id",
            "FIELD_TOO_LONG"
        ),
        case!(
            list_audit_events,
            pb::ListAuditEventsRequest { create_time_to: bad_time, ..Default::default() },
            "create_time_to",
            "FIELD_MALFORMED"
        ),
        case!(list_webhook_deliveries, pb::ListWebhookDeliveriesRequest::default(), "state", "FIELD_REQUIRED"),
        case!(
            list_webhook_deliveries,
            pb::ListWebhookDeliveriesRequest { state: 99, ..Default::default() },
            "state",
            "FIELD_MALFORMED"
        ),
        case!(
            list_webhook_deliveries,
            pb::ListWebhookDeliveriesRequest { state: dead, event_type: "user.exploded".into(), ..Default::default() },
            "event_type",
            "FIELD_MALFORMED"
        ),
        case!(
            list_webhook_deliveries,
            pb::ListWebhookDeliveriesRequest { state: dead, user_id: long.clone(), ..Default::default() },
            "user_id",
            "FIELD_TOO_LONG"
        ),
        case!(
            list_webhook_deliveries,
            pb::ListWebhookDeliveriesRequest { state: dead, page_size: -1, ..Default::default() },
            "page_size",
            "INVALID_PAGE_SIZE"
        ),
        case!(
            list_webhook_deliveries,
            pb::ListWebhookDeliveriesRequest { state: dead, page_token: "not-a-token".into(), ..Default::default() },
            "page_token",
            "INVALID_PAGE_TOKEN"
        ),
        case!(
            retry_webhook_delivery,
            pb::RetryWebhookDeliveryRequest { delivery_id: String::new() },
            "delivery_id",
            "FIELD_REQUIRED"
        ),
        case!(
            retry_webhook_delivery,
            pb::RetryWebhookDeliveryRequest { delivery_id: long.clone() },
            "delivery_id",
            "FIELD_TOO_LONG"
        ),
    ];
    for (rpc, result, field, expected) in cases {
        let status = result.expect_err(rpc);
        assert_eq!((status.code(), reason(&status).as_str()), (Code::InvalidArgument, expected), "{rpc} {field}");
        assert!(violations(&status).contains_key(field), "{rpc}: {field} not named in {status:?}");
    }
    // Nothing was written by any of them: no user, no audit row, the user unchanged.
    assert_eq!(store.row_counts().await.unwrap(), before);
    assert_eq!(store.audit_event_kinds(&user_id).await.unwrap(), ["user.registered"]);
    assert_eq!(store.find_user(&user_id).await.unwrap(), user_before);
    assert!(get_session(&mut auth, &me.session_token).await.is_ok());
    server.stop().await;
}

async fn delete_account_needs_a_recent_session_and_ends_everything(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut auth = server.auth().await;
    let store = server.app.services().store();
    let me = register(&mut auth, "leaving@example.com").await;
    let other = login(&mut auth, "leaving@example.com", PASSWORD).await.unwrap();
    let user_id = me.user.as_ref().unwrap().id.clone();

    let status = auth
        .delete_account(bearer(pb::DeleteAccountRequest {}, &me.access_token.as_ref().unwrap().token))
        .await
        .unwrap_err();
    assert_eq!(reason(&status), "SESSION_TOKEN_REQUIRED");
    // Past the re-authentication window the session must prove a factor again first.
    server.clock.advance(std::time::Duration::from_secs(server.config.reauthentication_window_secs + 1));
    let before = store.row_counts().await.unwrap();
    let status = auth.delete_account(bearer(pb::DeleteAccountRequest {}, &me.session_token)).await.unwrap_err();
    assert_eq!((status.code(), reason(&status).as_str()), (Code::FailedPrecondition, "REAUTHENTICATION_REQUIRED"));
    assert_eq!(store.row_counts().await.unwrap(), before, "refused, and nothing written");
    auth.reauthenticate(bearer(pb::ReauthenticateRequest { password: PASSWORD.into() }, &me.session_token))
        .await
        .unwrap();

    let response = auth.delete_account(bearer(pb::DeleteAccountRequest {}, &me.session_token)).await.unwrap();
    let cookie = response.metadata().get("set-cookie").unwrap().to_str().unwrap();
    assert!(cookie.contains("Max-Age=0"), "{cookie}");
    for token in [&me.session_token, &other.session_token] {
        assert_eq!(reason(&get_session(&mut auth, token).await.unwrap_err()), "SESSION_INVALID");
    }
    assert!(store.find_user(&user_id).await.unwrap().is_none());
    let kinds = store.audit_event_kinds(&user_id).await.unwrap();
    assert_eq!(kinds.last().map(String::as_str), Some("account.deleted"));
    assert_eq!(reason(&login(&mut auth, "leaving@example.com", PASSWORD).await.unwrap_err()), "INVALID_CREDENTIALS");
    register(&mut auth, "leaving@example.com").await;
    server.stop().await;
}
