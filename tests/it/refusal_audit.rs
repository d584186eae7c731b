//! Refusals leave a trace (issue 21 item 11): a refused AdminService call (no key, a wrong
//! scope) and a refused OAuth callback each write one audit row with the client address and the
//! reason, and a flood from one client writes at most the per-client bound per minute.

use keyward::{
    domain::ApiScope,
    pb::{self, admin_service_client::AdminServiceClient, o_auth_service_client::OAuthServiceClient},
};
use tonic::transport::Channel;

use crate::{
    admin::{admin, call, key, root_key},
    common::{Backend, TestServer, bearer, both_backends, reason},
};

both_backends!(refusals_are_audited_once_each_within_a_per_client_bound);

/// The refusal bound per client and minute (`service/refusals.rs`).
const PER_WINDOW: usize = 20;

async fn refusal_rows(client: &mut AdminServiceClient<Channel>, root: &str) -> Vec<pb::AuditEvent> {
    let mut rows = Vec::new();
    for kind in ["admin.refused", "oauth.refused"] {
        let request = pb::ListAuditEventsRequest { kind: kind.into(), page_size: 100, ..Default::default() };
        rows.extend(client.list_audit_events(bearer(request, root)).await.unwrap().into_inner().audit_events);
    }
    rows
}

fn detail(event: &pb::AuditEvent) -> serde_json::Value {
    serde_json::from_str(&event.detail_json).unwrap()
}

async fn refusals_are_audited_once_each_within_a_per_client_bound(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut client = admin(&server).await;
    let root = root_key(&server).await;
    let store = server.app.services().store().clone();

    // No key at all: one row, with the client address and what was missing.
    call(&mut client, "ListUsers", None, "", 0).await.unwrap_err();
    let rows = refusal_rows(&mut client, &root).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!((rows[0].kind.as_str(), rows[0].client_address.as_str()), ("admin.refused", "127.0.0.1"));
    assert_eq!(detail(&rows[0])["reason"], "api_key_required");
    assert_eq!(detail(&rows[0])["scope"], "users:read");

    // A key without the scope: one row naming the scope; the user is untouched.
    let reader = key(&server, &[ApiScope::UsersRead]).await;
    let status = client.delete_user(bearer(pb::DeleteUserRequest { user_id: "someone".into() }, &reader)).await;
    assert_eq!(reason(&status.unwrap_err()), "API_KEY_SCOPE_MISSING");
    let rows = refusal_rows(&mut client, &root).await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    let refused = rows.iter().find(|row| detail(row)["reason"] == "api_key_scope_missing").expect("the scope row");
    assert_eq!(detail(refused)["scope"], "users:write");
    assert_eq!(refused.client_address, "127.0.0.1");

    // An OAuth callback whose state was never issued: one row.
    let mut oauth = OAuthServiceClient::connect(server.base_url()).await.unwrap();
    let callback = pb::OAuthCallbackRequest { state: "A".repeat(43), code: "code".into(), ..Default::default() };
    let status = oauth.o_auth_callback(callback).await.unwrap_err();
    assert_eq!(reason(&status), "OAUTH_STATE_INVALID");
    let rows = refusal_rows(&mut client, &root).await;
    let oauth_rows: Vec<_> = rows.iter().filter(|row| row.kind == "oauth.refused").collect();
    assert_eq!(oauth_rows.len(), 1, "{rows:?}");
    assert_eq!(detail(oauth_rows[0])["reason"], "state_invalid");
    assert_eq!(oauth_rows[0].client_address, "127.0.0.1");
    // Bad input is no refusal of the round-trip: no row.
    let bad = pb::OAuthCallbackRequest { state: "not-a-state".into(), ..Default::default() };
    assert_eq!(reason(&oauth.o_auth_callback(bad).await.unwrap_err()), "FIELD_MALFORMED");
    assert_eq!(refusal_rows(&mut client, &root).await.len(), 3);

    // A flood from one client: every call refused, at most the bound recorded this minute.
    let before = store.row_counts().await.unwrap();
    for n in 0..100 {
        call(&mut client, "ListUsers", Some("kw_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), "", n)
            .await
            .unwrap_err();
    }
    let after = store.row_counts().await.unwrap();
    assert_eq!(after.audit_events - before.audit_events, (PER_WINDOW - 3) as u64, "the bound holds");
    assert_eq!(refusal_rows(&mut client, &root).await.len(), PER_WINDOW);
    // The next minute records again.
    server.clock.advance(std::time::Duration::from_secs(60));
    call(&mut client, "ListUsers", None, "", 0).await.unwrap_err();
    assert_eq!(refusal_rows(&mut client, &root).await.len(), PER_WINDOW + 1);
    server.stop().await;
}
