//! webauthn-rs setup and the few adjustments Keyward makes around it. Verification itself is
//! webauthn-rs's; nothing here checks a signature.

use serde_json::Value;
use webauthn_rs::prelude::{Url, Webauthn, WebauthnBuilder};

use crate::config::{Config, UserVerification};

/// The relying party from config: rp id, name, and every allowed origin. The first origin on the
/// rp id anchors the builder (webauthn-rs requires it); the rest are appended as allowed origins
/// (related origins and native-app origins included).
pub fn relying_party(config: &Config) -> Result<Webauthn, String> {
    let origins = config
        .passkey_origins()
        .iter()
        .map(|origin| Url::parse(origin).map_err(|err| format!("rp_origins: {origin:?}: {err}")))
        .collect::<Result<Vec<_>, _>>()?;
    let is_on_rp_id = |url: &Url| {
        url.domain().is_some_and(|domain| domain == config.rp_id || domain.ends_with(&format!(".{}", config.rp_id)))
    };
    let anchor = origins.iter().find(|url| is_on_rp_id(url)).ok_or("rp_origins: no origin on rp_id")?;
    let mut builder = WebauthnBuilder::new(&config.rp_id, anchor)
        .map_err(|err| format!("rp_id / rp_origins rejected by webauthn-rs: {err}"))?
        .rp_name(&config.rp_name)
        .timeout(config.ceremony_ttl());
    for origin in origins.iter().filter(|url| *url != anchor) {
        builder = builder.append_allowed_origin(origin);
    }
    builder.build().map_err(|err| format!("webauthn configuration: {err}"))
}

fn policy_name(uv: UserVerification) -> &'static str {
    match uv {
        UserVerification::Required => "required",
        UserVerification::Preferred => "preferred",
    }
}

/// Creation options as Keyward sends them: a discoverable credential is required (so username-less
/// and autofill sign-in work), user verification as configured. webauthn-rs's passkey builder
/// asks for neither, so the WebAuthn L3 `authenticatorSelection` is set here.
pub fn adjust_creation_options(options: &mut Value, uv: UserVerification) {
    if let Some(selection) = options.get_mut("authenticatorSelection").and_then(Value::as_object_mut) {
        selection.insert("residentKey".into(), "required".into());
        selection.insert("requireResidentKey".into(), true.into());
        selection.insert("userVerification".into(), policy_name(uv).into());
    } else if let Some(object) = options.as_object_mut() {
        object.insert(
            "authenticatorSelection".into(),
            serde_json::json!({ "residentKey": "required", "requireResidentKey": true, "userVerification": policy_name(uv) }),
        );
    }
}

/// Request options with the configured user verification.
pub fn adjust_request_options(options: &mut Value, uv: UserVerification) {
    if let Some(object) = options.as_object_mut() {
        object.insert("userVerification".into(), policy_name(uv).into());
    }
}

/// The serialized ceremony state must check user verification the same way the options asked
/// for it, or a "preferred" ceremony would fail at finish for an authenticator without UV.
/// webauthn-rs keeps the policy in the (serialisable) state as `policy`.
pub fn adjust_state_policy(state: &mut Value, uv: UserVerification) {
    fn visit(value: &mut Value, policy: &str) {
        match value {
            Value::Object(map) => {
                for (key, child) in map.iter_mut() {
                    if key == "policy" && child.is_string() {
                        *child = policy.into();
                    } else {
                        visit(child, policy);
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|item| visit(item, policy)),
            _ => {}
        }
    }
    visit(state, policy_name(uv));
}

/// What the attested credential data in authData says about a new credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttestedCredential {
    /// The authenticator model; None for the all-zero AAGUID.
    pub aaguid: Option<uuid::Uuid>,
    /// The credential public key as COSE_Key CBOR (what Auth.js keeps in credential_public_key).
    pub public_key_cose: Vec<u8>,
}

/// Reads the attested credential data: rpIdHash (32) ‖ flags (1) ‖ signCount (4) ‖ AAGUID (16) ‖
/// credentialIdLength (2) ‖ credentialId ‖ credentialPublicKey (COSE_Key) ‖ … (WebAuthn L3
/// §6.5.1). Call only after webauthn-rs verified the registration.
pub fn attested_credential(attestation_object: &[u8]) -> Option<AttestedCredential> {
    use serde_cbor_2::Value;
    let Value::Map(map) = serde_cbor_2::from_slice::<Value>(attestation_object).ok()? else { return None };
    let auth_data = map.iter().find_map(|(key, value)| match (key, value) {
        (Value::Text(key), Value::Bytes(bytes)) if key == "authData" => Some(bytes),
        _ => None,
    })?;
    let aaguid = uuid::Uuid::from_bytes(auth_data.get(37..53)?.try_into().ok()?);
    let id_len = usize::from(u16::from_be_bytes(auth_data.get(53..55)?.try_into().ok()?));
    let key_bytes = auth_data.get(55 + id_len..)?;
    // The COSE key is one CBOR item; extensions may follow it.
    let key: Value = serde_cbor_2::Deserializer::from_slice(key_bytes).into_iter().next()?.ok()?;
    Some(AttestedCredential {
        aaguid: (!aaguid.is_nil()).then_some(aaguid),
        public_key_cose: serde_cbor_2::to_vec(&key).ok()?,
    })
}
