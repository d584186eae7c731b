//! The per-replica session cache never keeps a session alive that this replica ended: password
//! change and every revocation path drop what they end at once (a revoked session used to add a
//! passkey within the 1 s TTL after ChangePassword).

use keyward::pb;

use crate::{
    common::{
        Backend, PASSWORD, TestServer, bearer, both_backends, get_session, login, mail_delivered, reason, register,
    },
    passkeys::passkeys,
};

both_backends!(change_password_drops_the_cached_sessions_it_ends);

async fn change_password_drops_the_cached_sessions_it_ends(backend: Backend) {
    // A long TTL: anything still accepted afterwards came from the cache.
    let server = TestServer::start_with(backend, |config| config.session_cache_ttl_ms = 60_000).await;
    let mut auth = server.auth().await;
    let mut passkey_client = passkeys(&server).await;
    let keep = register(&mut auth, "cache@example.com").await.session_token;
    let stolen = login(&mut auth, "cache@example.com", PASSWORD).await.unwrap().session_token;
    // The intruder's session is in this replica's cache.
    get_session(&mut auth, &stolen).await.unwrap();

    auth.change_password(bearer(
        pb::ChangePasswordRequest { current_password: PASSWORD.into(), new_password: "quiet-harbor-tram-58".into() },
        &keep,
    ))
    .await
    .unwrap();

    assert_eq!(reason(&get_session(&mut auth, &stolen).await.unwrap_err()), "SESSION_INVALID");
    // The "password changed" notice leaves the outbox on its own time: let it go first.
    mail_delivered(&server).await;
    let before = server.app.services().store().row_counts().await.unwrap();
    let err = passkey_client
        .start_passkey_registration(bearer(pb::StartPasskeyRegistrationRequest {}, &stolen))
        .await
        .unwrap_err();
    assert_eq!(reason(&err), "SESSION_INVALID");
    assert_eq!(server.app.services().store().row_counts().await.unwrap(), before, "nothing was written");
    assert!(get_session(&mut auth, &keep).await.is_ok());
    server.stop().await;
}
