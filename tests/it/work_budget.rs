//! Budget before work, checked (OWASP ASVS 5 V2.4.1): every RPC of the descriptor set is listed
//! here with the costly work it can reach — a job on the hashing pool (argon2, zxcvbn) or a call
//! to another server — and the budget that pays for it. A new RPC fails `the_table_lists_every_rpc`
//! until someone decides. Each costly RPC is then driven down its costly paths against a server
//! whose budgets hold two calls per client address: in debug builds the pool and the outbound
//! client refuse work in a request that spent no budget yet (`crypto::work_budget`), so a path
//! that reaches them first fails here as INTERNAL; and the third call must be RATE_LIMITED
//! having queued nothing on the pool. `the_guard_refuses_work_before_a_budget` shows the guard
//! itself failing a request that did not pay.

use std::collections::BTreeSet;

use keyward::{
    config::{RateBudget, RateLimits},
    crypto::work_budget,
    pb::{self, o_auth_service_client::OAuthServiceClient, verification_service_client::VerificationServiceClient},
    store::RowCounts,
};
use prost::Message;
use tonic::{Code, Request, Status};

use crate::{
    common::{Backend, PASSWORD, TestServer, both_backends, reason},
    fake_provider::{FakeProvider, ProviderUser},
    oauth::{OIDC, follow, oauth_config, start},
    smtp_server::{ReceivedMail, SmtpServer},
    verification::NEW_PASSWORD,
    verification_codes::code_of,
};

/// The costly work an RPC can reach, and what pays for it first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Work {
    /// Neither the hashing pool nor another server.
    Nothing,
    /// The hashing pool, after these per-client budgets (and any per-account count).
    Hashing(&'static [&'static str]),
    /// Another server, after this budget (a callback: the state its start paid for).
    Outbound(&'static [&'static str]),
}

use Work::{Hashing, Nothing, Outbound};

const RPCS: &[(&str, Work)] = &[
    ("keyward.v1.AuthService/Register", Hashing(&["register"])),
    ("keyward.v1.AuthService/Login", Hashing(&["login"])),
    ("keyward.v1.AuthService/Logout", Nothing),
    ("keyward.v1.AuthService/GetSession", Nothing),
    ("keyward.v1.AuthService/RefreshSession", Nothing),
    ("keyward.v1.AuthService/ListSessions", Nothing),
    ("keyward.v1.AuthService/RevokeSession", Nothing),
    ("keyward.v1.AuthService/RevokeOtherSessions", Nothing),
    ("keyward.v1.AuthService/ChangePassword", Hashing(&["login"])),
    ("keyward.v1.AuthService/UpdateUser", Nothing),
    ("keyward.v1.AuthService/Reauthenticate", Hashing(&["login"])),
    ("keyward.v1.AuthService/DeleteAccount", Nothing),
    ("keyward.v1.AdminService/ListUsers", Nothing),
    ("keyward.v1.AdminService/GetUser", Nothing),
    ("keyward.v1.AdminService/CreateUser", Nothing),
    ("keyward.v1.AdminService/UpdateUser", Nothing),
    ("keyward.v1.AdminService/DisableUser", Nothing),
    ("keyward.v1.AdminService/EnableUser", Nothing),
    ("keyward.v1.AdminService/DeleteUser", Nothing),
    ("keyward.v1.AdminService/RevokeUserSessions", Nothing),
    ("keyward.v1.AdminService/ListAuditEvents", Nothing),
    ("keyward.v1.AdminService/ListWebhookDeliveries", Nothing),
    ("keyward.v1.AdminService/RetryWebhookDelivery", Nothing),
    ("keyward.v1.AdminService/WatchSessionEvents", Nothing),
    ("keyward.v1.OAuthService/ListProviders", Nothing),
    ("keyward.v1.OAuthService/StartOAuth", Outbound(&["oauth_start"])),
    ("keyward.v1.OAuthService/OAuthCallback", Outbound(&["oauth_start"])),
    ("keyward.v1.OAuthService/ListLinkedAccounts", Nothing),
    ("keyward.v1.OAuthService/UnlinkAccount", Nothing),
    ("keyward.v1.PasskeyService/StartPasskeyRegistration", Nothing),
    ("keyward.v1.PasskeyService/FinishPasskeyRegistration", Nothing),
    ("keyward.v1.PasskeyService/StartPasskeySignUp", Nothing),
    ("keyward.v1.PasskeyService/FinishPasskeySignUp", Nothing),
    ("keyward.v1.PasskeyService/StartPasskeyLogin", Nothing),
    ("keyward.v1.PasskeyService/FinishPasskeyLogin", Nothing),
    ("keyward.v1.PasskeyService/ListPasskeys", Nothing),
    ("keyward.v1.PasskeyService/RenamePasskey", Nothing),
    ("keyward.v1.PasskeyService/DeletePasskey", Nothing),
    ("keyward.v1.PasskeyService/StartPasskeyReauthentication", Nothing),
    ("keyward.v1.PasskeyService/FinishPasskeyReauthentication", Nothing),
    ("keyward.v1.VerificationService/RequestPasswordReset", Nothing),
    ("keyward.v1.VerificationService/ResetPassword", Hashing(&["password_reset", "email_code", "email_code_address"])),
    ("keyward.v1.VerificationService/SendVerificationEmail", Nothing),
    ("keyward.v1.VerificationService/VerifyEmail", Nothing),
    ("keyward.v1.VerificationService/SendMagicLink", Nothing),
    ("keyward.v1.VerificationService/SignInWithMagicLink", Nothing),
    ("keyward.v1.VerificationService/RequestEmailChange", Nothing),
    ("keyward.v1.VerificationService/ConfirmEmailChange", Nothing),
];

/// Every method of every keyward.v1 service, from the descriptor set the server registers.
fn served_methods() -> BTreeSet<String> {
    let set = prost_types::FileDescriptorSet::decode(pb::FILE_DESCRIPTOR_SET).unwrap();
    set.file
        .iter()
        .filter(|file| file.package() == "keyward.v1")
        .flat_map(|file| {
            file.service.iter().flat_map(|service| {
                service.method.iter().map(|method| format!("keyward.v1.{}/{}", service.name(), method.name()))
            })
        })
        .collect()
}

/// Methods served but not in `listed`, and listed but not served.
fn mismatches(listed: &[(&str, Work)], served: &BTreeSet<String>) -> Vec<String> {
    let names: BTreeSet<String> = listed.iter().map(|(rpc, _)| (*rpc).to_owned()).collect();
    let unlisted = served.difference(&names).map(|rpc| format!("{rpc}: not in RPCS (what work can it reach?)"));
    let gone = names.difference(served).map(|rpc| format!("{rpc}: listed but not served"));
    unlisted.chain(gone).collect()
}

#[test]
fn the_table_lists_every_rpc() {
    let served = served_methods();
    assert!(served.len() > 40, "{served:?}");
    let wrong = mismatches(RPCS, &served);
    assert!(wrong.is_empty(), "{wrong:#?}");
    // The check itself: a new RPC nobody classified is reported.
    let mut with_new = served.clone();
    with_new.insert("keyward.v1.AuthService/NewCostlyThing".into());
    assert_eq!(
        mismatches(RPCS, &with_new),
        ["keyward.v1.AuthService/NewCostlyThing: not in RPCS (what work can it reach?)"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guard_refuses_work_before_a_budget() {
    let server = TestServer::start(Backend::Sqlite).await;
    let pool = server.app.services().cpu_pool().clone();
    let unpaid = work_budget::request_scope(async { pool.run(|_| 1).await }).await;
    if cfg!(debug_assertions) {
        assert!(unpaid.is_err(), "a request that spent no budget gets no hashing: {unpaid:?}");
    }
    let paid = work_budget::request_scope(async {
        work_budget::spent();
        pool.run(|_| 2).await
    })
    .await;
    assert_eq!(paid.unwrap(), 2);
    assert_eq!(pool.run(|_| 3).await.unwrap(), 3, "outside a request (start-up, import) nothing is checked");
    server.stop().await;
}

/// `message` from `client` (through the trusted proxy on 127.0.0.1).
fn from<T>(client: &str, message: T) -> Request<T> {
    let mut request = Request::new(message);
    request.metadata_mut().insert("x-forwarded-for", client.parse().unwrap());
    request
}

fn from_session<T>(client: &str, token: &str, message: T) -> Request<T> {
    let mut request = from(client, message);
    request.metadata_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
}

fn assert_reason<T: std::fmt::Debug>(result: Result<T, Status>, expected: &str, what: &str) {
    let status = result.expect_err(what);
    assert_eq!(reason(&status), expected, "{what}: {status:?}");
}

/// The pool's jobs and the rows before a call.
struct Before {
    queued: usize,
    rows: RowCounts,
}

async fn before(server: &TestServer) -> Before {
    let services = server.app.services();
    Before { queued: services.cpu_pool().jobs_queued(), rows: services.store().row_counts().await.unwrap() }
}

/// `result` is a budget's refusal, and the call queued no work and wrote nothing (the outbox
/// may only shrink: a mail from an earlier call may be delivered meanwhile).
async fn assert_refused_before_work(server: &TestServer, rpc: &str, before: Before, result: Result<(), Status>) {
    let status = result.expect_err(rpc);
    assert_eq!((status.code(), reason(&status).as_str()), (Code::ResourceExhausted, "RATE_LIMITED"), "{rpc}");
    let after = self::before(server).await;
    assert_eq!(after.queued, before.queued, "{rpc}: a refused call queued work");
    assert!(after.rows.outbox <= before.rows.outbox, "{rpc}: a refused call queued mail");
    assert_eq!(RowCounts { outbox: 0, ..after.rows }, RowCounts { outbox: 0, ..before.rows }, "{rpc}: wrote");
}

both_backends!(every_costly_rpc_spends_a_budget_before_its_work);

/// What each costly RPC is driven with: two calls that must pass the guard (each answered as
/// shown — never INTERNAL), then a third from the same client that must be refused by a budget
/// before anything is queued on the pool or written.
async fn every_costly_rpc_spends_a_budget_before_its_work(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let provider = FakeProvider::start(ProviderUser::new("sub-1", "oidc@example.com", true)).await;
    let two = RateBudget { per_minute: 1, burst: 2 };
    let server = TestServer::start_with(backend, |config| {
        config.email.smtp_url = Some(keyward::config::Secret::new(smtp.url()));
        config.oauth = oauth_config(&provider);
        config.trusted_proxies = vec!["127.0.0.1".into()];
        config.rate_limits = RateLimits {
            enabled: true,
            login: two,
            register: two,
            passkey_start: two,
            oauth_start: two,
            email_send: two,
            email_address: two,
            email_code: two,
            email_code_address: two,
            password_reset: two,
        };
    })
    .await;
    let mut auth = server.auth().await;
    let mut verification = VerificationServiceClient::connect(server.base_url()).await.unwrap();
    let mut oauth = OAuthServiceClient::connect(server.base_url()).await.unwrap();
    let register =
        |email: &str| pb::RegisterRequest { email: email.into(), password: PASSWORD.into(), name: String::new() };
    let weak = "password12345678";
    let mut driven = BTreeSet::new();

    // Register: a weak password is refused by zxcvbn, but only after the budget.
    let client = "198.51.100.1";
    assert_reason(
        auth.register(from(client, pb::RegisterRequest { password: weak.into(), ..register("r@example.com") })).await,
        "PASSWORD_TOO_COMMON",
        "register weak",
    );
    auth.register(from(client, register("r@example.com"))).await.unwrap();
    let queued = before(&server).await;
    assert_refused_before_work(
        &server,
        "Register",
        queued,
        auth.register(from(client, register("r2@example.com"))).await.map(drop),
    )
    .await;
    driven.insert("keyward.v1.AuthService/Register");

    // Login.
    let client = "198.51.100.2";
    let login = |password: &str| pb::LoginRequest { email: "r@example.com".into(), password: password.into() };
    assert_reason(auth.login(from(client, login("wrong-password-0"))).await, "INVALID_CREDENTIALS", "login wrong");
    let signed_in = auth.login(from(client, login(PASSWORD))).await.unwrap().into_inner().signed_in.unwrap();
    let queued = before(&server).await;
    assert_refused_before_work(&server, "Login", queued, auth.login(from(client, login(PASSWORD))).await.map(drop))
        .await;
    driven.insert("keyward.v1.AuthService/Login");

    // ChangePassword: a wrong current password is answered before the new one's strength is
    // estimated (a weak new one would otherwise say PASSWORD_TOO_WEAK).
    let client = "198.51.100.3";
    let token = signed_in.session_token.as_str();
    let change = |current: &str, new: &str| pb::ChangePasswordRequest {
        current_password: current.into(),
        new_password: new.into(),
    };
    let wrong_current = auth.change_password(from_session(client, token, change("wrong-password-0", weak))).await;
    let status = wrong_current.expect_err("wrong current password");
    assert_eq!(reason(&status), "PASSWORD_INCORRECT", "{status:?}");
    assert!(crate::common::violations(&status).contains_key("current_password"), "{status:?}");
    auth.change_password(from_session(client, token, change(PASSWORD, NEW_PASSWORD))).await.unwrap();
    let queued = before(&server).await;
    let third = auth.change_password(from_session(client, token, change(NEW_PASSWORD, PASSWORD))).await;
    assert_refused_before_work(&server, "ChangePassword", queued, third.map(drop)).await;
    driven.insert("keyward.v1.AuthService/ChangePassword");

    // Reauthenticate.
    let client = "198.51.100.4";
    let reauthenticate = |password: &str| pb::ReauthenticateRequest { password: password.into() };
    assert!(auth.reauthenticate(from_session(client, token, reauthenticate("wrong-password-0"))).await.is_err());
    auth.reauthenticate(from_session(client, token, reauthenticate(NEW_PASSWORD))).await.unwrap();
    let queued = before(&server).await;
    let third = auth.reauthenticate(from_session(client, token, reauthenticate(NEW_PASSWORD))).await;
    assert_refused_before_work(&server, "Reauthenticate", queued, third.map(drop)).await;
    driven.insert("keyward.v1.AuthService/Reauthenticate");

    // ResetPassword: a proof that names no row is refused before zxcvbn (nothing queued); a
    // mailed code with a strong password resets.
    let client = "198.51.100.5";
    let made_up_before = before(&server).await;
    let made_up = pb::ResetPasswordRequest { token: "A".repeat(43), new_password: weak.into(), ..Default::default() };
    assert_reason(
        verification.reset_password(from(client, made_up)).await,
        "VERIFICATION_TOKEN_INVALID",
        "made-up token",
    );
    let after = before(&server).await;
    assert_eq!(after.queued, made_up_before.queued, "no row, no strength estimate");
    assert_eq!(after.rows, made_up_before.rows, "nothing written");
    let reset_request = pb::RequestPasswordResetRequest { email: "r@example.com".into(), redirect_uri: String::new() };
    verification.request_password_reset(from("198.51.100.50", reset_request)).await.unwrap();
    let code = code_of(&code_mail_to(&smtp, "r@example.com").await);
    let by_code = pb::ResetPasswordRequest {
        email: "r@example.com".into(),
        code,
        new_password: PASSWORD.into(),
        ..Default::default()
    };
    verification.reset_password(from(client, by_code.clone())).await.unwrap();
    let queued = before(&server).await;
    assert_refused_before_work(
        &server,
        "ResetPassword",
        queued,
        verification.reset_password(from(client, by_code)).await.map(drop),
    )
    .await;
    driven.insert("keyward.v1.VerificationService/ResetPassword");

    // StartOAuth (discovery) and OAuthCallback (token exchange, user info): a made-up state
    // reaches no provider; a started round-trip does.
    let client = "198.51.100.6";
    let requests_before = provider.token_requests();
    let made_up = pb::OAuthCallbackRequest { state: "x".repeat(43), code: "code".into(), ..Default::default() };
    assert!(oauth.o_auth_callback(from(client, made_up)).await.is_err());
    assert_eq!(provider.token_requests(), requests_before, "a made-up state reaches no provider");
    for _ in 0..2 {
        let started = oauth.start_o_auth(from(client, start(OIDC))).await.unwrap().into_inner();
        let back = follow(&started.authorization_url).await;
        let callback = pb::OAuthCallbackRequest {
            state: back["state"].clone(),
            code: back["code"].clone(),
            error: String::new(),
            iss: back.get("iss").cloned().unwrap_or_default(),
        };
        oauth.o_auth_callback(from(client, callback)).await.unwrap();
    }
    assert_eq!(provider.token_requests(), requests_before + 2);
    let status = oauth.start_o_auth(from(client, start(OIDC))).await.unwrap_err();
    assert_eq!(reason(&status), "RATE_LIMITED");
    driven.extend(["keyward.v1.OAuthService/StartOAuth", "keyward.v1.OAuthService/OAuthCallback"]);

    let costly: BTreeSet<&str> = RPCS.iter().filter(|(_, work)| *work != Nothing).map(|(rpc, _)| *rpc).collect();
    assert_eq!(driven, costly, "every costly RPC in the table is driven here");
    server.stop().await;
}

/// The first mail to `to` that carries a code, waiting for it: other mails (the notice of the
/// password change above, to the same address) may come before it.
async fn code_mail_to(smtp: &SmtpServer, to: &str) -> ReceivedMail {
    let mut wanted = 1;
    loop {
        let mails = smtp.wait_for(wanted).await;
        if let Some(mail) = mails.iter().find(|mail| mail.to == [to] && mail.text().contains("code in the app: ")) {
            return mail.clone();
        }
        wanted = mails.len() + 1;
    }
}
