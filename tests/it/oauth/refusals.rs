//! OAuth refusals against the real provider of `fake_provider.rs`: every callback and ID-token
//! failure with its code and reason and no rows written, unknown providers and foreign redirect
//! URIs, unreachable and hung providers, the callback's `iss`, per-provider redirect URIs, and a
//! disabled user. The happy paths and the linking rules are in `oauth/mod.rs`.

use super::*;

both_backends!(
    callback_failures_are_distinct_and_write_nothing,
    id_token_failures_are_refused_and_write_nothing,
    start_refuses_unknown_providers_and_foreign_redirect_uris,
    unreachable_providers_answer_unavailable_quickly,
    the_callback_iss_must_name_the_provider,
    providers_can_have_their_own_redirect_uris,
    a_disabled_user_cannot_sign_in_or_link_with_a_provider,
);

async fn callback_failures_are_distinct_and_write_nothing(backend: Backend) {
    let mut env = Env::start(backend, ProviderUser::new("turing", "turing@example.com", true)).await;
    let baseline = env.counts().await;

    // The user declines at the provider.
    env.provider.set(|b| b.deny = true);
    let back = env.authorize(Request::new(start(OIDC))).await;
    assert_eq!(back["error"], "access_denied");
    assert_refused(env.callback(&back).await, Code::PermissionDenied, "OAUTH_ACCESS_DENIED");
    assert_eq!(env.counts().await, baseline);
    env.provider.set(|b| b.deny = false);

    // Another provider error code is reported as such, only registered words echoed.
    let mut back = env.authorize(Request::new(start(GITHUB))).await;
    back.remove("code");
    back.insert("error".into(), "invalid_scope".into());
    let status = assert_refused(env.callback(&back).await, Code::FailedPrecondition, "OAUTH_PROVIDER_ERROR");
    assert_eq!(error_metadata(&status, "error"), "invalid_scope");
    assert_eq!(env.counts().await, baseline);

    // A state we never issued.
    let mut back = env.authorize(Request::new(start(GITHUB))).await;
    let issued = back["state"].clone();
    back.insert("state".into(), "A".repeat(43));
    assert_refused(env.callback(&back).await, Code::FailedPrecondition, "OAUTH_STATE_INVALID");
    // (the real one is still pending; finish it so it does not linger)
    back.insert("state".into(), issued);
    let done = env.callback(&back).await.unwrap();
    let baseline = env.counts().await;

    // A state used twice: the second use is refused before any token request.
    let requests = env.provider.token_requests();
    assert_refused(env.callback(&back).await, Code::FailedPrecondition, "OAUTH_STATE_INVALID");
    assert_eq!(env.provider.token_requests(), requests);
    assert_eq!(env.counts().await, baseline);
    assert!(done.user_created);

    // A state older than 10 minutes.
    let back = env.authorize(Request::new(start(GITHUB))).await;
    env.server.clock.advance(Duration::from_secs(10 * 60 + 1));
    assert_refused(env.callback(&back).await, Code::FailedPrecondition, "OAUTH_STATE_EXPIRED");
    assert_eq!(env.counts().await, baseline);
    assert_eq!(env.provider.token_requests(), requests);

    // The provider refuses the code (here: it is not the one it issued).
    let mut back = env.authorize(Request::new(start(GITHUB))).await;
    back.insert("code".into(), "not-the-code".into());
    assert_refused(env.callback(&back).await, Code::Unauthenticated, "OAUTH_TOKEN_EXCHANGE_FAILED");
    assert_eq!(env.counts().await, baseline);

    // Code injection (RFC 9700 §4.5): a code issued for one round-trip, brought back with the
    // state of another. The PKCE verifier of the second does not match the first's challenge.
    let first = env.authorize(Request::new(start(OIDC))).await;
    let mut second = env.authorize(Request::new(start(OIDC))).await;
    second.insert("code".into(), first["code"].clone());
    assert_refused(env.callback(&second).await, Code::Unauthenticated, "OAUTH_TOKEN_EXCHANGE_FAILED");
    assert_refused(env.callback(&first).await, Code::Unauthenticated, "OAUTH_TOKEN_EXCHANGE_FAILED");
    assert_eq!(env.counts().await, baseline);

    // …or our client credentials (here: a server configured with the wrong secret).
    let mut wrong = Env::start_with(backend, ProviderUser::new("turing", "turing@example.com", true), |config| {
        config.oidc[0].client_secret = "wrong".into();
    })
    .await;
    let before = wrong.counts().await;
    assert_refused(wrong.sign_in(OIDC).await, Code::Unauthenticated, "OAUTH_TOKEN_EXCHANGE_FAILED");
    assert_eq!(wrong.counts().await, before);
    wrong.stop().await;

    // Input that is not a callback at all: INVALID_ARGUMENT, and the state is not consumed.
    let back = env.authorize(Request::new(start(GITHUB))).await;
    let pending = env.counts().await;
    let cases: [(&str, &str, &str, &str, &str); 5] = [
        ("", "code", "", "state", "FIELD_REQUIRED"),
        ("not-ours", "code", "", "state", "FIELD_MALFORMED"),
        (&back["state"], "", "", "code", "FIELD_REQUIRED"),
        (&back["state"], &"c".repeat(5000), "", "code", "FIELD_TOO_LONG"),
        (&back["state"], "", &"e".repeat(1000), "error", "FIELD_TOO_LONG"),
    ];
    for (state, code, error, field, expected) in cases {
        let request = pb::OAuthCallbackRequest {
            state: state.into(),
            code: code.into(),
            error: error.into(),
            iss: String::new(),
        };
        let status = env.oauth.o_auth_callback(request).await.unwrap_err();
        assert_eq!((status.code(), reason(&status).as_str()), (Code::InvalidArgument, expected), "{field}");
        assert!(violations(&status).contains_key(field), "{field}: {status:?}");
    }
    assert_eq!(env.counts().await, pending);
    env.callback(&back).await.unwrap();
    env.stop().await;
}

async fn id_token_failures_are_refused_and_write_nothing(backend: Backend) {
    let mut env = Env::start(backend, ProviderUser::new("hamilton", "hamilton@example.com", true)).await;
    let baseline = env.counts().await;
    for (fault, check) in [
        (IdTokenFault::WrongKey, "signature"),
        (IdTokenFault::WrongAudience, "audience"),
        (IdTokenFault::WrongNonce, "nonce"),
        (IdTokenFault::Expired, "expired"),
        (IdTokenFault::WrongIssuer, "issuer"),
        (IdTokenFault::Missing, "missing"),
    ] {
        env.provider.set(|b| b.id_token_fault = fault);
        let status = assert_refused(env.sign_in(OIDC).await, Code::Unauthenticated, "OAUTH_ID_TOKEN_INVALID");
        assert_eq!(error_metadata(&status, "check"), check, "{fault:?}");
        assert_eq!(env.counts().await, baseline, "{fault:?}");
    }
    env.provider.set(|b| b.id_token_fault = IdTokenFault::None);
    assert!(env.sign_in(OIDC).await.unwrap().user_created);
    env.stop().await;
}

async fn start_refuses_unknown_providers_and_foreign_redirect_uris(backend: Backend) {
    let mut env = Env::start(backend, ProviderUser::new("x", "x@example.com", true)).await;
    let before = env.counts().await;
    let cases = [
        (pb::StartOAuthRequest { provider: "gitlab".into(), ..start(GITHUB) }, "provider", "OAUTH_PROVIDER_UNKNOWN"),
        (pb::StartOAuthRequest { provider: String::new(), ..start(GITHUB) }, "provider", "FIELD_REQUIRED"),
        (pb::StartOAuthRequest { provider: "p".repeat(500), ..start(GITHUB) }, "provider", "FIELD_TOO_LONG"),
        (
            // Exact matching: a longer path, another host, a different port all miss.
            pb::StartOAuthRequest { redirect_uri: format!("{REDIRECT_URI}/../evil"), ..start(GITHUB) },
            "redirect_uri",
            "OAUTH_REDIRECT_URI_NOT_ALLOWED",
        ),
        (
            pb::StartOAuthRequest { redirect_uri: "https://evil.example.com/auth/callback".into(), ..start(OIDC) },
            "redirect_uri",
            "OAUTH_REDIRECT_URI_NOT_ALLOWED",
        ),
        (
            pb::StartOAuthRequest { redirect_uri: "http://127.0.0.1:3001/auth/callback".into(), ..start(OIDC) },
            "redirect_uri",
            "OAUTH_REDIRECT_URI_NOT_ALLOWED",
        ),
        (pb::StartOAuthRequest { redirect_uri: String::new(), ..start(GITHUB) }, "redirect_uri", "FIELD_REQUIRED"),
        (pb::StartOAuthRequest { intent: 42, ..start(GITHUB) }, "intent", "FIELD_MALFORMED"),
    ];
    for (request, field, expected) in cases {
        let status = env.oauth.start_o_auth(request).await.unwrap_err();
        assert_eq!((status.code(), reason(&status).as_str()), (Code::InvalidArgument, expected), "{field}");
        assert!(violations(&status).contains_key(field), "{status:?}");
    }
    assert_eq!(env.counts().await, before);
    // The second allowed redirect URI works too.
    let request =
        pb::StartOAuthRequest { redirect_uri: "https://app.example.com/auth/callback".into(), ..start(GITHUB) };
    env.oauth.start_o_auth(request).await.unwrap();
    env.stop().await;
}

async fn unreachable_providers_answer_unavailable_quickly(backend: Backend) {
    // A port nobody listens on, and a listener that accepts connections but never answers.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let black_hole = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let black_hole_url = format!("http://{}", black_hole.local_addr().unwrap());
    let mut env = Env::start_with(backend, ProviderUser::new("y", "y@example.com", true), |config| {
        config.http_timeout_ms = 300;
        config.oidc[0].issuer = format!("http://{closed}");
        config.github.as_mut().unwrap().token_url = format!("{black_hole_url}/token");
    })
    .await;
    let before = env.counts().await;

    // OIDC: discovery fails at StartOAuth.
    let status = env.oauth.start_o_auth(start(OIDC)).await.unwrap_err();
    assert_eq!((status.code(), reason(&status).as_str()), (Code::Unavailable, "OAUTH_PROVIDER_UNAVAILABLE"));
    assert_eq!(env.counts().await, before);

    // GitHub: the token endpoint hangs; the call ends at the configured bound, not at 30 s.
    let back = env.authorize(Request::new(start(GITHUB))).await;
    let started = std::time::Instant::now();
    assert_refused(env.callback(&back).await, Code::Unavailable, "OAUTH_PROVIDER_UNAVAILABLE");
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    assert_eq!(env.counts().await, before);

    // The provider going away between the redirect and the callback.
    let mut env2 = Env::start(backend, ProviderUser::new("z", "z@example.com", true)).await;
    let back = env2.authorize(Request::new(start(OIDC))).await;
    let before = env2.counts().await;
    env2.provider.stop();
    let result = env2.callback(&back).await;
    assert_refused(result, Code::Unavailable, "OAUTH_PROVIDER_UNAVAILABLE");
    assert_eq!(env2.counts().await, RowCounts { ceremonies: before.ceremonies - 1, ..before });
    drop(black_hole);
    env2.stop().await;
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_of_a_hung_provider_is_fetched_once_and_its_failure_remembered() {
    // A provider that accepts connections and never answers; it counts them (one per request).
    let black_hole = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", black_hole.local_addr().unwrap());
    let connections = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let held = tokio::spawn({
        let connections = std::sync::Arc::clone(&connections);
        async move {
            let mut open = Vec::new();
            while let Ok((socket, _)) = black_hole.accept().await {
                connections.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                open.push(socket);
            }
        }
    });
    let env = Env::start_with(Backend::Sqlite, ProviderUser::new("h", "h@example.com", true), |config| {
        config.http_timeout_ms = 500;
        config.oidc[0].issuer = issuer;
    })
    .await;
    let mut calls = Vec::new();
    for _ in 0..40 {
        let mut oauth = env.oauth.clone();
        calls.push(tokio::spawn(async move { oauth.start_o_auth(start(OIDC)).await.unwrap_err() }));
    }
    for call in calls {
        let status = call.await.unwrap();
        assert_eq!((status.code(), reason(&status).as_str()), (Code::Unavailable, "OAUTH_PROVIDER_UNAVAILABLE"));
    }
    assert_eq!(connections.load(std::sync::atomic::Ordering::SeqCst), 1, "40 concurrent starts, one discovery");
    // Right after, the failure is remembered: no new request.
    let status = env.oauth.clone().start_o_auth(start(OIDC)).await.unwrap_err();
    assert_eq!(reason(&status), "OAUTH_PROVIDER_UNAVAILABLE");
    assert_eq!(connections.load(std::sync::atomic::Ordering::SeqCst), 1);
    held.abort();
    env.stop().await;
}

async fn the_callback_iss_must_name_the_provider(backend: Backend) {
    let mut env = Env::start(backend, ProviderUser::new("mixup", "mixup@example.com", true)).await;
    let issuer = env.provider.issuer();

    // An `iss` naming another authorization server (a mix-up attack): refused before any token
    // request, nothing written.
    env.provider.set(|b| b.iss = Some("https://attacker.example".into()));
    let back = env.authorize(Request::new(start(OIDC))).await;
    assert_eq!(back["iss"], "https://attacker.example");
    let (before, requests) = (env.counts().await, env.provider.token_requests());
    assert_refused(env.callback(&back).await, Code::FailedPrecondition, "OAUTH_ISSUER_MISMATCH");
    assert_eq!(env.counts().await, RowCounts { ceremonies: before.ceremonies - 1, ..before });
    assert_eq!(env.provider.token_requests(), requests);

    // GitHub has no issuer configured: any `iss` is unexpected.
    env.provider.set(|b| b.iss = Some(issuer.clone()));
    let back = env.authorize(Request::new(start(GITHUB))).await;
    assert_refused(env.callback(&back).await, Code::FailedPrecondition, "OAUTH_ISSUER_MISMATCH");

    // The provider's own issuer: accepted; none at all (the provider sends none): accepted.
    let back = env.authorize(Request::new(start(OIDC))).await;
    assert_eq!(back["iss"], issuer);
    assert!(env.callback(&back).await.unwrap().user_created);
    env.provider.set(|b| b.iss = None);
    assert!(!env.sign_in(OIDC).await.unwrap().user_created);

    // An oversized `iss` is bad input: the state is not consumed.
    env.provider.set(|b| b.iss = Some(issuer.clone()));
    let mut back = env.authorize(Request::new(start(OIDC))).await;
    back.insert("iss".into(), "i".repeat(5000));
    let pending = env.counts().await;
    let status = env.callback(&back).await.unwrap_err();
    assert_eq!((status.code(), reason(&status).as_str()), (Code::InvalidArgument, "FIELD_TOO_LONG"));
    assert!(violations(&status).contains_key("iss"));
    assert_eq!(env.counts().await, pending);
    env.stop().await;

    // With GitHub's issuer configured, GitHub's `iss` is accepted.
    let mut env = Env::start_with(backend, ProviderUser::new("gh", "gh@example.com", true), |config| {
        config.github.as_mut().unwrap().issuer = Some("https://github.com/login/oauth".into());
    })
    .await;
    env.provider.set(|b| b.iss = Some("https://github.com/login/oauth".into()));
    assert!(env.sign_in(GITHUB).await.unwrap().user_created);
    env.stop().await;
}

async fn providers_can_have_their_own_redirect_uris(backend: Backend) {
    const GITHUB_ONLY: &str = "https://github-app.example.com/callback";
    let mut env = Env::start_with(backend, ProviderUser::new("own", "own@example.com", true), |config| {
        config.github.as_mut().unwrap().redirect_uris = vec![GITHUB_ONLY.into()];
    })
    .await;
    let before = env.counts().await;
    // GitHub accepts only its own list now; the OIDC provider still the shared one.
    let status = env.oauth.start_o_auth(start(GITHUB)).await.unwrap_err();
    assert_eq!((status.code(), reason(&status).as_str()), (Code::InvalidArgument, "OAUTH_REDIRECT_URI_NOT_ALLOWED"));
    let oidc_only = pb::StartOAuthRequest { redirect_uri: GITHUB_ONLY.into(), ..start(OIDC) };
    let status = env.oauth.start_o_auth(oidc_only).await.unwrap_err();
    assert_eq!(reason(&status), "OAUTH_REDIRECT_URI_NOT_ALLOWED");
    assert_eq!(env.counts().await, before);
    env.oauth.start_o_auth(pb::StartOAuthRequest { redirect_uri: GITHUB_ONLY.into(), ..start(GITHUB) }).await.unwrap();
    env.oauth.start_o_auth(start(OIDC)).await.unwrap();
    env.stop().await;
}

/// DisableUser blocks provider sign-in too: an account already linked (rule 1) and linking by a
/// verified email (rule 3) both answer USER_DISABLED, with no session and no account written.
async fn a_disabled_user_cannot_sign_in_or_link_with_a_provider(backend: Backend) {
    let user = ProviderUser::new("octo", "octo@example.com", true);
    let mut env = Env::start_with(backend, user, |config| config.oidc[0].allow_email_account_linking = true).await;
    let first = env.sign_in(GITHUB).await.unwrap();
    let user_id = first.signed_in.unwrap().user.unwrap().id;
    let mut admin = crate::admin::admin(&env.server).await;
    let key = crate::admin::root_key(&env.server).await;
    admin.disable_user(bearer(pb::DisableUserRequest { user_id: user_id.clone() }, &key)).await.unwrap();

    let before = env.counts().await;
    assert_refused(env.sign_in(GITHUB).await, Code::PermissionDenied, "USER_DISABLED");
    assert_refused(env.sign_in(OIDC).await, Code::PermissionDenied, "USER_DISABLED");
    let after = env.counts().await;
    assert_eq!((after.sessions, after.accounts), (before.sessions, before.accounts), "nothing signed in or linked");

    admin.enable_user(bearer(pb::EnableUserRequest { user_id: user_id.clone() }, &key)).await.unwrap();
    let again = env.sign_in(GITHUB).await.unwrap();
    assert_eq!(again.signed_in.unwrap().user.unwrap().id, user_id);
    env.stop().await;
}
