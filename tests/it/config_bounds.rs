//! Config bounds: every duration has an upper bound checked at start, so date arithmetic on
//! request paths stays in range (and is checked anyway). A huge `session_max_age_secs` used to
//! pass validation and panic every sign-in on `now + max_age`.

use keyward::config::MAX_SESSION_SECS;

use crate::common::{Backend, TestDb, TestServer, both_backends, get_session, register, test_config};

both_backends!(out_of_range_durations_stop_start_up, the_largest_allowed_durations_sign_in);

async fn out_of_range_durations_stop_start_up(backend: Backend) {
    let db = TestDb::create(backend).await;
    for (setting, tweak) in [
        (
            "session_max_age_secs",
            Box::new(|c: &mut keyward::Config| c.session_max_age_secs = u64::MAX) as Box<dyn Fn(&mut _)>,
        ),
        ("session_idle_timeout_secs", Box::new(|c: &mut keyward::Config| c.session_idle_timeout_secs = u64::MAX)),
        ("signing_key_reload_secs", Box::new(|c: &mut keyward::Config| c.signing_key_reload_secs = u64::MAX)),
        ("ceremony_ttl_secs", Box::new(|c: &mut keyward::Config| c.ceremony_ttl_secs = u64::MAX)),
    ] {
        let mut config = test_config(&db);
        tweak(&mut config);
        let listener = tokio::net::TcpListener::bind(config.listen).await.unwrap();
        let err = keyward::App::spawn(config, listener).await.expect_err(setting).to_string();
        assert!(err.contains(setting) && !err.contains('\n'), "{setting}: {err}");
    }
}

async fn the_largest_allowed_durations_sign_in(backend: Backend) {
    let server = TestServer::start_with(backend, |config| {
        config.session_idle_timeout_secs = MAX_SESSION_SECS;
        config.session_max_age_secs = MAX_SESSION_SECS;
    })
    .await;
    let mut auth = server.auth().await;
    let signed_in = register(&mut auth, "long-lived@example.com").await;
    let session = get_session(&mut auth, &signed_in.session_token).await.unwrap().session.unwrap();
    let lifetime = session.expire_time.unwrap().seconds - session.create_time.unwrap().seconds;
    assert_eq!(u64::try_from(lifetime).unwrap(), MAX_SESSION_SECS);
    server.stop().await;
}
