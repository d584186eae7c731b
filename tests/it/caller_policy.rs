//! The caller policy, RPC by RPC: a table of every RPC Keyward serves with the credential it
//! needs, checked to be complete against the served descriptors (a new RPC fails this test until
//! it is listed), and every one called with an *access token*: reads succeed, everything that
//! changes the account, a sign-in method or the session is PERMISSION_DENIED /
//! SESSION_TOKEN_REQUIRED, AdminService refuses it as no API key (API_KEY_INVALID; its scopes are
//! tested in admin.rs), and none of those calls writes a row. (That a plain `Caller` cannot
//! reach a use case that needs a `SessionCaller` is a compile-time fact: see the compile_fail
//! doctests on `keyward::service::SessionCaller`.)

use std::collections::BTreeSet;

use keyward::domain::ApiScope;
use keyward::pb::{
    self, o_auth_service_client::OAuthServiceClient, passkey_service_client::PasskeyServiceClient,
    verification_service_client::VerificationServiceClient,
};
use prost::Message;
use tonic::{Code, Status};

use crate::{
    common::{Backend, PASSWORD, TestServer, bearer, both_backends, get_session, login, reason, register},
    passkey_authenticator::TestPasskey,
    passkeys::add_passkey,
};

both_backends!(every_rpc_with_an_access_token);

/// What an RPC needs from its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Needs {
    /// Anyone (sign-up, sign-in, public listings).
    Nothing,
    /// The session token or an access token: reads the caller's own data.
    AnyCredential,
    /// The session token: changes the account, a sign-in method or the session.
    SessionToken,
    /// The session token and a recent authentication: factor changes.
    RecentSessionToken,
    /// An API key with this scope (AdminService): no user credential is one.
    ApiKey(ApiScope),
}

use Needs::{AnyCredential, ApiKey, Nothing, RecentSessionToken, SessionToken};

/// Every RPC, as `package.Service/Method` (a `#variant` suffix for a second way to call one).
const POLICY: &[(&str, Needs)] = &[
    ("keyward.v1.AuthService/Register", Nothing),
    ("keyward.v1.AuthService/Login", Nothing),
    ("keyward.v1.AuthService/Logout", SessionToken),
    ("keyward.v1.AuthService/GetSession", AnyCredential),
    ("keyward.v1.AuthService/RefreshSession", SessionToken),
    ("keyward.v1.AuthService/ListSessions", AnyCredential),
    ("keyward.v1.AuthService/RevokeSession", SessionToken),
    ("keyward.v1.AuthService/RevokeSession#other", RecentSessionToken),
    ("keyward.v1.AuthService/RevokeOtherSessions", RecentSessionToken),
    ("keyward.v1.AuthService/ChangePassword", SessionToken),
    ("keyward.v1.AuthService/UpdateUser", SessionToken),
    ("keyward.v1.AuthService/Reauthenticate", SessionToken),
    ("keyward.v1.AuthService/DeleteAccount", RecentSessionToken),
    ("keyward.v1.AdminService/ListUsers", ApiKey(ApiScope::UsersRead)),
    ("keyward.v1.AdminService/GetUser", ApiKey(ApiScope::UsersRead)),
    ("keyward.v1.AdminService/CreateUser", ApiKey(ApiScope::UsersWrite)),
    ("keyward.v1.AdminService/UpdateUser", ApiKey(ApiScope::UsersWrite)),
    ("keyward.v1.AdminService/DisableUser", ApiKey(ApiScope::UsersWrite)),
    ("keyward.v1.AdminService/EnableUser", ApiKey(ApiScope::UsersWrite)),
    ("keyward.v1.AdminService/DeleteUser", ApiKey(ApiScope::UsersWrite)),
    ("keyward.v1.AdminService/RevokeUserSessions", ApiKey(ApiScope::SessionsRevoke)),
    ("keyward.v1.AdminService/ListAuditEvents", ApiKey(ApiScope::AuditRead)),
    ("keyward.v1.AdminService/ListWebhookDeliveries", ApiKey(ApiScope::WebhooksManage)),
    ("keyward.v1.AdminService/RetryWebhookDelivery", ApiKey(ApiScope::WebhooksManage)),
    ("keyward.v1.AdminService/WatchSessionEvents", ApiKey(ApiScope::EventsWatch)),
    ("keyward.v1.PasskeyService/StartPasskeyRegistration", RecentSessionToken),
    ("keyward.v1.PasskeyService/FinishPasskeyRegistration", SessionToken),
    ("keyward.v1.PasskeyService/StartPasskeySignUp", Nothing),
    ("keyward.v1.PasskeyService/FinishPasskeySignUp", Nothing),
    ("keyward.v1.PasskeyService/StartPasskeyLogin", Nothing),
    ("keyward.v1.PasskeyService/FinishPasskeyLogin", Nothing),
    ("keyward.v1.PasskeyService/ListPasskeys", AnyCredential),
    ("keyward.v1.PasskeyService/RenamePasskey", SessionToken),
    ("keyward.v1.PasskeyService/DeletePasskey", RecentSessionToken),
    ("keyward.v1.PasskeyService/StartPasskeyReauthentication", SessionToken),
    ("keyward.v1.PasskeyService/FinishPasskeyReauthentication", SessionToken),
    ("keyward.v1.OAuthService/ListProviders", Nothing),
    ("keyward.v1.OAuthService/StartOAuth", Nothing),
    ("keyward.v1.OAuthService/StartOAuth#link", RecentSessionToken),
    ("keyward.v1.OAuthService/OAuthCallback", Nothing),
    ("keyward.v1.OAuthService/ListLinkedAccounts", AnyCredential),
    ("keyward.v1.OAuthService/UnlinkAccount", RecentSessionToken),
    ("keyward.v1.VerificationService/RequestPasswordReset", Nothing),
    ("keyward.v1.VerificationService/ResetPassword", Nothing),
    ("keyward.v1.VerificationService/SendVerificationEmail", SessionToken),
    ("keyward.v1.VerificationService/VerifyEmail", Nothing),
    ("keyward.v1.VerificationService/SendMagicLink", Nothing),
    ("keyward.v1.VerificationService/SignInWithMagicLink", Nothing),
    ("keyward.v1.VerificationService/RequestEmailChange", RecentSessionToken),
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

#[test]
fn the_table_lists_every_rpc() {
    let listed: BTreeSet<String> = POLICY.iter().map(|(rpc, _)| rpc.split('#').next().unwrap().to_owned()).collect();
    assert_eq!(listed, served_methods(), "add the new RPC to POLICY with the credential it needs");
}

/// Ids of real rows the calls aim at, so a call that wrongly went through would change them.
struct Targets {
    user_id: String,
    other_session_id: String,
    own_session_id: String,
    passkey_id: String,
}

async fn call(server: &TestServer, rpc: &str, token: &str, targets: &Targets) -> Result<(), Status> {
    let mut auth = server.auth().await;
    let mut passkeys = PasskeyServiceClient::connect(server.base_url()).await.unwrap();
    let mut oauth = OAuthServiceClient::connect(server.base_url()).await.unwrap();
    let mut verification = VerificationServiceClient::connect(server.base_url()).await.unwrap();
    // Addresses without an account: a mailed link would be written in the background, racing
    // the row counts of later calls.
    let nobody = "nobody@example.com".to_owned();
    let ceremony_id = "A".repeat(43);
    let credential_json = "{}".to_owned();
    match rpc {
        "keyward.v1.AuthService/Register" => auth
            .register(bearer(
                pb::RegisterRequest { email: "new@example.com".into(), password: PASSWORD.into(), name: String::new() },
                token,
            ))
            .await
            .map(drop),
        "keyward.v1.AuthService/Login" => auth
            .login(bearer(pb::LoginRequest { email: "policy@example.com".into(), password: PASSWORD.into() }, token))
            .await
            .map(drop),
        "keyward.v1.AuthService/Logout" => auth.logout(bearer(pb::LogoutRequest {}, token)).await.map(drop),
        "keyward.v1.AuthService/GetSession" => {
            auth.get_session(bearer(pb::GetSessionRequest::default(), token)).await.map(drop)
        }
        "keyward.v1.AuthService/RefreshSession" => {
            auth.refresh_session(bearer(pb::RefreshSessionRequest {}, token)).await.map(drop)
        }
        "keyward.v1.AuthService/ListSessions" => {
            auth.list_sessions(bearer(pb::ListSessionsRequest::default(), token)).await.map(drop)
        }
        "keyward.v1.AuthService/RevokeSession" => auth
            .revoke_session(bearer(pb::RevokeSessionRequest { session_id: targets.own_session_id.clone() }, token))
            .await
            .map(drop),
        "keyward.v1.AuthService/RevokeSession#other" => auth
            .revoke_session(bearer(pb::RevokeSessionRequest { session_id: targets.other_session_id.clone() }, token))
            .await
            .map(drop),
        "keyward.v1.AuthService/RevokeOtherSessions" => {
            auth.revoke_other_sessions(bearer(pb::RevokeOtherSessionsRequest {}, token)).await.map(drop)
        }
        "keyward.v1.AuthService/ChangePassword" => auth
            .change_password(bearer(
                pb::ChangePasswordRequest {
                    current_password: PASSWORD.into(),
                    new_password: "quiet-harbor-tram-58".into(),
                },
                token,
            ))
            .await
            .map(drop),
        "keyward.v1.AuthService/UpdateUser" => {
            auth.update_user(bearer(pb::UpdateUserRequest { name: "Mallory".into() }, token)).await.map(drop)
        }
        "keyward.v1.AuthService/Reauthenticate" => {
            auth.reauthenticate(bearer(pb::ReauthenticateRequest { password: PASSWORD.into() }, token)).await.map(drop)
        }
        "keyward.v1.PasskeyService/StartPasskeyRegistration" => {
            passkeys.start_passkey_registration(bearer(pb::StartPasskeyRegistrationRequest {}, token)).await.map(drop)
        }
        "keyward.v1.PasskeyService/FinishPasskeyRegistration" => passkeys
            .finish_passkey_registration(bearer(
                pb::FinishPasskeyRegistrationRequest {
                    ceremony_id,
                    credential_json,
                    name: String::new(),
                    revoke_other_sessions: true,
                },
                token,
            ))
            .await
            .map(drop),
        "keyward.v1.PasskeyService/StartPasskeySignUp" => passkeys
            .start_passkey_sign_up(bearer(
                pb::StartPasskeySignUpRequest { email: "passkey-new@example.com".into(), name: String::new() },
                token,
            ))
            .await
            .map(drop),
        "keyward.v1.PasskeyService/FinishPasskeySignUp" => passkeys
            .finish_passkey_sign_up(bearer(
                pb::FinishPasskeySignUpRequest {
                    ceremony_id,
                    credential_json,
                    passkey_name: String::new(),
                    code: String::new(),
                },
                token,
            ))
            .await
            .map(drop),
        "keyward.v1.PasskeyService/StartPasskeyLogin" => {
            passkeys.start_passkey_login(bearer(pb::StartPasskeyLoginRequest::default(), token)).await.map(drop)
        }
        "keyward.v1.PasskeyService/FinishPasskeyLogin" => passkeys
            .finish_passkey_login(bearer(pb::FinishPasskeyLoginRequest { ceremony_id, credential_json }, token))
            .await
            .map(drop),
        "keyward.v1.PasskeyService/ListPasskeys" => {
            passkeys.list_passkeys(bearer(pb::ListPasskeysRequest::default(), token)).await.map(drop)
        }
        "keyward.v1.PasskeyService/RenamePasskey" => passkeys
            .rename_passkey(bearer(
                pb::RenamePasskeyRequest { passkey_id: targets.passkey_id.clone(), name: "Mallory's".into() },
                token,
            ))
            .await
            .map(drop),
        "keyward.v1.PasskeyService/DeletePasskey" => passkeys
            .delete_passkey(bearer(
                pb::DeletePasskeyRequest { passkey_id: targets.passkey_id.clone(), keep_other_sessions: false },
                token,
            ))
            .await
            .map(drop),
        "keyward.v1.PasskeyService/StartPasskeyReauthentication" => passkeys
            .start_passkey_reauthentication(bearer(pb::StartPasskeyReauthenticationRequest {}, token))
            .await
            .map(drop),
        "keyward.v1.PasskeyService/FinishPasskeyReauthentication" => passkeys
            .finish_passkey_reauthentication(bearer(
                pb::FinishPasskeyReauthenticationRequest { ceremony_id, credential_json },
                token,
            ))
            .await
            .map(drop),
        "keyward.v1.OAuthService/ListProviders" => {
            oauth.list_providers(bearer(pb::ListProvidersRequest {}, token)).await.map(drop)
        }
        "keyward.v1.OAuthService/StartOAuth" | "keyward.v1.OAuthService/StartOAuth#link" => {
            let intent = if rpc.ends_with("#link") {
                pb::IdentityProviderIntent::Link
            } else {
                pb::IdentityProviderIntent::SignIn
            };
            let request = pb::StartOAuthRequest {
                provider: "github".into(),
                redirect_uri: "https://app.example.com/cb".into(),
                intent: intent.into(),
            };
            oauth.start_o_auth(bearer(request, token)).await.map(drop)
        }
        "keyward.v1.OAuthService/OAuthCallback" => oauth
            .o_auth_callback(bearer(
                pb::OAuthCallbackRequest {
                    state: "A".repeat(43),
                    code: "code".into(),
                    error: String::new(),
                    iss: String::new(),
                },
                token,
            ))
            .await
            .map(drop),
        "keyward.v1.OAuthService/ListLinkedAccounts" => {
            oauth.list_linked_accounts(bearer(pb::ListLinkedAccountsRequest::default(), token)).await.map(drop)
        }
        "keyward.v1.OAuthService/UnlinkAccount" => oauth
            .unlink_account(bearer(
                pb::UnlinkAccountRequest {
                    account_id: "01900000-0000-7000-8000-000000000000".into(),
                    keep_other_sessions: false,
                },
                token,
            ))
            .await
            .map(drop),
        "keyward.v1.AuthService/DeleteAccount" => {
            auth.delete_account(bearer(pb::DeleteAccountRequest {}, token)).await.map(drop)
        }
        admin if admin.starts_with("keyward.v1.AdminService/") => {
            let mut client = crate::admin::admin(server).await;
            let method = admin.trim_start_matches("keyward.v1.AdminService/");
            crate::admin::call(&mut client, method, Some(token), &targets.user_id, 0).await
        }
        "keyward.v1.VerificationService/RequestPasswordReset" => verification
            .request_password_reset(bearer(
                pb::RequestPasswordResetRequest { email: nobody, redirect_uri: String::new() },
                token,
            ))
            .await
            .map(drop),
        "keyward.v1.VerificationService/ResetPassword" => verification
            .reset_password(bearer(
                pb::ResetPasswordRequest {
                    token: "A".repeat(43),
                    new_password: "quiet-harbor-tram-58".into(),
                    ..Default::default()
                },
                token,
            ))
            .await
            .map(drop),
        "keyward.v1.VerificationService/SendVerificationEmail" => verification
            .send_verification_email(bearer(pb::SendVerificationEmailRequest::default(), token))
            .await
            .map(drop),
        "keyward.v1.VerificationService/VerifyEmail" => verification
            .verify_email(bearer(pb::VerifyEmailRequest { token: "A".repeat(43), ..Default::default() }, token))
            .await
            .map(drop),
        "keyward.v1.VerificationService/SendMagicLink" => verification
            .send_magic_link(bearer(pb::SendMagicLinkRequest { email: nobody, redirect_uri: String::new() }, token))
            .await
            .map(drop),
        "keyward.v1.VerificationService/RequestEmailChange" => verification
            .request_email_change(bearer(
                pb::RequestEmailChangeRequest { new_email: "mallory@example.com".into(), redirect_uri: String::new() },
                token,
            ))
            .await
            .map(drop),
        "keyward.v1.VerificationService/ConfirmEmailChange" => verification
            .confirm_email_change(bearer(
                pb::ConfirmEmailChangeRequest { token: "A".repeat(43), ..Default::default() },
                token,
            ))
            .await
            .map(drop),
        "keyward.v1.VerificationService/SignInWithMagicLink" => verification
            .sign_in_with_magic_link(bearer(
                pb::SignInWithMagicLinkRequest { token: "A".repeat(43), ..Default::default() },
                token,
            ))
            .await
            .map(drop),
        other => panic!("no call written for {other}: add one"),
    }
}

async fn every_rpc_with_an_access_token(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut auth = server.auth().await;
    let me = register(&mut auth, "policy@example.com").await;
    let mut passkey_client = PasskeyServiceClient::connect(server.base_url()).await.unwrap();
    let passkey = add_passkey(&mut passkey_client, &mut TestPasskey::new(), &me.session_token, "Mine").await;
    let other = login(&mut auth, "policy@example.com", PASSWORD).await.unwrap();
    let access = me.access_token.as_ref().unwrap().token.clone();
    let targets = Targets {
        user_id: me.user.as_ref().unwrap().id.clone(),
        other_session_id: other.session.as_ref().unwrap().id.clone(),
        own_session_id: me.session.as_ref().unwrap().id.clone(),
        passkey_id: passkey.id,
    };
    let store = server.app.services().store();

    for (rpc, needs) in POLICY {
        let before = store.row_counts().await.unwrap();
        let result = call(&server, rpc, &access, &targets).await;
        match needs {
            AnyCredential => {
                assert!(result.is_ok(), "{rpc} reads with an access token: {result:?}");
                assert_eq!(store.row_counts().await.unwrap(), before, "{rpc} wrote");
            }
            SessionToken | RecentSessionToken => {
                let status = result.expect_err(rpc);
                assert_eq!(
                    (status.code(), reason(&status).as_str()),
                    (Code::PermissionDenied, "SESSION_TOKEN_REQUIRED"),
                    "{rpc}"
                );
                assert_eq!(store.row_counts().await.unwrap(), before, "{rpc} was refused but wrote");
            }
            ApiKey(scope) => {
                let status = result.expect_err(rpc);
                assert_eq!(
                    (status.code(), reason(&status).as_str()),
                    (Code::Unauthenticated, "API_KEY_INVALID"),
                    "{rpc} (needs {scope}) took a user's access token"
                );
                // Its `admin.refused` audit row (service/refusals.rs) and nothing else.
                let after = store.row_counts().await.unwrap();
                let audited = keyward::store::RowCounts { audit_events: before.audit_events, ..after };
                assert_eq!(audited, before, "{rpc} was refused but wrote");
                assert!(after.audit_events - before.audit_events <= 1, "{rpc}: one refusal row at most");
            }
            Nothing => {
                // Not user-scoped: the access token is neither asked for nor taken for anything.
                if let Err(status) = &result {
                    assert_ne!(reason(status), "SESSION_TOKEN_REQUIRED", "{rpc}");
                }
            }
        }
        // Whatever was called, the session behind the access token is intact.
        assert!(get_session(&mut auth, &access).await.is_ok(), "{rpc} ended the access token's session");
    }
    // The rows the refused calls aimed at are untouched.
    assert!(get_session(&mut auth, &other.session_token).await.is_ok());
    let left = passkey_client
        .list_passkeys(bearer(pb::ListPasskeysRequest::default(), &me.session_token))
        .await
        .unwrap()
        .into_inner()
        .passkeys;
    assert_eq!(left.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["Mine"]);
    let user = get_session(&mut auth, &me.session_token).await.unwrap().user.unwrap();
    assert_eq!(user.name, "Test User");
    assert!(login(&mut auth, "policy@example.com", PASSWORD).await.is_ok(), "the password did not change");
    server.stop().await;
}
