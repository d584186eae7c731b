//! AdminService and its credentials: every RPC with a key of the right scope, of every wrong
//! scope (PERMISSION_DENIED), revoked, expired, none, and a user's session or access token
//! instead (refused) — refused calls write one audit row each and nothing else — and an API key refused as a user
//! credential. `keyward admin keys` from the binary. Helpers the other admin tests share.

use keyward::{
    domain::ApiScope,
    pb::{self, admin_service_client::AdminServiceClient},
    service::create_api_key,
    store::RowCounts,
};
use tonic::{Code, Request, Status, transport::Channel};
use tonic_types::StatusExt;

use crate::common::{Backend, TestServer, bearer, both_backends, get_session, keyward_cli, reason, register};

both_backends!(every_rpc_needs_a_live_key_with_its_scope, an_api_key_is_never_a_user_credential, keys_from_the_cli);

pub async fn admin(server: &TestServer) -> AdminServiceClient<Channel> {
    AdminServiceClient::connect(server.base_url()).await.unwrap()
}

/// A fresh API key with `scopes` (expiring at `expires_at` when given), straight into the store.
pub async fn key_expiring(
    server: &TestServer,
    scopes: &[ApiScope],
    expires_at: Option<chrono::DateTime<chrono::Utc>>,
) -> String {
    let store = server.app.services().store();
    let created = create_api_key(store, "test", scopes, server.clock.now(), expires_at).await.unwrap();
    created.secret.expose().to_owned()
}

pub async fn key(server: &TestServer, scopes: &[ApiScope]) -> String {
    key_expiring(server, scopes, None).await
}

/// A key with every scope.
pub async fn root_key(server: &TestServer) -> String {
    key(server, &ApiScope::ALL).await
}

pub fn mask(paths: &[&str]) -> Option<prost_types::FieldMask> {
    Some(prost_types::FieldMask { paths: paths.iter().map(|p| (*p).to_owned()).collect() })
}

/// Every AdminService RPC with the scope it needs.
pub const RPCS: &[(&str, ApiScope)] = &[
    ("ListUsers", ApiScope::UsersRead),
    ("GetUser", ApiScope::UsersRead),
    ("CreateUser", ApiScope::UsersWrite),
    ("UpdateUser", ApiScope::UsersWrite),
    ("DisableUser", ApiScope::UsersWrite),
    ("EnableUser", ApiScope::UsersWrite),
    ("DeleteUser", ApiScope::UsersWrite),
    ("RevokeUserSessions", ApiScope::SessionsRevoke),
    ("ListAuditEvents", ApiScope::AuditRead),
    ("ListWebhookDeliveries", ApiScope::WebhooksManage),
    ("RetryWebhookDelivery", ApiScope::WebhooksManage),
    ("WatchSessionEvents", ApiScope::EventsWatch),
];

/// A well-formed delivery id that names no delivery.
pub const NO_DELIVERY: &str = "01937c00-0000-7000-8000-000000000000";

/// Calls `rpc` with valid arguments aimed at `user_id`, presenting `token` (if any).
pub async fn call(
    client: &mut AdminServiceClient<Channel>,
    rpc: &str,
    token: Option<&str>,
    user_id: &str,
    n: usize,
) -> Result<(), Status> {
    fn with<T>(message: T, token: Option<&str>) -> Request<T> {
        match token {
            Some(token) => bearer(message, token),
            None => Request::new(message),
        }
    }
    let user_id = user_id.to_owned();
    match rpc {
        "ListUsers" => client.list_users(with(pb::ListUsersRequest::default(), token)).await.map(drop),
        "GetUser" => client.get_user(with(pb::GetUserRequest { user_id }, token)).await.map(drop),
        "CreateUser" => client
            .create_user(with(
                pb::CreateUserRequest {
                    email: format!("created-{n}@example.com"),
                    name: "Created".into(),
                    send_invitation: false,
                },
                token,
            ))
            .await
            .map(drop),
        "UpdateUser" => client
            .update_user(with(
                pb::AdminServiceUpdateUserRequest {
                    user_id,
                    // Name only: roles and the address need scopes of their own (admin_scopes.rs).
                    update_mask: mask(&["name"]),
                    name: "Renamed".into(),
                    ..Default::default()
                },
                token,
            ))
            .await
            .map(drop),
        "DisableUser" => client.disable_user(with(pb::DisableUserRequest { user_id }, token)).await.map(drop),
        "EnableUser" => client.enable_user(with(pb::EnableUserRequest { user_id }, token)).await.map(drop),
        "DeleteUser" => client.delete_user(with(pb::DeleteUserRequest { user_id }, token)).await.map(drop),
        "RevokeUserSessions" => {
            client.revoke_user_sessions(with(pb::RevokeUserSessionsRequest { user_id }, token)).await.map(drop)
        }
        "ListAuditEvents" => {
            client.list_audit_events(with(pb::ListAuditEventsRequest::default(), token)).await.map(drop)
        }
        "ListWebhookDeliveries" => client
            .list_webhook_deliveries(with(
                pb::ListWebhookDeliveriesRequest {
                    state: pb::WebhookDeliveryState::Dead.into(),
                    user_id,
                    ..Default::default()
                },
                token,
            ))
            .await
            .map(drop),
        // No dead delivery exists in these tests: a key that passes gets NOT_FOUND (tests/it/
        // webhooks.rs retries a real one).
        "RetryWebhookDelivery" => client
            .retry_webhook_delivery(with(pb::RetryWebhookDeliveryRequest { delivery_id: NO_DELIVERY.into() }, token))
            .await
            .map(drop),
        "WatchSessionEvents" => {
            client.watch_session_events(with(pb::WatchSessionEventsRequest::default(), token)).await.map(drop)
        }
        other => panic!("no call written for {other}"),
    }
}

fn assert_refused(result: Result<(), Status>, code: Code, expected: &str, what: &str) {
    let status = result.expect_err(what);
    assert_eq!((status.code(), reason(&status).as_str()), (code, expected), "{what}: {status:?}");
}

#[test]
fn every_admin_rpc_is_listed() {
    use prost::Message;
    let set = prost_types::FileDescriptorSet::decode(keyward::pb::FILE_DESCRIPTOR_SET).unwrap();
    let served: Vec<String> = set
        .file
        .iter()
        .flat_map(|file| file.service.iter())
        .filter(|service| service.name() == "AdminService")
        .flat_map(|service| service.method.iter().map(|m| m.name().to_owned()))
        .collect();
    let listed: Vec<String> = RPCS.iter().map(|(rpc, _)| (*rpc).to_owned()).collect();
    assert_eq!(served, listed);
}

async fn every_rpc_needs_a_live_key_with_its_scope(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut auth = server.auth().await;
    let mut client = admin(&server).await;
    let store = server.app.services().store();
    let user = register(&mut auth, "target@example.com").await;
    let user_id = user.user.as_ref().unwrap().id.clone();
    let session_token = user.session_token.clone();
    let access_token = user.access_token.as_ref().unwrap().token.clone();

    let revoked = root_key(&server).await;
    let revoked_id = store.list_api_keys().await.unwrap().last().unwrap().id.clone();
    assert!(keyward::service::revoke_api_key(store, &revoked_id, server.clock.now()).await.unwrap());
    let expiring = key_expiring(&server, &ApiScope::ALL, Some(server.clock.now() + chrono::Duration::minutes(5))).await;
    assert!(call(&mut client, "ListUsers", Some(&expiring), "", 0).await.is_ok(), "valid until it expires");
    server.clock.advance(std::time::Duration::from_secs(5 * 60));

    let auditor = key(&server, &[ApiScope::AuditRead]).await;
    for (n, (rpc, scope)) in RPCS.iter().enumerate() {
        // A new minute: each RPC's refusals are audited within the per-client bound.
        server.clock.advance(std::time::Duration::from_secs(60));
        // Its own target, so what one RPC did (DeleteUser) does not change the next one's answer.
        let target = register(&mut auth, &format!("target-{n}@example.com")).await;
        let target_id = target.user.as_ref().unwrap().id.clone();
        // Every key that lacks the scope, whatever else it carries.
        let others: Vec<ApiScope> = ApiScope::ALL.into_iter().filter(|s| s != scope).collect();
        let wrong = key(&server, &others).await;
        let right = key(&server, &[*scope]).await;
        let right_id = store.list_api_keys().await.unwrap().last().unwrap().id.clone();
        let before = store.row_counts().await.unwrap();
        let target_before = store.find_user(&target_id).await.unwrap();

        let status = call(&mut client, rpc, Some(&wrong), &target_id, n).await.expect_err(rpc);
        assert_eq!(
            (status.code(), reason(&status).as_str()),
            (Code::PermissionDenied, "API_KEY_SCOPE_MISSING"),
            "{rpc}"
        );
        assert_eq!(status.get_details_error_info().unwrap().metadata["scope"], scope.as_str(), "{rpc}");
        for (token, expected, what) in [
            (None, "API_KEY_REQUIRED", "no key"),
            (Some(revoked.as_str()), "API_KEY_INVALID", "a revoked key"),
            (Some(expiring.as_str()), "API_KEY_INVALID", "an expired key"),
            (Some(target.session_token.as_str()), "API_KEY_INVALID", "a user's session token"),
            (Some(target.access_token.as_ref().unwrap().token.as_str()), "API_KEY_INVALID", "a user's access token"),
            (Some(session_token.as_str()), "API_KEY_INVALID", "another user's session token"),
            (Some(access_token.as_str()), "API_KEY_INVALID", "another user's access token"),
            (Some("kw_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), "API_KEY_INVALID", "an unknown key"),
        ] {
            let result = call(&mut client, rpc, token, &target_id, n).await;
            assert_refused(result, Code::Unauthenticated, expected, &format!("{rpc} with {what}"));
        }
        // A refused call writes its audit row (one each: a wrong scope and eight bad keys), and
        // nothing else.
        let after = store.row_counts().await.unwrap();
        assert_eq!(RowCounts { audit_events: before.audit_events, ..after }, before, "{rpc}: a refused call wrote");
        assert_eq!(after.audit_events - before.audit_events, 9, "{rpc}: one audit row per refusal");
        assert_eq!(store.find_user(&target_id).await.unwrap(), target_before, "{rpc}: a refused call changed the user");

        // The right scope alone is enough, and the call is audited with the key's id.
        let result = call(&mut client, rpc, Some(&right), &target_id, n).await;
        if *rpc == "RetryWebhookDelivery" {
            // Past the scope check: the id is looked up (and names no dead delivery here).
            assert_refused(result, Code::NotFound, "WEBHOOK_DELIVERY_NOT_FOUND", rpc);
            continue;
        }
        result.unwrap_or_else(|err| panic!("{rpc}: {err:?}"));
        let events = client
            .list_audit_events(bearer(pb::ListAuditEventsRequest { page_size: 5, ..Default::default() }, &auditor))
            .await
            .unwrap()
            .into_inner()
            .audit_events;
        assert!(
            events.iter().any(|event| event.api_key_id == right_id && event.kind.starts_with("admin.")),
            "{rpc} was not audited with its key: {events:?}"
        );
    }
    // The user whose tokens were presented is untouched.
    assert!(get_session(&mut auth, &session_token).await.is_ok());
    assert!(store.find_user(&user_id).await.unwrap().is_some());
    server.stop().await;
}

async fn an_api_key_is_never_a_user_credential(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut auth = server.auth().await;
    let key = root_key(&server).await;
    let status = get_session(&mut auth, &key).await.unwrap_err();
    assert_eq!((status.code(), reason(&status).as_str()), (Code::Unauthenticated, "SESSION_INVALID"));
    let status = auth.logout(bearer(pb::LogoutRequest {}, &key)).await.unwrap_err();
    assert_eq!(reason(&status), "SESSION_INVALID");
    server.stop().await;
}

async fn keys_from_the_cli(backend: Backend) {
    let server = TestServer::start(backend).await;
    let master_key = server.db.master_key();
    let created = keyward_cli(
        &server.db,
        master_key,
        &["admin", "keys", "create", "--name", "billing sync", "--scope", "users:read", "--expires-in", "90d"],
    );
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let stdout = String::from_utf8(created.stdout).unwrap();
    let secret = stdout.lines().next().unwrap().to_owned();
    assert!(secret.starts_with("kw_") && secret.len() == 46, "{stdout}");
    assert_eq!(stdout.lines().count(), 1, "the key alone on stdout: {stdout}");
    assert!(String::from_utf8_lossy(&created.stderr).contains("only time the key is shown"));
    // Only the hash is stored.
    let stored = server.app.services().store().list_api_keys().await.unwrap();
    assert_eq!(stored.len(), 1);
    assert!(!stored[0].key_hash.contains(&secret[3..]) && stored[0].key_hash.len() == 64);
    assert_eq!(stored[0].scopes, "users:read");

    let mut client = admin(&server).await;
    assert!(call(&mut client, "ListUsers", Some(&secret), "", 0).await.is_ok());
    let status = call(&mut client, "ListAuditEvents", Some(&secret), "", 0).await.unwrap_err();
    assert_eq!(reason(&status), "API_KEY_SCOPE_MISSING");

    let listed = keyward_cli(&server.db, master_key, &["admin", "keys", "list"]);
    let listing = String::from_utf8(listed.stdout).unwrap();
    assert!(listing.contains(&stored[0].id) && listing.contains("billing sync") && listing.contains("expires"));
    assert!(!listing.contains(&secret), "list never shows a key");

    let revoked = keyward_cli(&server.db, master_key, &["admin", "keys", "revoke", &stored[0].id]);
    assert!(revoked.status.success(), "{}", String::from_utf8_lossy(&revoked.stderr));
    let status = call(&mut client, "ListUsers", Some(&secret), "", 0).await.unwrap_err();
    assert_eq!(reason(&status), "API_KEY_INVALID");
    let again = keyward_cli(&server.db, master_key, &["admin", "keys", "revoke", &stored[0].id]);
    assert!(!again.status.success());

    for bad in [
        vec!["admin", "keys", "create", "--name", "x", "--scope", "users:everything"],
        vec!["admin", "keys", "create", "--name", "x"],
        vec!["admin", "keys", "create", "--name", "  ", "--scope", "users:read"],
        vec!["admin", "keys", "create", "--name", "x", "--scope", "users:read", "--expires-in", "soon"],
    ] {
        let output = keyward_cli(&server.db, master_key, &bad);
        assert!(!output.status.success(), "{bad:?}");
    }
    assert_eq!(server.app.services().store().list_api_keys().await.unwrap().len(), 1, "refused creates stored nothing");
    server.stop().await;
}
