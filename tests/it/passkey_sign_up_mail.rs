//! Passkey-only sign-up under `require_email_verification`, against the SMTP receiver:
//! StartPasskeySignUp answers a taken address exactly as a free one (status, shape, rows
//! written) and mails each what it needs — a code to the free address, "you already have an
//! account" to the taken one — and the ceremony finishes only with the mailed code, once.

use keyward::pb::{self, passkey_service_client::PasskeyServiceClient};
use serde_json::Value;
use tonic::{Code, transport::Channel};

use crate::{
    common::{Backend, TestServer, both_backends, get_session, reason, register_unverified, violations},
    passkey_authenticator::TestPasskey,
    passkeys::passkeys,
    smtp_server::SmtpServer,
};

both_backends!(sign_up_mails_first_and_answers_taken_and_free_alike);

/// `value` with every leaf replaced by its type: what the answer looks like, not what it says.
fn shape(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), shape(v))).collect()),
        Value::Array(items) => Value::Array(items.iter().map(shape).collect()),
        Value::String(_) => "string".into(),
        Value::Number(_) => "number".into(),
        Value::Bool(_) => "bool".into(),
        Value::Null => Value::Null,
    }
}

async fn start(client: &mut PasskeyServiceClient<Channel>, email: &str) -> pb::StartPasskeySignUpResponse {
    client
        .start_passkey_sign_up(pb::StartPasskeySignUpRequest { email: email.into(), name: String::new() })
        .await
        .unwrap()
        .into_inner()
}

async fn finish(
    client: &mut PasskeyServiceClient<Channel>,
    started: &pb::StartPasskeySignUpResponse,
    code: &str,
) -> Result<pb::FinishPasskeySignUpResponse, tonic::Status> {
    let credential_json = TestPasskey::new().create(&started.options_json);
    let request = pb::FinishPasskeySignUpRequest {
        ceremony_id: started.ceremony_id.clone(),
        credential_json,
        passkey_name: String::new(),
        code: code.into(),
    };
    Ok(client.finish_passkey_sign_up(request).await?.into_inner())
}

fn code_in(text: &str) -> String {
    let at = text.find("enter this code: ").unwrap_or_else(|| panic!("no code in {text}")) + "enter this code: ".len();
    text[at..at + 6].to_owned()
}

async fn sign_up_mails_first_and_answers_taken_and_free_alike(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let server = TestServer::start_with(backend, |config| {
        config.email.smtp_url = Some(keyward::config::Secret::new(smtp.url()));
        config.require_email_verification = true;
        config.rp_name = "Acme".into();
    })
    .await;
    let (mut auth, mut client) = (server.auth().await, passkeys(&server).await);
    // Under verification Register answers before it creates the account: its mail (the
    // verification link) is the sign that the address is taken now.
    register_unverified(&mut auth, "taken@example.com").await;
    smtp.wait_for(1).await;
    let store = server.app.services().store().clone();

    // The same answer for both: OK, a ceremony of the same shape, the same rows written.
    let before = store.row_counts().await.unwrap();
    let free = start(&mut client, "new@example.com").await;
    let after_free = store.row_counts().await.unwrap();
    let taken = start(&mut client, "taken@example.com").await;
    let after_taken = store.row_counts().await.unwrap();
    assert_eq!(free.ceremony_id.len(), taken.ceremony_id.len());
    let options = |start: &pb::StartPasskeySignUpResponse| serde_json::from_str::<Value>(&start.options_json).unwrap();
    assert_eq!(shape(&options(&free)), shape(&options(&taken)), "the same options shape");
    assert_eq!(
        (after_free.ceremonies - before.ceremonies, after_free.users),
        (after_taken.ceremonies - after_free.ceremonies, before.users),
        "one ceremony each, no user"
    );

    // Each address is told what it needs.
    let mails = smtp.wait_for(3).await;
    let to_free = mails.iter().find(|m| m.to == ["new@example.com"]).unwrap();
    let to_taken = mails.iter().rfind(|m| m.to == ["taken@example.com"]).unwrap();
    let code = code_in(&to_free.text());
    assert!(to_taken.text().contains("you already have one"), "{}", to_taken.text());
    assert!(!to_taken.text().contains("enter this code"), "no code for a taken address");

    // No code: refused before the ceremony is touched. A taken address: no code works.
    let missing = finish(&mut client, &free, "").await.unwrap_err();
    assert_eq!((missing.code(), reason(&missing).as_str()), (Code::InvalidArgument, "FIELD_REQUIRED"));
    assert!(violations(&missing).contains_key("code"));
    for guess in [code.as_str(), "000000"] {
        let retry = start(&mut client, "taken@example.com").await;
        let refused = finish(&mut client, &retry, guess).await.unwrap_err();
        assert_eq!(reason(&refused), "VERIFICATION_CODE_INVALID", "taken address, code {guess}");
    }
    let refused = finish(&mut client, &taken, &code).await.unwrap_err();
    assert_eq!(reason(&refused), "VERIFICATION_CODE_INVALID");
    assert_eq!(store.row_counts().await.unwrap().users, before.users, "no account for the taken address");

    // The free address: the mailed code finishes the sign-up, and proves the address.
    let signed_in = finish(&mut client, &free, &code).await.unwrap().signed_in.unwrap();
    let session = get_session(&mut auth, &signed_in.session_token).await.unwrap();
    let user = session.user.unwrap();
    assert_eq!(user.email, "new@example.com");
    assert!(user.email_verify_time.is_some(), "the code proved the address");

    // One try per ceremony: a wrong code spends it, and the right one cannot follow.
    let another = start(&mut client, "third@example.com").await;
    let mails = smtp.wait_for(6).await;
    let third = code_in(&mails.iter().find(|m| m.to == ["third@example.com"]).unwrap().text());
    let wrong = if third == "000000" { "000001" } else { "000000" };
    assert_eq!(reason(&finish(&mut client, &another, wrong).await.unwrap_err()), "VERIFICATION_CODE_INVALID");
    assert!(finish(&mut client, &another, &third).await.is_err(), "the ceremony is spent");
    assert_eq!(store.row_counts().await.unwrap().users, before.users + 1);
    server.stop().await;
}
