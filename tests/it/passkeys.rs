//! Passkey ceremonies over real gRPC with a software authenticator: add to a password account,
//! sign in discoverably and by email, manage; passkey-only sign-up; two replicas; the L3 JSON.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use keyward::pb::{self, passkey_service_client::PasskeyServiceClient};
use serde_json::Value;
use tonic::{Code, transport::Channel};

use crate::{
    common::{Backend, TestServer, bearer, both_backends, get_session, reason, register},
    passkey_authenticator::{TestPasskey, as_browser_registration_json, user_handle_bytes},
};

both_backends!(add_passkey_sign_in_and_manage, passkey_only_sign_up, two_replicas_share_ceremonies);

pub async fn passkeys(server: &TestServer) -> PasskeyServiceClient<Channel> {
    PasskeyServiceClient::connect(server.base_url()).await.unwrap()
}

/// Adds a passkey to the account behind `session_token` through a full ceremony.
pub async fn add_passkey(
    client: &mut PasskeyServiceClient<Channel>,
    authenticator: &mut TestPasskey,
    session_token: &str,
    name: &str,
) -> pb::Passkey {
    add_passkey_edited(client, authenticator, session_token, name, |credential| credential).await
}

/// `add_passkey`, with the credential JSON changed by `edit` on its way to the server.
pub async fn add_passkey_edited(
    client: &mut PasskeyServiceClient<Channel>,
    authenticator: &mut TestPasskey,
    session_token: &str,
    name: &str,
    edit: impl FnOnce(String) -> String,
) -> pb::Passkey {
    let start = client
        .start_passkey_registration(bearer(pb::StartPasskeyRegistrationRequest {}, session_token))
        .await
        .unwrap()
        .into_inner();
    let credential_json = edit(authenticator.create(&start.options_json));
    client
        .finish_passkey_registration(bearer(
            pb::FinishPasskeyRegistrationRequest {
                ceremony_id: start.ceremony_id,
                credential_json,
                name: name.into(),
                revoke_other_sessions: false,
            },
            session_token,
        ))
        .await
        .unwrap()
        .into_inner()
        .passkey
        .unwrap()
}

/// Renames one of the caller's passkeys and returns it.
async fn rename_passkey(
    client: &mut PasskeyServiceClient<Channel>,
    session_token: &str,
    passkey_id: &str,
    name: &str,
) -> pb::Passkey {
    let request = pb::RenamePasskeyRequest { passkey_id: passkey_id.into(), name: name.into() };
    client.rename_passkey(bearer(request, session_token)).await.unwrap().into_inner().passkey.unwrap()
}

/// Creates a passwordless account through a full sign-up ceremony, started through `start_on`
/// and finished through `finish_on` (the same server, or two replicas).
pub async fn sign_up_with_passkey(
    start_on: &mut PasskeyServiceClient<Channel>,
    finish_on: &mut PasskeyServiceClient<Channel>,
    authenticator: &mut TestPasskey,
    email: &str,
) -> pb::FinishPasskeySignUpResponse {
    let start = start_on
        .start_passkey_sign_up(pb::StartPasskeySignUpRequest { email: email.into(), name: String::new() })
        .await
        .unwrap()
        .into_inner();
    let credential_json = authenticator.create(&start.options_json);
    finish_on
        .finish_passkey_sign_up(pb::FinishPasskeySignUpRequest {
            ceremony_id: start.ceremony_id,
            credential_json,
            passkey_name: String::new(),
            code: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
}

/// Signs in with a passkey (discoverable when `email` is empty).
pub async fn passkey_login(
    client: &mut PasskeyServiceClient<Channel>,
    authenticator: &mut TestPasskey,
    email: &str,
) -> Result<tonic::Response<pb::FinishPasskeyLoginResponse>, tonic::Status> {
    let start = client.start_passkey_login(pb::StartPasskeyLoginRequest { email: email.into() }).await?.into_inner();
    let credential_json = authenticator.get(&start.options_json);
    client.finish_passkey_login(pb::FinishPasskeyLoginRequest { ceremony_id: start.ceremony_id, credential_json }).await
}

async fn add_passkey_sign_in_and_manage(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut auth = server.auth().await;
    let mut client = passkeys(&server).await;
    let signed_up = register(&mut auth, "ada@example.com").await;
    let user_id = signed_up.user.as_ref().unwrap().id.clone();
    let mut laptop = TestPasskey::new();

    let added = add_passkey(&mut client, &mut laptop, &signed_up.session_token, "Laptop").await;
    assert_eq!(added.name, "Laptop");
    assert_eq!(Some(&added.credential_id), laptop.last_credential_id.as_ref());
    assert_eq!(added.device_type(), pb::PasskeyDeviceType::SingleDevice);
    assert!(!added.backup_eligible && !added.backed_up);
    assert!(added.last_used_time.is_none());

    // A second registration excludes the credential already registered.
    let again = client
        .start_passkey_registration(bearer(pb::StartPasskeyRegistrationRequest {}, &signed_up.session_token))
        .await
        .unwrap()
        .into_inner();
    let options: Value = serde_json::from_str(&again.options_json).unwrap();
    assert_eq!(options["excludeCredentials"][0]["id"], added.credential_id.as_str());

    auth.logout(bearer(pb::LogoutRequest {}, &signed_up.session_token)).await.unwrap();

    // Discoverable (username-less) sign-in: session, access token and cookie, like Login.
    let response = passkey_login(&mut client, &mut laptop, "").await.unwrap();
    let cookie = response.metadata().get("set-cookie").unwrap().to_str().unwrap().to_owned();
    let signed_in = response.into_inner().signed_in.unwrap();
    assert!(cookie.starts_with(&format!("{}={};", crate::common::COOKIE, signed_in.session_token)));
    assert_eq!(signed_in.user.as_ref().unwrap().id, user_id);
    assert!(signed_in.access_token.is_some());
    assert_eq!(get_session(&mut auth, &signed_in.session_token).await.unwrap().user.unwrap().id, user_id);

    // Email-scoped sign-in: allowCredentials lists exactly this user's passkey.
    let start = client
        .start_passkey_login(pb::StartPasskeyLoginRequest { email: "ADA@example.com".into() })
        .await
        .unwrap()
        .into_inner();
    let options: Value = serde_json::from_str(&start.options_json).unwrap();
    assert_eq!(options["allowCredentials"].as_array().unwrap().len(), 1);
    assert_eq!(options["allowCredentials"][0]["id"], added.credential_id.as_str());
    let credential_json = laptop.get(&start.options_json);
    let by_email = client
        .finish_passkey_login(pb::FinishPasskeyLoginRequest { ceremony_id: start.ceremony_id, credential_json })
        .await
        .unwrap()
        .into_inner()
        .signed_in
        .unwrap();
    let token = by_email.session_token;

    // The counter and last use were recorded.
    let listed = client.list_passkeys(bearer(pb::ListPasskeysRequest::default(), &token)).await.unwrap().into_inner();
    assert_eq!(listed.passkeys.len(), 1);
    assert!(listed.passkeys[0].last_used_time.is_some());
    let stored = server.app.services().store().user_authenticators(&user_id).await.unwrap();
    assert_eq!(stored[0].counter, 2, "two sign-ins, each counted");

    // Rename, then delete (allowed: the password remains).
    let renamed = rename_passkey(&mut client, &token, &added.id, "Work laptop").await;
    assert_eq!(renamed.name, "Work laptop");
    client
        .delete_passkey(bearer(
            pb::DeletePasskeyRequest { passkey_id: added.id.clone(), keep_other_sessions: false },
            &token,
        ))
        .await
        .unwrap();
    let listed = client.list_passkeys(bearer(pb::ListPasskeysRequest::default(), &token)).await.unwrap().into_inner();
    assert!(listed.passkeys.is_empty());

    // A deleted passkey no longer signs in, with a reason the client can act on.
    let err = passkey_login(&mut client, &mut laptop, "").await.unwrap_err();
    assert_eq!((err.code(), reason(&err).as_str()), (Code::Unauthenticated, "PASSKEY_UNKNOWN"));
    // ... and is a failed sign-in in the audit log (and so a `signin.failed` webhook).
    let auditor = crate::admin::key(&server, &[keyward::domain::ApiScope::AuditRead]).await;
    let failed = pb::ListAuditEventsRequest { kind: "login.failed".into(), ..Default::default() };
    let failed = crate::admin::admin(&server).await.list_audit_events(bearer(failed, &auditor)).await.unwrap();
    let failed = failed.into_inner().audit_events;
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(failed[0].detail_json.contains(r#""method":"passkey""#), "{failed:?}");

    let kinds = server.app.services().store().audit_event_kinds(&user_id).await.unwrap();
    for kind in ["passkey.added", "passkey.renamed", "passkey.deleted"] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} missing from {kinds:?}");
    }
    server.stop().await;
}

async fn passkey_only_sign_up(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut auth = server.auth().await;
    let mut client = passkeys(&server).await;
    let mut phone = TestPasskey::new();

    let start = client
        .start_passkey_sign_up(pb::StartPasskeySignUpRequest {
            email: "grace@example.com".into(),
            name: "Grace".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let credential_json = phone.create(&start.options_json);
    let response = client
        .finish_passkey_sign_up(pb::FinishPasskeySignUpRequest {
            ceremony_id: start.ceremony_id,
            credential_json,
            passkey_name: "Phone".into(),
            code: String::new(),
        })
        .await
        .unwrap();
    assert!(response.metadata().get("set-cookie").is_some());
    let response = response.into_inner();
    let signed_in = response.signed_in.unwrap();
    let user = signed_in.user.unwrap();
    assert_eq!((user.email.as_str(), user.name.as_str(), user.has_password), ("grace@example.com", "Grace", false));
    // The authenticator stores the user id as its user handle.
    assert_eq!(user_handle_bytes(&start.options_json), uuid::Uuid::parse_str(&user.id).unwrap().as_bytes());
    let passkey = response.passkey.unwrap();
    assert_eq!(passkey.name, "Phone");

    // The only way in cannot be deleted.
    let err = client
        .delete_passkey(bearer(
            pb::DeletePasskeyRequest { passkey_id: passkey.id.clone(), keep_other_sessions: false },
            &signed_in.session_token,
        ))
        .await
        .unwrap_err();
    assert_eq!((err.code(), reason(&err).as_str()), (Code::FailedPrecondition, "LAST_SIGN_IN_METHOD"));
    let listed = client
        .list_passkeys(bearer(pb::ListPasskeysRequest::default(), &signed_in.session_token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.passkeys.len(), 1);

    // The new account signs in with its passkey, and not with a password.
    let again = passkey_login(&mut client, &mut phone, "").await.unwrap().into_inner().signed_in.unwrap();
    assert_eq!(again.user.unwrap().id, user.id);
    assert!(crate::common::login(&mut auth, "grace@example.com", crate::common::PASSWORD).await.is_err());

    // The email is now taken, for password and passkey sign-up alike.
    let err = client
        .start_passkey_sign_up(pb::StartPasskeySignUpRequest { email: "Grace@example.com".into(), name: String::new() })
        .await
        .unwrap_err();
    assert_eq!((err.code(), reason(&err).as_str()), (Code::AlreadyExists, "EMAIL_TAKEN"));
    server.stop().await;
}

async fn two_replicas_share_ceremonies(backend: Backend) {
    let first = TestServer::start(backend).await;
    let second = first.start_replica().await;
    let mut first_client = passkeys(&first).await;
    let mut second_client = PasskeyServiceClient::connect(format!("http://{}", second.local_addr())).await.unwrap();
    let mut key = TestPasskey::new();

    // Start the sign-up on one replica, finish it on the other.
    let signed_up = sign_up_with_passkey(&mut first_client, &mut second_client, &mut key, "replica@example.com").await;
    let token = signed_up.signed_in.unwrap().session_token;

    // Add a second passkey: started on the second replica, finished on the first.
    let mut other_key = TestPasskey::new();
    let start = second_client
        .start_passkey_registration(bearer(pb::StartPasskeyRegistrationRequest {}, &token))
        .await
        .unwrap()
        .into_inner();
    let credential_json = other_key.create(&start.options_json);
    first_client
        .finish_passkey_registration(bearer(
            pb::FinishPasskeyRegistrationRequest {
                ceremony_id: start.ceremony_id,
                credential_json,
                name: String::new(),
                revoke_other_sessions: false,
            },
            &token,
        ))
        .await
        .unwrap();

    // Sign in on the second replica with the passkey registered through the first.
    let signed_in = passkey_login(&mut second_client, &mut key, "replica@example.com").await.unwrap().into_inner();
    assert_eq!(signed_in.signed_in.unwrap().user.unwrap().email, "replica@example.com");
    second.shutdown().await.unwrap();
    first.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn options_and_credentials_use_the_webauthn_l3_json_forms() {
    let server = TestServer::start(Backend::Sqlite).await;
    let mut auth = server.auth().await;
    let mut client = passkeys(&server).await;
    let user = register(&mut auth, "shape@example.com").await;
    let b64url = |value: &Value| {
        let text = value.as_str().unwrap_or_else(|| panic!("{value} is not a string"));
        URL_SAFE_NO_PAD.decode(text).unwrap_or_else(|_| panic!("{text} is not unpadded base64url"))
    };

    // PublicKeyCredentialCreationOptionsJSON (L3 §5.4): no `publicKey` wrapper, binary as base64url.
    let start = client
        .start_passkey_registration(bearer(pb::StartPasskeyRegistrationRequest {}, &user.session_token))
        .await
        .unwrap()
        .into_inner();
    let options: Value = serde_json::from_str(&start.options_json).unwrap();
    assert!(options.get("publicKey").is_none() && options.get("mediation").is_none());
    assert!(b64url(&options["challenge"]).len() >= 16, "challenge has at least 16 random bytes");
    assert_eq!(options["rp"]["id"], "localhost");
    assert_eq!(options["rp"]["name"], "Keyward");
    assert_eq!(
        b64url(&options["user"]["id"]),
        uuid::Uuid::parse_str(&user.user.as_ref().unwrap().id).unwrap().as_bytes()
    );
    assert_eq!(options["user"]["name"], "shape@example.com");
    assert_eq!(options["user"]["displayName"], "Test User");
    let algs: Vec<i64> = options["pubKeyCredParams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            assert_eq!(p["type"], "public-key");
            p["alg"].as_i64().unwrap()
        })
        .collect();
    assert!(algs.contains(&-7), "ES256 offered: {algs:?}");
    assert!(options["timeout"].as_u64().unwrap() > 0);
    assert_eq!(options["attestation"], "none");
    assert_eq!(options["excludeCredentials"], serde_json::json!([]));
    let selection = &options["authenticatorSelection"];
    assert_eq!(
        (selection["residentKey"].as_str(), selection["requireResidentKey"].as_bool()),
        (Some("required"), Some(true))
    );
    assert_eq!(selection["userVerification"], "preferred");
    assert_eq!(options["extensions"]["credProps"], true);

    // What a browser's toJSON() returns is accepted as is.
    let mut key = TestPasskey::new();
    let credential_json = as_browser_registration_json(&key.create(&start.options_json));
    let credential: Value = serde_json::from_str(&credential_json).unwrap();
    assert!(credential.get("clientExtensionResults").is_some() && credential.get("extensions").is_none());
    b64url(&credential["rawId"]);
    b64url(&credential["response"]["clientDataJSON"]);
    b64url(&credential["response"]["attestationObject"]);
    client
        .finish_passkey_registration(bearer(
            pb::FinishPasskeyRegistrationRequest {
                ceremony_id: start.ceremony_id,
                credential_json,
                name: String::new(),
                revoke_other_sessions: false,
            },
            &user.session_token,
        ))
        .await
        .unwrap();

    // PublicKeyCredentialRequestOptionsJSON (L3 §5.5).
    let start = client.start_passkey_login(pb::StartPasskeyLoginRequest::default()).await.unwrap().into_inner();
    let options: Value = serde_json::from_str(&start.options_json).unwrap();
    assert!(options.get("publicKey").is_none());
    b64url(&options["challenge"]);
    assert_eq!(options["rpId"], "localhost");
    assert_eq!(options["userVerification"], "preferred");
    assert!(options["allowCredentials"].as_array().is_none_or(Vec::is_empty), "discoverable: {options}");

    // An email without an account gets options of the same shape as a real account's: entries
    // with the same members, stable per email, their number, id lengths and transports drawn
    // from the kinds real authenticators produce (one entry with a 32-byte id every time would
    // tell decoys apart).
    let allow = |email: String| {
        let mut client = client.clone();
        async move {
            let start = client.start_passkey_login(pb::StartPasskeyLoginRequest { email }).await.unwrap().into_inner();
            serde_json::from_str::<Value>(&start.options_json).unwrap()["allowCredentials"].as_array().unwrap().clone()
        }
    };
    let real = allow("shape@example.com".into()).await;
    let members = |entry: &Value| entry.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    let unknown = allow("nobody@example.com".into()).await;
    assert_eq!(unknown, allow("nobody@example.com".into()).await, "the decoy is stable, like a real credential");
    let (mut counts, mut lengths, mut transports) =
        (std::collections::HashSet::new(), std::collections::HashSet::new(), std::collections::HashSet::new());
    for n in 0..60 {
        let decoy = allow(format!("nobody{n}@example.com")).await;
        counts.insert(decoy.len());
        for entry in &decoy {
            assert_eq!(members(entry), members(&real[0]));
            lengths.insert(b64url(&entry["id"]).len());
            transports.insert(entry["transports"].to_string());
        }
    }
    assert!(counts.len() > 1 && lengths.len() > 2 && transports.len() > 1, "{counts:?} {lengths:?} {transports:?}");
    assert!(lengths.iter().all(|len| (16..=64).contains(len)), "{lengths:?}");

    // The relying party publishes its related origins.
    let well_known: Value =
        reqwest::get(format!("{}/.well-known/webauthn", server.base_url())).await.unwrap().json().await.unwrap();
    assert_eq!(
        well_known["origins"],
        serde_json::json!([crate::common::PASSKEY_ORIGIN, crate::common::RELATED_ORIGIN])
    );
    server.stop().await;
}

/// Rewrites a registration's attestation as a passkey provider sends it: `none` attestation
/// (synced passkeys have no attestation statement) and the provider's AAGUID in authData.
fn with_provider_aaguid(credential_json: &str, aaguid: uuid::Uuid) -> String {
    use serde_cbor_2::Value as Cbor;
    let mut credential: Value = serde_json::from_str(credential_json).unwrap();
    let object = URL_SAFE_NO_PAD.decode(credential["response"]["attestationObject"].as_str().unwrap()).unwrap();
    let Cbor::Map(map) = serde_cbor_2::from_slice::<Cbor>(&object).unwrap() else { panic!("not a CBOR map") };
    let mut auth_data = map
        .iter()
        .find_map(|(key, value)| match (key, value) {
            (Cbor::Text(key), Cbor::Bytes(bytes)) if key == "authData" => Some(bytes.clone()),
            _ => None,
        })
        .unwrap();
    // rpIdHash (32) ‖ flags (1) ‖ signCount (4) ‖ AAGUID (16) ‖ …
    auth_data[37..53].copy_from_slice(aaguid.as_bytes());
    let rewritten = Cbor::Map(
        [
            (Cbor::Text("fmt".into()), Cbor::Text("none".into())),
            (Cbor::Text("attStmt".into()), Cbor::Map(Default::default())),
            (Cbor::Text("authData".into()), Cbor::Bytes(auth_data)),
        ]
        .into_iter()
        .collect(),
    );
    credential["response"]["attestationObject"] =
        URL_SAFE_NO_PAD.encode(serde_cbor_2::to_vec(&rewritten).unwrap()).into();
    credential.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unnamed_passkey_is_named_after_its_provider() {
    let server = TestServer::start(Backend::Sqlite).await;
    let mut auth = server.auth().await;
    let mut client = passkeys(&server).await;
    let token = register(&mut auth, "provider-name@example.com").await.session_token;
    let google = uuid::Uuid::parse_str("ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4").unwrap();

    let named = add_passkey_edited(&mut client, &mut TestPasskey::new(), &token, "", |credential| {
        with_provider_aaguid(&credential, google)
    })
    .await;
    assert_eq!(named.aaguid, google.hyphenated().to_string());
    assert_eq!(
        (named.name.as_str(), named.provider_name.as_str()),
        ("Google Password Manager", "Google Password Manager")
    );

    // An AAGUID nobody lists (SoftPasskey's is all zeros): a dated name, no provider.
    let unknown = add_passkey(&mut client, &mut TestPasskey::new(), &token, "").await;
    assert!(unknown.name.starts_with("Passkey added "), "{}", unknown.name);
    assert_eq!((unknown.aaguid.as_str(), unknown.provider_name.as_str()), ("", ""));

    // A name the user gives wins; the provider is still reported, also when listing.
    let renamed = rename_passkey(&mut client, &token, &named.id, "Work phone").await;
    assert_eq!((renamed.name.as_str(), renamed.provider_name.as_str()), ("Work phone", "Google Password Manager"));
    let listed =
        client.list_passkeys(bearer(pb::ListPasskeysRequest::default(), &token)).await.unwrap().into_inner().passkeys;
    assert!(listed.iter().any(|p| p.id == named.id && p.provider_name == "Google Password Manager"));
    server.stop().await;
}
