//! Admin scopes for takeover-grade changes (issue 21 item 10): UpdateUser's `email` and
//! `email_verified` need `users:email`, its `roles` need `users:roles`, beside `users:write`;
//! refused without them, with nothing written or mailed. An email change by an operator ends
//! every session of the user and mails the old address, in the change's transaction.

use keyward::{domain::ApiScope, pb};
use tonic::Code;

use crate::{
    admin::{admin, key, mask},
    common::{Backend, PASSWORD, bearer, both_backends, get_session, login, reason, register},
    smtp_server::SmtpServer,
    verification::{mail_number, server_with},
};

both_backends!(email_and_roles_need_their_own_scopes);

async fn email_and_roles_need_their_own_scopes(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let server = server_with(backend, &smtp).await;
    let mut auth = server.auth().await;
    let mut client = admin(&server).await;
    let store = server.app.services().store().clone();
    let victim = register(&mut auth, "victim@example.com").await;
    let user_id = victim.user.as_ref().unwrap().id.clone();
    let second = login(&mut auth, "victim@example.com", PASSWORD).await.unwrap();
    let update = |paths: &[&str]| pb::AdminServiceUpdateUserRequest {
        user_id: user_id.clone(),
        update_mask: mask(paths),
        name: "Renamed".into(),
        email: "attacker@example.com".into(),
        email_verified: true,
        roles: vec!["admin".into()],
    };

    // users:write alone: the name, yes; the address, its verification and the roles, no.
    let write_only = key(&server, &[ApiScope::UsersWrite]).await;
    let before = store.find_user(&user_id).await.unwrap().unwrap();
    let counts = store.row_counts().await.unwrap();
    for (paths, scope) in [
        (&["email"][..], "users:email"),
        (&["email_verified"][..], "users:email"),
        (&["name", "email"][..], "users:email"),
        (&["roles"][..], "users:roles"),
        (&["name", "roles"][..], "users:roles"),
    ] {
        let status = client.update_user(bearer(update(paths), &write_only)).await.unwrap_err();
        assert_eq!((status.code(), reason(&status).as_str()), (Code::PermissionDenied, "API_KEY_SCOPE_MISSING"));
        assert_eq!(tonic_types::StatusExt::get_details_error_info(&status).unwrap().metadata["scope"], scope);
        assert_eq!(store.find_user(&user_id).await.unwrap().unwrap(), before, "{paths:?} changed the user");
        let now = store.row_counts().await.unwrap();
        assert_eq!((now.users, now.sessions, now.outbox), (counts.users, counts.sessions, counts.outbox), "{paths:?}");
    }
    for token in [&victim.session_token, &second.session_token] {
        get_session(&mut auth, token).await.expect("refused changes end no session");
    }
    let renamed = client.update_user(bearer(update(&["name"]), &write_only)).await.unwrap().into_inner();
    assert_eq!(renamed.user.unwrap().name, "Renamed");
    // Both scopes are needed: users:email alone does not reach UpdateUser.
    let email_only = key(&server, &[ApiScope::UsersEmail]).await;
    let status = client.update_user(bearer(update(&["email"]), &email_only)).await.unwrap_err();
    assert_eq!(reason(&status), "API_KEY_SCOPE_MISSING");

    // users:roles with users:write: the roles change.
    let roles = key(&server, &[ApiScope::UsersWrite, ApiScope::UsersRoles]).await;
    let user = client.update_user(bearer(update(&["roles"]), &roles)).await.unwrap().into_inner().user.unwrap();
    assert_eq!(user.roles, ["admin"]);
    assert!(smtp.mails().is_empty(), "a rename or a role change mails nobody");

    // users:email with users:write: the address moves, every session ends, the old address hears.
    let email = key(&server, &[ApiScope::UsersWrite, ApiScope::UsersEmail]).await;
    let request = bearer(update(&["email"]), &email);
    let user = client.update_user(request).await.unwrap().into_inner().user.unwrap();
    assert_eq!(user.email, "attacker@example.com");
    for token in [&victim.session_token, &second.session_token] {
        let status = get_session(&mut auth, token).await.unwrap_err();
        assert_eq!(reason(&status), "SESSION_INVALID", "a session outlived the email change");
    }
    let notice = mail_number(&smtp, 1).await;
    assert_eq!(notice.to, ["victim@example.com"]);
    assert_eq!(notice.header("Subject").as_deref(), Some("The email address of your Acme account was changed"));
    let text = notice.text();
    assert!(text.contains("attacker@example.com") && text.contains("administrator"), "{text}");
    assert!(text.contains("127.0.0.1"), "the notice names the client address: {text}");
    // Exactly one mail: the change, not the roles or the name.
    assert_eq!(smtp.mails().len(), 1);
    server.stop().await;
}
