//! Single use across replicas with SQLite's one writer connection per replica: two replicas
//! racing to finish the same passkey sign-in both take the ceremony with `DELETE … RETURNING`
//! on their own writer, and exactly one of them signs in.

use keyward::pb::{self, passkey_service_client::PasskeyServiceClient};

use crate::{
    common::{Backend, TestServer, both_backends, reason},
    passkey_authenticator::TestPasskey,
    passkeys::{passkeys, sign_up_with_passkey},
};

both_backends!(two_replicas_racing_one_ceremony_sign_in_once);

async fn two_replicas_racing_one_ceremony_sign_in_once(backend: Backend) {
    let first = TestServer::start(backend).await;
    let second = first.start_replica().await;
    let mut here = passkeys(&first).await;
    let mut there = PasskeyServiceClient::connect(format!("http://{}", second.local_addr())).await.unwrap();
    let mut key = TestPasskey::new();
    sign_up_with_passkey(&mut here, &mut there, &mut key, "race@example.com").await;
    let sessions_before = first.app.services().store().row_counts().await.unwrap();

    let start = here.start_passkey_login(pb::StartPasskeyLoginRequest::default()).await.unwrap().into_inner();
    let credential_json = key.get(&start.options_json);
    let finish = || pb::FinishPasskeyLoginRequest {
        ceremony_id: start.ceremony_id.clone(),
        credential_json: credential_json.clone(),
    };
    let (a, b) = tokio::join!(here.finish_passkey_login(finish()), there.finish_passkey_login(finish()));

    let (won, lost) = match (a, b) {
        (Ok(won), Err(lost)) | (Err(lost), Ok(won)) => (won, lost),
        (a, b) => panic!("exactly one finish must win: {a:?} / {b:?}"),
    };
    assert!(won.into_inner().signed_in.is_some());
    assert_eq!(reason(&lost), "CEREMONY_NOT_FOUND");
    let sessions_after = first.app.services().store().row_counts().await.unwrap();
    assert_eq!(sessions_after.sessions, sessions_before.sessions + 1, "one sign-in, one session");
    second.shutdown().await.unwrap();
    first.stop().await;
}
