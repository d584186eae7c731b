//! The cache of verified access tokens skips only the signature check: a cached token of a
//! revoked session is refused at once (on this replica and, with the session cache off, on
//! another), and a cached token past its expiry is refused on the service clock.

use std::time::Duration;

use keyward::pb;

use crate::common::{Backend, TestServer, bearer, both_backends, get_session, reason, register};

both_backends!(
    a_revoked_sessions_cached_access_token_is_refused_at_once,
    an_expired_access_token_is_refused_though_cached,
    a_revocation_on_another_replica_shows_through_the_cache,
);

async fn a_revoked_sessions_cached_access_token_is_refused_at_once(backend: Backend) {
    let server = TestServer::start_with(backend, |config| config.session_cache_ttl_ms = 60_000).await;
    let mut auth = server.auth().await;
    let signed_in = register(&mut auth, "cached-jwt@example.com").await;
    let access = signed_in.access_token.unwrap().token;
    // Twice: the second answer comes from both caches.
    for _ in 0..2 {
        let answer = get_session(&mut auth, &access).await.unwrap();
        assert_eq!(answer.session.unwrap().id, signed_in.session.as_ref().unwrap().id);
    }

    auth.logout(bearer(pb::LogoutRequest {}, &signed_in.session_token)).await.unwrap();

    assert_eq!(reason(&get_session(&mut auth, &access).await.unwrap_err()), "SESSION_INVALID");
    server.stop().await;
}

async fn an_expired_access_token_is_refused_though_cached(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut auth = server.auth().await;
    let signed_in = register(&mut auth, "expiring-jwt@example.com").await;
    let access = signed_in.access_token.unwrap().token;
    get_session(&mut auth, &access).await.unwrap();
    // Just inside the lifetime and its leeway: still good (and still cached).
    let leeway = server.config.jwt().leeway;
    server.clock.advance(Duration::from_secs(server.config.access_token_ttl_secs) + leeway - Duration::from_secs(5));
    get_session(&mut auth, &access).await.unwrap();

    server.clock.advance(Duration::from_secs(5));

    assert_eq!(reason(&get_session(&mut auth, &access).await.unwrap_err()), "SESSION_INVALID");
    // The session itself lives on.
    get_session(&mut auth, &signed_in.session_token).await.unwrap();
    server.stop().await;
}

async fn a_revocation_on_another_replica_shows_through_the_cache(backend: Backend) {
    // Without the session cache, a revocation anywhere shows everywhere at once.
    let server = TestServer::start_with(backend, |config| {
        config.session_cache_ttl_ms = 0;
        // Tokens name one issuer for both replicas (the default derives it from the port).
        config.issuer = Some("https://keyward.test".into());
    })
    .await;
    let replica = server.start_replica().await;
    let mut here = server.auth().await;
    let mut there =
        pb::auth_service_client::AuthServiceClient::connect(format!("http://{}", replica.local_addr())).await.unwrap();
    let signed_in = register(&mut here, "replicated-jwt@example.com").await;
    let access = signed_in.access_token.unwrap().token;
    for _ in 0..2 {
        get_session(&mut there, &access).await.unwrap();
    }

    here.logout(bearer(pb::LogoutRequest {}, &signed_in.session_token)).await.unwrap();

    assert_eq!(reason(&get_session(&mut there, &access).await.unwrap_err()), "SESSION_INVALID");
    replica.shutdown().await.unwrap();
    server.stop().await;
}
