//! AdminService.WatchSessionEvents: every way sessions end early is an event, in order; a
//! resumed stream replays exactly what it missed, then says it caught up, then goes on live;
//! bad, unknown and expired cursors are refused; a key holds a bounded number of streams and a
//! revoked key's stream ends. On PostgreSQL, two replicas: a revocation or a disable on one
//! reaches the other's watch stream and its session cache at once, with the cache TTL far above
//! the test's duration. (Scopes, revoked and expired keys and user tokens: `admin.rs`, which
//! calls every AdminService RPC with each.)

use std::time::Duration;

use keyward::{
    domain::ApiScope,
    pb::{self, SessionEventKind, admin_service_client::AdminServiceClient, auth_service_client::AuthServiceClient},
};
use sea_orm::{ConnectionTrait, Database};
use tonic::{Code, Status, Streaming, transport::Channel};

use crate::{
    admin::{admin, key, root_key},
    common::{Backend, PASSWORD, TestServer, bearer, both_backends, get_session, login, reason, register, violations},
};

both_backends!(
    every_way_sessions_end_is_an_event,
    a_resumed_stream_replays_exactly_what_it_missed,
    bad_and_expired_cursors_are_refused,
    streams_per_key_are_bounded,
    a_revoked_keys_stream_ends,
);

/// Far above any test's duration: a session still accepted after a revocation came from a cache.
const LONG_CACHE_TTL_MS: u64 = 60_000;
/// A bound on any one wait for the stream, so that a bug fails the test instead of hanging it.
const STREAM_WAIT: Duration = Duration::from_secs(30);

async fn watch(
    client: &mut AdminServiceClient<Channel>,
    key: &str,
    cursor: &str,
) -> Result<Streaming<pb::WatchSessionEventsResponse>, Status> {
    Ok(client
        .watch_session_events(bearer(pb::WatchSessionEventsRequest { cursor: cursor.into() }, key))
        .await?
        .into_inner())
}

/// The next message of `stream` (panics when the stream ends or fails).
async fn next(stream: &mut Streaming<pb::WatchSessionEventsResponse>) -> pb::WatchSessionEventsResponse {
    tokio::time::timeout(STREAM_WAIT, stream.message())
        .await
        .expect("the stream sent nothing")
        .expect("the stream failed")
        .expect("the stream ended")
}

/// The events up to the caught-up message, and its cursor.
async fn replay(stream: &mut Streaming<pb::WatchSessionEventsResponse>) -> (Vec<pb::SessionEvent>, String) {
    let mut events = Vec::new();
    loop {
        let message = next(stream).await;
        if message.caught_up {
            assert!(message.event.is_none());
            return (events, message.cursor);
        }
        events.push(message.event.expect("an event"));
    }
}

/// A stream that has caught up (so that everything after this is live).
async fn live(client: &mut AdminServiceClient<Channel>, key: &str) -> Streaming<pb::WatchSessionEventsResponse> {
    let mut stream = watch(client, key, "").await.unwrap();
    let (replayed, _) = replay(&mut stream).await;
    assert!(replayed.is_empty(), "a stream without a cursor replays nothing: {replayed:?}");
    stream
}

/// The next `n` events and the cursor after the last.
async fn events(
    stream: &mut Streaming<pb::WatchSessionEventsResponse>,
    n: usize,
) -> (Vec<(i32, String, String)>, String) {
    let mut got = Vec::new();
    let mut cursor = String::new();
    for _ in 0..n {
        let message = next(stream).await;
        assert!(!message.caught_up, "caught up twice");
        let event = message.event.expect("an event");
        assert!(event.create_time.is_some());
        got.push((event.kind, event.user_id, event.session_id));
        cursor = message.cursor;
    }
    (got, cursor)
}

async fn revoke(auth: &mut AuthServiceClient<Channel>, token: &str, session_id: &str) {
    auth.revoke_session(bearer(pb::RevokeSessionRequest { session_id: session_id.into() }, token)).await.unwrap();
}

fn revoked(user_id: &str, session_id: &str) -> (i32, String, String) {
    (SessionEventKind::SessionRevoked.into(), user_id.to_owned(), session_id.to_owned())
}

fn of_user(kind: SessionEventKind, user_id: &str) -> (i32, String, String) {
    (kind.into(), user_id.to_owned(), String::new())
}

fn ids(signed_in: &pb::SignedIn) -> (String, String) {
    (signed_in.user.as_ref().unwrap().id.clone(), signed_in.session.as_ref().unwrap().id.clone())
}

async fn every_way_sessions_end_is_an_event(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut auth = server.auth().await;
    let mut client = admin(&server).await;
    let watcher = key(&server, &[ApiScope::EventsWatch]).await;
    let operator = root_key(&server).await;
    let first = register(&mut auth, "ends@example.com").await;
    let (user, first_session) = ids(&first);
    let mut stream = live(&mut client, &watcher).await;

    // Logout.
    auth.logout(bearer(pb::LogoutRequest {}, &first.session_token)).await.unwrap();
    // RevokeSession (another session of the user's, from a freshly signed-in one).
    let a = login(&mut auth, "ends@example.com", PASSWORD).await.unwrap();
    let b = login(&mut auth, "ends@example.com", PASSWORD).await.unwrap();
    auth.revoke_session(bearer(pb::RevokeSessionRequest { session_id: ids(&b).1 }, &a.session_token)).await.unwrap();
    // RevokeOtherSessions.
    let c = login(&mut auth, "ends@example.com", PASSWORD).await.unwrap();
    auth.revoke_other_sessions(bearer(pb::RevokeOtherSessionsRequest {}, &c.session_token)).await.unwrap();
    // A sign-in that replaces the session the caller presented.
    let d = auth
        .login(bearer(
            pb::LoginRequest { email: "ends@example.com".into(), password: PASSWORD.into() },
            &c.session_token,
        ))
        .await
        .unwrap()
        .into_inner()
        .signed_in
        .unwrap();
    // ChangePassword ends the other sessions.
    let e = login(&mut auth, "ends@example.com", PASSWORD).await.unwrap();
    auth.change_password(bearer(
        pb::ChangePasswordRequest { current_password: PASSWORD.into(), new_password: "quiet-harbor-tram-58".into() },
        &d.session_token,
    ))
    .await
    .unwrap();
    let (got, _) = events(&mut stream, 5).await;
    assert_eq!(
        got,
        [
            revoked(&user, &first_session),
            revoked(&user, &ids(&b).1),
            revoked(&user, &ids(&a).1),
            revoked(&user, &ids(&c).1),
            revoked(&user, &ids(&e).1),
        ]
    );

    // RevokeUserSessions, DisableUser, DeleteUser (operators).
    let target = register(&mut auth, "target@example.com").await;
    let (target_user, target_session) = ids(&target);
    let mut admin_client = admin(&server).await;
    admin_client
        .revoke_user_sessions(bearer(pb::RevokeUserSessionsRequest { user_id: target_user.clone() }, &operator))
        .await
        .unwrap();
    admin_client
        .disable_user(bearer(pb::DisableUserRequest { user_id: target_user.clone() }, &operator))
        .await
        .unwrap();
    admin_client.delete_user(bearer(pb::DeleteUserRequest { user_id: target_user.clone() }, &operator)).await.unwrap();
    // DeleteAccount (a fresh sign-in is a recent authentication).
    let own = register(&mut auth, "own@example.com").await;
    auth.delete_account(bearer(pb::DeleteAccountRequest {}, &own.session_token)).await.unwrap();
    let (got, _) = events(&mut stream, 4).await;
    assert_eq!(
        got,
        [
            revoked(&target_user, &target_session),
            of_user(SessionEventKind::UserDisabled, &target_user),
            of_user(SessionEventKind::UserDeleted, &target_user),
            of_user(SessionEventKind::UserDeleted, &ids(&own).0),
        ]
    );
    // Refusals, sign-ins and expiry are no events: the next one is the next revocation.
    let failed = auth.revoke_session(bearer(pb::RevokeSessionRequest { session_id: "nope".into() }, &d.session_token));
    assert_eq!(reason(&failed.await.unwrap_err()), "SESSION_NOT_FOUND");
    server.clock.advance(Duration::from_secs(31 * 24 * 3600));
    assert!(server.app.services().sweep_expired().await.unwrap() > 0, "the old sessions expired");
    let f = register(&mut auth, "later@example.com").await;
    auth.logout(bearer(pb::LogoutRequest {}, &f.session_token)).await.unwrap();
    let (got, _) = events(&mut stream, 1).await;
    assert_eq!(got, [revoked(&ids(&f).0, &ids(&f).1)]);
    server.stop().await;
}

async fn a_resumed_stream_replays_exactly_what_it_missed(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut auth = server.auth().await;
    let mut client = admin(&server).await;
    let watcher = key(&server, &[ApiScope::EventsWatch]).await;
    let user = register(&mut auth, "resume@example.com").await;
    let user_id = ids(&user).0;
    let mut sessions = Vec::new();
    for _ in 0..5 {
        sessions.push(ids(&login(&mut auth, "resume@example.com", PASSWORD).await.unwrap()).1);
    }
    let mut stream = live(&mut client, &watcher).await;
    revoke(&mut auth, &user.session_token, &sessions[0]).await;
    revoke(&mut auth, &user.session_token, &sessions[1]).await;
    let (first, after_first) = events(&mut stream, 1).await;
    assert_eq!(first, [revoked(&user_id, &sessions[0])]);
    let (second, after_second) = events(&mut stream, 1).await;
    assert_eq!(second, [revoked(&user_id, &sessions[1])]);
    drop(stream);

    // Missed while disconnected.
    revoke(&mut auth, &user.session_token, &sessions[2]).await;
    revoke(&mut auth, &user.session_token, &sessions[3]).await;

    // Resuming after the first event replays the second and the missed ones, each once, in order.
    let mut resumed = watch(&mut client, &watcher, &after_first).await.unwrap();
    let (replayed, caught_up_at) = replay(&mut resumed).await;
    let replayed: Vec<_> = replayed.into_iter().map(|event| (event.kind, event.user_id, event.session_id)).collect();
    assert_eq!(
        replayed,
        [revoked(&user_id, &sessions[1]), revoked(&user_id, &sessions[2]), revoked(&user_id, &sessions[3])]
    );
    // Then live, with no repeat at the seam.
    revoke(&mut auth, &user.session_token, &sessions[4]).await;
    let (live_event, last_cursor) = events(&mut resumed, 1).await;
    assert_eq!(live_event, [revoked(&user_id, &sessions[4])]);
    drop(resumed);

    // The caught-up cursor resumes right there: only the live event follows it.
    let mut again = watch(&mut client, &watcher, &caught_up_at).await.unwrap();
    let (replayed, _) = replay(&mut again).await;
    assert_eq!(replayed.len(), 1);
    assert_eq!(replayed[0].session_id, sessions[4]);
    // The last cursor, and the cursor of an event in the middle, resume exactly after it.
    let mut at_end = watch(&mut client, &watcher, &last_cursor).await.unwrap();
    let (replayed, end_cursor) = replay(&mut at_end).await;
    assert!(replayed.is_empty());
    assert_eq!(end_cursor, last_cursor);
    let mut middle = watch(&mut client, &watcher, &after_second).await.unwrap();
    assert_eq!(replay(&mut middle).await.0.len(), 3);
    server.stop().await;
}

async fn bad_and_expired_cursors_are_refused(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut auth = server.auth().await;
    let mut client = admin(&server).await;
    let watcher = key(&server, &[ApiScope::EventsWatch]).await;
    let store = server.app.services().store();
    let first = register(&mut auth, "cursor@example.com").await;
    let second = login(&mut auth, "cursor@example.com", PASSWORD).await.unwrap();
    let mut stream = live(&mut client, &watcher).await;
    auth.logout(bearer(pb::LogoutRequest {}, &first.session_token)).await.unwrap();
    auth.logout(bearer(pb::LogoutRequest {}, &second.session_token)).await.unwrap();
    let (_, cursor) = events(&mut stream, 1).await;
    let (_, newest) = events(&mut stream, 1).await;
    drop(stream);

    let before = store.row_counts().await.unwrap();
    use base64::Engine;
    let spelled = |text: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text);
    for bad in [
        "garbage!".to_owned(),
        "x".repeat(10_000),
        spelled("session-events:-1"),
        spelled("session-events:01"),
        spelled("after:1"),
        // Well formed, but no event has that id yet: not a cursor this server sent.
        spelled("session-events:999999"),
    ] {
        let status = watch(&mut client, &watcher, &bad).await.unwrap_err();
        assert_eq!((status.code(), reason(&status).as_str()), (Code::InvalidArgument, "FIELD_MALFORMED"), "{bad}");
        assert!(violations(&status).contains_key("cursor"), "{bad}");
    }
    assert_eq!(store.row_counts().await.unwrap(), before, "refused watches wrote nothing");

    // Past the retention both events are pruned: a cursor before the newest is expired (events
    // after it are gone), so the watcher must resync.
    server.clock.advance(Duration::from_secs(server.config.session_event_retention_hours * 3600 + 1));
    server.app.services().sweep_expired().await.unwrap();
    let status = watch(&mut client, &watcher, &cursor).await.unwrap_err();
    assert_eq!((status.code(), reason(&status).as_str()), (Code::FailedPrecondition, "WATCH_CURSOR_EXPIRED"));
    let zero = spelled("session-events:0");
    assert_eq!(reason(&watch(&mut client, &watcher, &zero).await.unwrap_err()), "WATCH_CURSOR_EXPIRED");
    // The newest event's cursor lost nothing after it; watching from now resumes from there too.
    assert!(replay(&mut watch(&mut client, &watcher, &newest).await.unwrap()).await.0.is_empty());
    let mut fresh = watch(&mut client, &watcher, "").await.unwrap();
    let (replayed, head) = replay(&mut fresh).await;
    assert!(replayed.is_empty());
    assert_eq!(head, newest, "the head is the newest event ever recorded, pruned or not");
    let mut resumed = watch(&mut client, &watcher, &head).await.unwrap();
    assert!(replay(&mut resumed).await.0.is_empty());
    server.stop().await;
}

async fn streams_per_key_are_bounded(backend: Backend) {
    let server = TestServer::start_with(backend, |config| config.max_watch_streams_per_key = 2).await;
    let mut client = admin(&server).await;
    let watcher = key(&server, &[ApiScope::EventsWatch]).await;
    let watcher_id = server.app.services().store().list_api_keys().await.unwrap().last().unwrap().id.clone();
    let other = key(&server, &[ApiScope::EventsWatch]).await;
    let mut open = server.app.services().open_watch_streams();
    let first = live(&mut client, &watcher).await;
    let _second = live(&mut client, &watcher).await;
    let status = watch(&mut client, &watcher, "").await.unwrap_err();
    assert_eq!((status.code(), reason(&status).as_str()), (Code::ResourceExhausted, "TOO_MANY_WATCH_STREAMS"));
    let _other = live(&mut client, &other).await;

    // A client that goes away gives its place back, once the server has seen it go: wait for
    // that (the timeout only guards against a hang), then a new stream opens.
    assert_eq!(open.borrow_and_update().get(&watcher_id), Some(&2));
    drop(first);
    let released = open.wait_for(|open| open.get(&watcher_id).is_some_and(|count| *count < 2));
    tokio::time::timeout(Duration::from_secs(30), released).await.expect("the place was not given back").unwrap();
    let reopened = watch(&mut client, &watcher, "").await;
    assert!(reopened.is_ok(), "the closed stream's place was given back: {reopened:?}");
    server.stop().await;
}

async fn a_revoked_keys_stream_ends(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut auth = server.auth().await;
    let mut client = admin(&server).await;
    let watcher = key(&server, &[ApiScope::EventsWatch]).await;
    let store = server.app.services().store();
    let key_id = store.list_api_keys().await.unwrap().last().unwrap().id.clone();
    let mut stream = live(&mut client, &watcher).await;
    assert!(keyward::service::revoke_api_key(store, &key_id, server.clock.now()).await.unwrap());
    let user = register(&mut auth, "revoked-key@example.com").await;
    auth.logout(bearer(pb::LogoutRequest {}, &user.session_token)).await.unwrap();
    let status = tokio::time::timeout(STREAM_WAIT, stream.message())
        .await
        .expect("the stream neither ended nor sent")
        .expect_err("a revoked key's stream sends nothing more");
    assert_eq!((status.code(), reason(&status).as_str()), (Code::Unauthenticated, "API_KEY_INVALID"));
    server.stop().await;
}

/// PostgreSQL only: two replicas share one database; SQLite is one process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_replicas_revocations_reach_this_replicas_cache_at_once() {
    if crate::common::postgres_url().is_none() {
        eprintln!("TEST_DATABASE_URL is not set: two replicas need PostgreSQL");
        return;
    }
    let server =
        TestServer::start_with(Backend::Postgres, |config| config.session_cache_ttl_ms = LONG_CACHE_TTL_MS).await;
    let replica = server.start_replica().await;
    let replica_url = format!("http://{}", replica.local_addr());
    let mut auth_a = server.auth().await;
    let mut auth_b = AuthServiceClient::connect(replica_url.clone()).await.unwrap();
    let mut admin_a = admin(&server).await;
    let mut admin_b = AdminServiceClient::connect(replica_url).await.unwrap();
    let operator = root_key(&server).await;
    let mut stream_b = live(&mut admin_b, &operator).await;

    // The control: B answers from its cache. A row deleted behind Keyward's back (no event) is
    // still accepted by B until the TTL, which is far away.
    let control = register(&mut auth_a, "control@example.com").await;
    get_session(&mut auth_b, &control.session_token).await.unwrap();
    let db = Database::connect(server.db.url.as_str()).await.unwrap();
    db.execute_unprepared(&format!("DELETE FROM sessions WHERE id = '{}'", ids(&control).1)).await.unwrap();
    assert!(get_session(&mut auth_b, &control.session_token).await.is_ok(), "B did not answer from its cache");
    db.close().await.unwrap();

    // A revokes a session B has cached: once B's stream delivered the event, B refuses it.
    let user = register(&mut auth_a, "replicas@example.com").await;
    let doomed = login(&mut auth_a, "replicas@example.com", PASSWORD).await.unwrap();
    get_session(&mut auth_b, &doomed.session_token).await.unwrap();
    auth_a.logout(bearer(pb::LogoutRequest {}, &doomed.session_token)).await.unwrap();
    let (got, _) = events(&mut stream_b, 1).await;
    assert_eq!(got, [revoked(&ids(&user).0, &ids(&doomed).1)]);
    let status = get_session(&mut auth_b, &doomed.session_token).await.unwrap_err();
    assert_eq!(reason(&status), "SESSION_INVALID");
    // Also through the access token, which B checks against the same cache.
    let access = doomed.access_token.as_ref().unwrap().token.clone();
    assert_eq!(reason(&get_session(&mut auth_b, &access).await.unwrap_err()), "SESSION_INVALID");

    // DisableUser on A: every cached session of the user on B goes once the event is there.
    get_session(&mut auth_b, &user.session_token).await.unwrap();
    admin_a.disable_user(bearer(pb::DisableUserRequest { user_id: ids(&user).0 }, &operator)).await.unwrap();
    let (got, _) = events(&mut stream_b, 1).await;
    assert_eq!(got, [of_user(SessionEventKind::UserDisabled, &ids(&user).0)]);
    assert_eq!(reason(&get_session(&mut auth_b, &user.session_token).await.unwrap_err()), "SESSION_INVALID");

    // The listener survives losing its connection: events committed meanwhile are read once it
    // is back, and later ones arrive as before.
    let other = register(&mut auth_a, "reconnect@example.com").await;
    let cached = login(&mut auth_a, "reconnect@example.com", PASSWORD).await.unwrap();
    get_session(&mut auth_b, &cached.session_token).await.unwrap();
    let db = Database::connect(server.db.url.as_str()).await.unwrap();
    let terminated = db
        .execute_unprepared(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND query LIKE 'LISTEN %'",
        )
        .await
        .unwrap();
    assert!(terminated.rows_affected() >= 1, "no listener connection to cut");
    db.close().await.unwrap();
    auth_a.logout(bearer(pb::LogoutRequest {}, &cached.session_token)).await.unwrap();
    auth_a.logout(bearer(pb::LogoutRequest {}, &other.session_token)).await.unwrap();
    let (got, _) = events(&mut stream_b, 2).await;
    assert_eq!(got, [revoked(&ids(&other).0, &ids(&cached).1), revoked(&ids(&other).0, &ids(&other).1)]);
    assert_eq!(reason(&get_session(&mut auth_b, &cached.session_token).await.unwrap_err()), "SESSION_INVALID");

    drop(stream_b);
    replica.shutdown().await.unwrap();
    server.stop().await;
}
