//! OAuth sign-in against a real provider on 127.0.0.1 (see fake_provider.rs): the test plays the
//! browser — StartOAuth, GET the authorization URL without following redirects, read `code` and
//! `state` from the Location header, OAuthCallback — and checks every linking rule and every
//! failure, each failure with its code, its reason and no rows written.

use std::{collections::HashMap, time::Duration};

use keyward::{
    config::{GitHubConfig, OAuthConfig, OidcConfig},
    pb::{self, o_auth_service_client::OAuthServiceClient},
    store::RowCounts,
};
use tonic::{Code, Request, Response, Status, transport::Channel};
use tonic_types::StatusExt;

mod refusals;

use crate::{
    common::{Backend, TestServer, bearer, both_backends, get_session, reason, register, violations},
    fake_provider::{CLIENT_ID, CLIENT_SECRET, FakeProvider, IdTokenFault, ProviderUser},
};

/// The web app's callback page (never actually fetched: the test reads the redirect).
pub(crate) const REDIRECT_URI: &str = "http://127.0.0.1:3000/auth/callback";
pub(crate) const OIDC: &str = "acme";
const GITHUB: &str = "github";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_providers_nothing_is_offered() {
    let server = TestServer::start(Backend::Sqlite).await;
    let mut oauth = OAuthServiceClient::connect(server.base_url()).await.unwrap();
    let listed = oauth.list_providers(pb::ListProvidersRequest {}).await.unwrap().into_inner();
    assert!(listed.providers.is_empty());
    let status = oauth.start_o_auth(start(GITHUB)).await.unwrap_err();
    assert_eq!((status.code(), reason(&status).as_str()), (Code::InvalidArgument, "OAUTH_PROVIDER_UNKNOWN"));
    server.stop().await;
}

both_backends!(
    github_signs_up_then_signs_in_to_the_same_user,
    oidc_signs_up_and_reads_userinfo_when_the_id_token_has_no_email,
    existing_email_links_only_when_verified_and_allowed,
    link_intent_links_to_the_signed_in_user_only,
    linked_accounts_list_and_unlink_but_never_the_last_method,
    start_on_one_replica_finish_on_another,
    linking_and_unlinking_are_factor_changes,
);

pub(crate) fn oauth_config(provider: &FakeProvider) -> OAuthConfig {
    let issuer = provider.issuer();
    OAuthConfig {
        redirect_uris: vec![REDIRECT_URI.into(), "https://app.example.com/auth/callback".into()],
        http_timeout_ms: 2_000,
        github: Some(GitHubConfig {
            client_id: CLIENT_ID.into(),
            client_secret: CLIENT_SECRET.into(),
            authorization_url: format!("{issuer}/authorize"),
            token_url: format!("{issuer}/token"),
            api_url: issuer.clone(),
            ..GitHubConfig::default()
        }),
        oidc: vec![OidcConfig {
            id: OIDC.into(),
            name: Some("Acme SSO".into()),
            issuer,
            client_id: CLIENT_ID.into(),
            client_secret: CLIENT_SECRET.into(),
            scopes: vec!["email".into(), "profile".into()],
            allow_email_account_linking: false,
            redirect_uris: Vec::new(),
        }],
    }
}

/// A Keyward server configured for a fake provider, plus the clients a test needs.
struct Env {
    server: TestServer,
    provider: FakeProvider,
    oauth: OAuthServiceClient<Channel>,
}

impl Env {
    async fn start(backend: Backend, user: ProviderUser) -> Self {
        Self::start_with(backend, user, |_| {}).await
    }

    async fn start_with(backend: Backend, user: ProviderUser, tweak: impl FnOnce(&mut OAuthConfig)) -> Self {
        let provider = FakeProvider::start(user).await;
        let mut oauth_config = oauth_config(&provider);
        tweak(&mut oauth_config);
        let server = TestServer::start_with(backend, |config| config.oauth = oauth_config).await;
        let oauth = OAuthServiceClient::connect(server.base_url()).await.unwrap();
        Self { server, provider, oauth }
    }

    /// Row counts, audit rows left out: a refused callback writes exactly its `oauth.refused`
    /// row (refusal_audit.rs counts them) and nothing else, which is what these tests check.
    /// (And once the link notices queued so far are delivered.)
    async fn counts(&self) -> RowCounts {
        crate::common::mail_delivered(&self.server).await;
        RowCounts { audit_events: 0, ..self.server.app.services().store().row_counts().await.unwrap() }
    }

    /// StartOAuth, then the browser's visit to the provider: the query of the redirect back.
    async fn authorize(&mut self, request: Request<pb::StartOAuthRequest>) -> HashMap<String, String> {
        let started = self.oauth.start_o_auth(request).await.unwrap().into_inner();
        let back = follow(&started.authorization_url).await;
        assert_eq!(back["state"], started.state, "the provider echoes the state");
        back
    }

    async fn callback(&mut self, back: &HashMap<String, String>) -> Result<pb::OAuthCallbackResponse, Status> {
        self.callback_as(back, None).await.map(Response::into_inner)
    }

    async fn callback_as(
        &mut self,
        back: &HashMap<String, String>,
        session_token: Option<&str>,
    ) -> Result<Response<pb::OAuthCallbackResponse>, Status> {
        let message = pb::OAuthCallbackRequest {
            state: back.get("state").cloned().unwrap_or_default(),
            code: back.get("code").cloned().unwrap_or_default(),
            error: back.get("error").cloned().unwrap_or_default(),
            iss: back.get("iss").cloned().unwrap_or_default(),
        };
        let request = match session_token {
            Some(token) => bearer(message, token),
            None => Request::new(message),
        };
        self.oauth.o_auth_callback(request).await
    }

    /// The whole round-trip for signing in with `provider`.
    async fn sign_in(&mut self, provider: &str) -> Result<pb::OAuthCallbackResponse, Status> {
        let back = self.authorize(Request::new(start(provider))).await;
        self.callback(&back).await
    }

    async fn stop(self) {
        self.server.stop().await;
    }
}

/// Marks the user's email verified, as a verification email flow would.
async fn mark_email_verified(env: &Env, user_id: &str) {
    use sea_orm::ConnectionTrait;
    let db = sea_orm::Database::connect(&env.server.db.url).await.unwrap();
    db.execute_unprepared(&format!("UPDATE users SET email_verified = created_at WHERE id = '{user_id}'"))
        .await
        .unwrap();
    db.close().await.unwrap();
}

pub(crate) fn start(provider: &str) -> pb::StartOAuthRequest {
    pb::StartOAuthRequest {
        provider: provider.into(),
        redirect_uri: REDIRECT_URI.into(),
        intent: pb::IdentityProviderIntent::SignIn.into(),
    }
}

fn link(provider: &str) -> pb::StartOAuthRequest {
    pb::StartOAuthRequest { intent: pb::IdentityProviderIntent::Link.into(), ..start(provider) }
}

/// The browser: GET the authorization URL, do not follow the redirect, return its query.
pub(crate) async fn follow(url: &str) -> HashMap<String, String> {
    let browser = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let response = browser.get(url).send().await.unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::FOUND, "{}", response.text().await.unwrap_or_default());
    let location = response.headers()[reqwest::header::LOCATION].to_str().unwrap();
    let location = url::Url::parse(location).unwrap();
    assert!(location.as_str().starts_with(REDIRECT_URI), "{location}");
    location.query_pairs().into_owned().collect()
}

fn error_metadata(status: &Status, key: &str) -> String {
    status.get_details_error_info().unwrap().metadata.get(key).cloned().unwrap_or_default()
}

fn assert_refused(result: Result<impl std::fmt::Debug, Status>, code: Code, expected_reason: &str) -> Status {
    let status = result.expect_err("the call should have been refused");
    assert_eq!((status.code(), reason(&status).as_str()), (code, expected_reason), "{status:?}");
    status
}

async fn github_signs_up_then_signs_in_to_the_same_user(backend: Backend) {
    let mut env = Env::start(backend, ProviderUser::new("octo", "Octo@Example.com", true)).await;

    let providers = env.oauth.list_providers(pb::ListProvidersRequest {}).await.unwrap().into_inner().providers;
    let listed: Vec<_> = providers.iter().map(|p| (p.id.as_str(), p.display_name.as_str(), p.kind())).collect();
    assert_eq!(
        listed,
        [("github", "GitHub", pb::IdentityProviderKind::Github), (OIDC, "Acme SSO", pb::IdentityProviderKind::Oidc)]
    );

    let before = env.counts().await;
    let started = env.oauth.start_o_auth(start(GITHUB)).await.unwrap().into_inner();
    // RFC 9700: PKCE S256, the exact redirect URI and a 256-bit state go to the provider.
    let url = url::Url::parse(&started.authorization_url).unwrap();
    let params: HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(params["code_challenge_method"], "S256");
    assert_eq!(params["redirect_uri"], REDIRECT_URI);
    assert_eq!(params["state"], started.state);
    assert_eq!(started.state.len(), 43);
    assert_eq!(env.counts().await.ceremonies, before.ceremonies + 1);

    let back = follow(&started.authorization_url).await;
    let response = env.callback_as(&back, None).await.unwrap();
    let cookie = response.metadata().get("set-cookie").unwrap().to_str().unwrap().to_owned();
    let first = response.into_inner();
    assert!(first.user_created);
    let signed_in = first.signed_in.unwrap();
    assert!(cookie.starts_with(&format!("{}={}", crate::common::COOKIE, signed_in.session_token)), "{cookie}");
    assert!(cookie.contains("HttpOnly"));
    let user = signed_in.user.unwrap();
    // Only the primary *verified* address counts; it is normalized like any email.
    assert_eq!(user.email, "octo@example.com");
    assert!(user.email_verify_time.is_some());
    assert_eq!(user.name, "User octo");
    assert_eq!(user.image, "https://avatars.example.com/octo.png");
    assert!(!user.has_password);
    assert!(signed_in.access_token.is_some());
    let account = first.account.unwrap();
    assert_eq!(account.provider, "github");
    let after = env.counts().await;
    assert_eq!(
        (after.users, after.accounts, after.sessions),
        (before.users + 1, before.accounts + 1, before.sessions + 1)
    );
    assert_eq!(after.ceremonies, before.ceremonies, "the state was consumed");

    // The provider's tokens are kept with the account.
    let stored = env.server.app.services().store().find_account("github", &account.provider_account_id).await;
    let stored = stored.unwrap().unwrap();
    assert!(stored.access_token.is_some() && stored.refresh_token.is_some() && stored.expires_at.is_some());
    assert_eq!(stored.kind, "oauth");

    // The session works like any other.
    let mut auth = env.server.auth().await;
    let seen = get_session(&mut auth, &signed_in.session_token).await.unwrap();
    assert_eq!(seen.user.unwrap().id, user.id);

    // Second time: the same user, a new session, no new user or account. The new access token
    // is stored; the refresh token, which the provider did not send again, is kept.
    env.provider.set(|b| b.send_refresh_token = false);
    let second = env.sign_in(GITHUB).await.unwrap();
    let restored = env.server.app.services().store().find_account("github", &account.provider_account_id).await;
    let restored = restored.unwrap().unwrap();
    assert_ne!(restored.access_token, stored.access_token);
    assert_eq!(restored.refresh_token, stored.refresh_token);
    assert!(!second.user_created);
    assert_eq!(second.signed_in.unwrap().user.unwrap().id, user.id);
    assert_eq!(second.account.unwrap().id, account.id);
    let again = env.counts().await;
    assert_eq!((again.users, again.accounts, again.sessions), (after.users, after.accounts, after.sessions + 1));
    env.stop().await;
}

async fn oidc_signs_up_and_reads_userinfo_when_the_id_token_has_no_email(backend: Backend) {
    let mut env = Env::start(backend, ProviderUser::new("sub-1", "lin@example.com", false)).await;
    env.provider.set(|b| b.email_in_id_token = false);
    // An email the provider did not verify claims no address: no user, nothing written.
    let before = env.counts().await;
    let status = assert_refused(env.sign_in(OIDC).await, Code::FailedPrecondition, "OAUTH_EMAIL_UNVERIFIED");
    assert!(!status.message().contains("lin@"));
    assert_eq!(env.counts().await, before);
    // Verified at the provider (here only in UserInfo): the user is created, verified.
    env.provider.set(|b| b.user.email_verified = true);
    let done = env.sign_in(OIDC).await.unwrap();
    assert!(done.user_created);
    let user = done.signed_in.unwrap().user.unwrap();
    assert_eq!(user.email, "lin@example.com");
    assert!(user.email_verify_time.is_some());
    assert_eq!(user.name, "User sub-1");
    let account = done.account.unwrap();
    assert_eq!((account.provider.as_str(), account.provider_account_id.as_str()), (OIDC, "sub-1"));
    let stored = env.server.app.services().store().find_account(OIDC, "sub-1").await.unwrap().unwrap();
    assert_eq!(stored.kind, "oidc");
    assert!(stored.id_token.is_some_and(|t| t.split('.').count() == 3));
    env.stop().await;
}

async fn existing_email_links_only_when_verified_and_allowed(backend: Backend) {
    // Acme allows linking by verified email; GitHub (default) does not.
    let mut env = Env::start_with(backend, ProviderUser::new("ada", "ada@example.com", false), |config| {
        config.oidc[0].allow_email_account_linking = true;
    })
    .await;
    let mut auth = env.server.auth().await;
    let existing = register(&mut auth, "ada@example.com").await.user.unwrap();

    // Allowed, but the provider does not say the email is verified: refused, nothing written.
    let before = env.counts().await;
    let status = assert_refused(env.sign_in(OIDC).await, Code::FailedPrecondition, "OAUTH_ACCOUNT_NOT_LINKED");
    assert!(!status.message().contains("ada@"), "the message does not echo the email");
    assert_eq!(env.counts().await, before);

    // Verified, but GitHub's config does not allow linking by email: refused, nothing written.
    env.provider.set(|b| {
        b.user.email_verified = true;
        b.user.github_emails = vec![("ada@example.com".into(), true, true)];
    });
    assert_refused(env.sign_in(GITHUB).await, Code::FailedPrecondition, "OAUTH_ACCOUNT_NOT_LINKED");
    assert_eq!(env.counts().await, before);

    // Verified by the provider and allowed, but the existing account never verified the address
    // with Keyward (anyone could have registered it with a password first): not linked.
    let result = env.sign_in(OIDC).await;
    assert_refused(result, Code::FailedPrecondition, "OAUTH_ACCOUNT_NOT_LINKED");
    assert_eq!(env.counts().await, before);

    // Verified on both sides and allowed: linked to the existing user, who is signed in.
    mark_email_verified(&env, &existing.id).await;
    let done = env.sign_in(OIDC).await.unwrap();
    assert!(!done.user_created);
    assert_eq!(done.signed_in.unwrap().user.unwrap().id, existing.id);
    let after = env.counts().await;
    assert_eq!((after.users, after.accounts, after.sessions), (before.users, before.accounts + 1, before.sessions + 1));
    let kinds = env.server.app.services().store().audit_event_kinds(&existing.id).await.unwrap();
    assert!(kinds.contains(&"account.linked".to_owned()), "{kinds:?}");

    // GitHub with its primary email unverified and no other usable one: no user can be made.
    env.provider.set(|b| {
        b.user.sub = "ada-2".into();
        b.user.github_id = 77;
        b.user.github_emails = vec![("someone@example.net".into(), true, false)];
    });
    let before = env.counts().await;
    assert_refused(env.sign_in(GITHUB).await, Code::FailedPrecondition, "OAUTH_EMAIL_UNAVAILABLE");
    assert_eq!(env.counts().await, before);
    env.stop().await;
}

async fn link_intent_links_to_the_signed_in_user_only(backend: Backend) {
    let mut env = Env::start(backend, ProviderUser::new("grace", "grace@provider.example", true)).await;
    let mut auth = env.server.auth().await;
    let me = register(&mut auth, "grace@example.com").await;
    let other = register(&mut auth, "mallory@example.com").await;
    let me_id = me.user.as_ref().unwrap().id.clone();

    // Linking needs a session at the start…
    let before = env.counts().await;
    let status = env.oauth.start_o_auth(link(GITHUB)).await.unwrap_err();
    assert_eq!((status.code(), reason(&status).as_str()), (Code::Unauthenticated, "NOT_SIGNED_IN"));
    assert_eq!(env.counts().await, before);

    // …and the same user's session at the callback: finishing it signed out, or as someone else,
    // is refused (the state alone must not link a provider account to whoever started it).
    for token in [None, Some(other.session_token.as_str())] {
        let back = env.authorize(bearer(link(GITHUB), &me.session_token)).await;
        let before = env.counts().await;
        let result = env.callback_as(&back, token).await;
        assert_refused(result, Code::PermissionDenied, "OAUTH_LINK_USER_MISMATCH");
        let after = env.counts().await;
        assert_eq!(after, RowCounts { ceremonies: before.ceremonies - 1, ..before });
    }

    // An access token proves who calls, but is not enough to add a way to sign in.
    let access = me.access_token.as_ref().unwrap().token.clone();
    let status = env.oauth.start_o_auth(bearer(link(GITHUB), &access)).await.unwrap_err();
    assert_eq!((status.code(), reason(&status).as_str()), (Code::PermissionDenied, "SESSION_TOKEN_REQUIRED"));
    let back = env.authorize(bearer(link(GITHUB), &me.session_token)).await;
    let result = env.callback_as(&back, Some(&access)).await;
    assert_refused(result, Code::PermissionDenied, "SESSION_TOKEN_REQUIRED");

    // The real thing: the provider email differs from the user's, the link happens anyway.
    let back = env.authorize(bearer(link(GITHUB), &me.session_token)).await;
    let before = env.counts().await;
    let done = env.callback_as(&back, Some(&me.session_token)).await.unwrap().into_inner();
    assert!(!done.user_created);
    let signed_in = done.signed_in.unwrap();
    assert_eq!(signed_in.user.unwrap().id, me_id);
    // The session that asked for the link is replaced by the one the callback returned.
    let after = env.counts().await;
    assert_eq!((after.users, after.accounts, after.sessions), (before.users, before.accounts + 1, before.sessions));
    let status = get_session(&mut auth, &me.session_token).await.unwrap_err();
    assert_eq!(reason(&status), "SESSION_INVALID");
    let me = pb::SignedIn { session_token: signed_in.session_token, ..me };
    let listed = env
        .oauth
        .list_linked_accounts(bearer(pb::ListLinkedAccountsRequest::default(), &me.session_token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.accounts.len(), 1);
    assert_eq!(listed.accounts[0].provider, GITHUB);

    // A browser links with its session cookie (over grpc-web, from the app's page) rather than a
    // bearer token.
    let back = env.authorize(bearer(link(OIDC), &me.session_token)).await;
    let (transport, uri) = crate::common::grpc_web(&env.server);
    let mut web = OAuthServiceClient::with_origin(transport, uri);
    let request = pb::OAuthCallbackRequest {
        state: back["state"].clone(),
        code: back["code"].clone(),
        error: String::new(),
        iss: String::new(),
    };
    let request = crate::common::from_page(request, &env.server.base_url(), Some(&me.session_token));
    let done = web.o_auth_callback(request).await.unwrap().into_inner();
    assert_eq!(done.account.unwrap().provider, OIDC);
    assert_eq!(done.signed_in.unwrap().user.unwrap().id, me_id);
    assert_eq!(reason(&get_session(&mut auth, &me.session_token).await.unwrap_err()), "SESSION_INVALID");

    // Signing in with it now lands in my account.
    let signed = env.sign_in(GITHUB).await.unwrap();
    assert_eq!(signed.signed_in.unwrap().user.unwrap().id, me_id);

    // Another user cannot link the same provider account.
    let back = env.authorize(bearer(link(GITHUB), &other.session_token)).await;
    let before = env.counts().await;
    let result = env.callback_as(&back, Some(&other.session_token)).await;
    assert_refused(result, Code::FailedPrecondition, "OAUTH_ACCOUNT_LINKED_TO_OTHER_USER");
    assert_eq!(env.counts().await, RowCounts { ceremonies: before.ceremonies - 1, ..before });
    env.stop().await;
}

async fn linked_accounts_list_and_unlink_but_never_the_last_method(backend: Backend) {
    let mut env = Env::start(backend, ProviderUser::new("hopper", "hopper@example.com", true)).await;
    // A user with no password: GitHub is their only way in.
    let created = env.sign_in(GITHUB).await.unwrap();
    let token = created.signed_in.unwrap().session_token;
    let github_account = created.account.unwrap();

    let before = env.counts().await;
    let request =
        bearer(pb::UnlinkAccountRequest { account_id: github_account.id.clone(), keep_other_sessions: false }, &token);
    let result = env.oauth.unlink_account(request).await;
    assert_refused(result, Code::FailedPrecondition, "LAST_SIGN_IN_METHOD");
    assert_eq!(env.counts().await, before);

    // Link a second provider, then list one per page, newest first.
    let back = env.authorize(bearer(link(OIDC), &token)).await;
    let linked = env.callback_as(&back, Some(&token)).await.unwrap().into_inner();
    let linked_signed_in = linked.signed_in.unwrap();
    let token = linked_signed_in.session_token;
    let access = linked_signed_in.access_token.unwrap().token;
    let linked = linked.account.unwrap();
    let unlink =
        |id: &str| bearer(pb::UnlinkAccountRequest { account_id: id.into(), keep_other_sessions: false }, &token);
    let list = |page_token: String| bearer(pb::ListLinkedAccountsRequest { page_size: 1, page_token }, &token);
    let first = env.oauth.list_linked_accounts(list(String::new())).await.unwrap().into_inner();
    assert_eq!(first.accounts.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(), [linked.id.as_str()]);
    assert!(!first.next_page_token.is_empty());
    let second = env.oauth.list_linked_accounts(list(first.next_page_token)).await.unwrap().into_inner();
    assert_eq!(second.accounts.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(), [github_account.id.as_str()]);
    assert!(second.next_page_token.is_empty());

    // Bad input and other people's (or no) accounts.
    let status = env.oauth.list_linked_accounts(list("garbage!".into())).await.unwrap_err();
    assert_eq!((status.code(), reason(&status).as_str()), (Code::InvalidArgument, "INVALID_PAGE_TOKEN"));
    let status = env.oauth.unlink_account(unlink("")).await.unwrap_err();
    assert_eq!((status.code(), reason(&status).as_str()), (Code::InvalidArgument, "FIELD_REQUIRED"));
    assert!(violations(&status).contains_key("account_id"));
    let status = env.oauth.unlink_account(unlink(&"x".repeat(5000))).await.unwrap_err();
    assert_eq!(reason(&status), "FIELD_TOO_LONG");
    let status = env.oauth.unlink_account(unlink("01900000-0000-7000-8000-000000000000")).await.unwrap_err();
    assert_eq!((status.code(), reason(&status).as_str()), (Code::NotFound, "LINKED_ACCOUNT_NOT_FOUND"));
    let mut auth = env.server.auth().await;
    let stranger = register(&mut auth, "stranger@example.com").await;
    let status = env
        .oauth
        .unlink_account(bearer(
            pb::UnlinkAccountRequest { account_id: linked.id.clone(), keep_other_sessions: false },
            &stranger.session_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    let status = env
        .oauth
        .unlink_account(pb::UnlinkAccountRequest { account_id: linked.id.clone(), keep_other_sessions: false })
        .await
        .unwrap_err();
    assert_eq!(reason(&status), "NOT_SIGNED_IN");
    // An access token may list, but not remove a way to sign in.
    let status = env
        .oauth
        .unlink_account(bearer(
            pb::UnlinkAccountRequest { account_id: linked.id.clone(), keep_other_sessions: false },
            &access,
        ))
        .await
        .unwrap_err();
    assert_eq!((status.code(), reason(&status).as_str()), (Code::PermissionDenied, "SESSION_TOKEN_REQUIRED"));

    // With two, one can go; then the remaining one cannot.
    env.oauth.unlink_account(unlink(&github_account.id)).await.unwrap();
    let result = env.oauth.unlink_account(unlink(&linked.id)).await;
    assert_refused(result, Code::FailedPrecondition, "LAST_SIGN_IN_METHOD");
    let left = env.oauth.list_linked_accounts(list(String::new())).await.unwrap().into_inner();
    assert_eq!(left.accounts.len(), 1);
    env.stop().await;
}

async fn start_on_one_replica_finish_on_another(backend: Backend) {
    let mut env = Env::start(backend, ProviderUser::new("replica", "replica@example.com", true)).await;
    let replica = env.server.start_replica().await;
    let mut other = OAuthServiceClient::connect(format!("http://{}", replica.local_addr())).await.unwrap();

    for provider in [GITHUB, OIDC] {
        // A distinct email per provider: the second would otherwise (rightly) not be linked.
        env.provider.set(|b| {
            b.user.email = format!("{provider}@example.com");
            b.user.github_emails = vec![(b.user.email.clone(), true, true)];
        });
        let back = env.authorize(Request::new(start(provider))).await;
        let request = pb::OAuthCallbackRequest {
            state: back["state"].clone(),
            code: back["code"].clone(),
            error: String::new(),
            iss: String::new(),
        };
        let done = other.o_auth_callback(request.clone()).await.unwrap().into_inner();
        assert_eq!(done.account.unwrap().provider, provider);
        assert!(done.user_created);
        // …and the state is gone for both.
        let status = env.oauth.o_auth_callback(request.clone()).await.unwrap_err();
        assert_eq!(reason(&status), "OAUTH_STATE_INVALID");
        let status = other.o_auth_callback(request).await.unwrap_err();
        assert_eq!(reason(&status), "OAUTH_STATE_INVALID");
    }
    replica.shutdown().await.unwrap();
    env.stop().await;
}

async fn linking_and_unlinking_are_factor_changes(backend: Backend) {
    let mut env = Env::start(backend, ProviderUser::new("factor", "factor@provider.example", true)).await;
    let mut auth = env.server.auth().await;
    let me = register(&mut auth, "factor@example.com").await;
    let stale = std::time::Duration::from_secs(301);

    // A session that signed in more than reauthentication_window_secs ago cannot start a link.
    env.server.clock.advance(stale);
    let before = env.counts().await;
    let result = env.oauth.start_o_auth(bearer(link(GITHUB), &me.session_token)).await;
    assert_refused(result, Code::FailedPrecondition, "REAUTHENTICATION_REQUIRED");
    assert_eq!(env.counts().await, before);

    // Re-authenticated, it links (and the callback hands over a new, fresh session).
    auth.reauthenticate(bearer(
        pb::ReauthenticateRequest { password: crate::common::PASSWORD.into() },
        &me.session_token,
    ))
    .await
    .unwrap();
    let back = env.authorize(bearer(link(GITHUB), &me.session_token)).await;
    let linked = env.callback_as(&back, Some(&me.session_token)).await.unwrap().into_inner();
    let token = linked.signed_in.unwrap().session_token;
    let account_id = linked.account.unwrap().id;
    let elsewhere = crate::common::login(&mut auth, "factor@example.com", crate::common::PASSWORD).await.unwrap();

    // Stale again: unlinking is refused and changes nothing.
    env.server.clock.advance(stale);
    let unlink = |keep_other_sessions| {
        bearer(pb::UnlinkAccountRequest { account_id: account_id.clone(), keep_other_sessions }, &token)
    };
    let before = env.counts().await;
    assert_refused(
        env.oauth.unlink_account(unlink(false)).await,
        Code::FailedPrecondition,
        "REAUTHENTICATION_REQUIRED",
    );
    assert_eq!(env.counts().await, before);

    // Fresh: unlinking ends the other sessions (here the password sign-in elsewhere).
    auth.reauthenticate(bearer(pb::ReauthenticateRequest { password: crate::common::PASSWORD.into() }, &token))
        .await
        .unwrap();
    let unlinked = env.oauth.unlink_account(unlink(false)).await.unwrap().into_inner();
    assert_eq!(unlinked.revoked_sessions, 1);
    assert_eq!(reason(&get_session(&mut auth, &elsewhere.session_token).await.unwrap_err()), "SESSION_INVALID");
    assert!(get_session(&mut auth, &token).await.is_ok());
    let kinds = env.server.app.services().store().audit_event_kinds(&me.user.unwrap().id).await.unwrap();
    assert!(kinds.contains(&"account.unlinked".to_owned()), "{kinds:?}");
    // Each change mailed one notice to the account (the file transport: .eml files).
    crate::common::mail_delivered(&env.server).await;
    let mut subjects: Vec<String> = std::fs::read_dir(env.server.config.data_dir.join("outbox"))
        .unwrap()
        .map(|entry| std::fs::read_to_string(entry.unwrap().path()).unwrap())
        .map(|eml| {
            assert!(eml.contains("To: factor@example.com"), "{eml}");
            eml.lines().find_map(|line| line.strip_prefix("Subject: ")).unwrap().to_owned()
        })
        .collect();
    subjects.sort();
    let product = &env.server.config.rp_name;
    assert_eq!(
        subjects,
        [
            format!("A sign-in provider was linked to your {product} account"),
            format!("A sign-in provider was unlinked from your {product} account"),
        ]
    );
    env.stop().await;
}
