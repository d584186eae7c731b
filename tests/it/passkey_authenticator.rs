//! A software passkey for tests: webauthn-authenticator-rs's `SoftPasskey` does the real
//! cryptography (key generation, attestation, assertion signatures). It keeps no resident-key
//! index and returns no user handle, so this wrapper adds exactly that part of a discoverable
//! authenticator: it remembers (credential id → user handle) at registration, answers an empty
//! allowCredentials by picking its credential for the rp (as a browser's account chooser would),
//! and fills `response.userHandle`, which the assertion signature does not cover.

use std::collections::HashMap;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use webauthn_authenticator_rs::{AuthenticatorBackend, WebauthnAuthenticator, softpasskey::SoftPasskey};
use webauthn_rs::prelude::{CreationChallengeResponse, RequestChallengeResponse, Url};

pub struct TestPasskey {
    soft: SoftPasskey,
    pub origin: Url,
    /// credential id (base64url) → user handle (base64url), per rp id.
    resident: HashMap<String, (String, String)>,
    /// The credential this authenticator offers for discoverable requests (the newest).
    pub last_credential_id: Option<String>,
}

impl TestPasskey {
    pub fn new() -> Self {
        Self::at(crate::common::PASSKEY_ORIGIN)
    }

    /// An authenticator that proves presence but does not verify the user (no PIN, no
    /// biometric): a single-factor passkey.
    pub fn without_user_verification() -> Self {
        Self { soft: SoftPasskey::new(false), ..Self::new() }
    }

    pub fn at(origin: &str) -> Self {
        Self {
            soft: SoftPasskey::new(true),
            origin: Url::parse(origin).unwrap(),
            resident: HashMap::new(),
            last_credential_id: None,
        }
    }

    /// navigator.credentials.create(parseCreationOptionsFromJSON(options)).toJSON()
    pub fn create(&mut self, options_json: &str) -> String {
        let options: Value = serde_json::from_str(options_json).unwrap();
        self.create_with(options)
    }

    pub fn create_with(&mut self, mut options: Value) -> String {
        // This wrapper is the resident-key store, so SoftPasskey (which refuses requests for
        // one) is asked for a plain credential.
        if let Some(selection) = options.get_mut("authenticatorSelection").and_then(Value::as_object_mut) {
            selection.insert("requireResidentKey".into(), false.into());
            selection.insert("residentKey".into(), "discouraged".into());
        }
        let rp_id = options["rp"]["id"].as_str().unwrap().to_owned();
        let user_handle = options["user"]["id"].as_str().unwrap().to_owned();
        let challenge: CreationChallengeResponse = serde_json::from_value(json!({ "publicKey": options })).unwrap();
        let credential = self.soft.do_registration(self.origin.clone(), challenge).expect("soft passkey registration");
        let id = credential.id.clone();
        self.resident.insert(id.clone(), (rp_id, user_handle));
        self.last_credential_id = Some(id);
        serde_json::to_string(&credential).unwrap()
    }

    /// navigator.credentials.get(parseRequestOptionsFromJSON(options)).toJSON()
    pub fn get(&mut self, options_json: &str) -> String {
        let mut options: Value = serde_json::from_str(options_json).unwrap();
        let rp_id = options["rpId"].as_str().unwrap().to_owned();
        let discoverable = options["allowCredentials"].as_array().is_none_or(Vec::is_empty);
        let chosen = if discoverable {
            let id = self.last_credential_id.clone().expect("no resident credential");
            assert_eq!(self.resident[&id].0, rp_id, "resident credential is for another rp");
            options["allowCredentials"] = json!([{ "type": "public-key", "id": id }]);
            Some(id)
        } else {
            None
        };
        let challenge: RequestChallengeResponse = serde_json::from_value(json!({ "publicKey": options })).unwrap();
        let assertion = self.soft.do_authentication(self.origin.clone(), challenge).expect("soft passkey assertion");
        let mut json = serde_json::to_value(&assertion).unwrap();
        if let Some(id) = chosen {
            json["response"]["userHandle"] = self.resident[&id].1.clone().into();
        }
        json.to_string()
    }
}

impl TestPasskey {
    /// An assertion as a native app's platform credential manager makes it: the same key, with
    /// an app origin (`android:apk-key-hash:…`) in clientDataJSON. Browsers' origin rules do
    /// not apply there, so this goes straight to the authenticator backend.
    pub fn get_from_app(&mut self, options_json: &str, app_origin: &str) -> String {
        let options: Value = serde_json::from_str(options_json).unwrap();
        let challenge: RequestChallengeResponse = serde_json::from_value(json!({ "publicKey": options })).unwrap();
        let assertion = self
            .soft
            .perform_auth(Url::parse(app_origin).unwrap(), challenge.public_key, 60_000)
            .expect("soft passkey assertion");
        serde_json::to_string(&assertion).unwrap()
    }
}

/// Rewrites a webauthn-rs-shaped credential into exactly what a browser's `toJSON()` returns
/// (WebAuthn L3 §5.1: RegistrationResponseJSON), extra members included.
pub fn as_browser_registration_json(credential_json: &str) -> String {
    let mut value: Value = serde_json::from_str(credential_json).unwrap();
    let object = value.as_object_mut().unwrap();
    let extensions = object.remove("extensions").unwrap_or(json!({}));
    object.insert("clientExtensionResults".into(), extensions);
    object.insert("authenticatorAttachment".into(), "platform".into());
    let response = object["response"].as_object_mut().unwrap();
    response.insert("publicKeyAlgorithm".into(), (-7).into());
    response.entry("transports").or_insert(json!(["internal", "hybrid"]));
    value.to_string()
}

/// The user handle a creation options JSON asks the authenticator to store.
pub fn user_handle_bytes(options_json: &str) -> Vec<u8> {
    let options: Value = serde_json::from_str(options_json).unwrap();
    URL_SAFE_NO_PAD.decode(options["user"]["id"].as_str().unwrap()).unwrap()
}
