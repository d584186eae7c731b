//! webauthn-rs setup and the few adjustments Keyward makes around it. Verification itself is
//! webauthn-rs's; nothing here checks a signature.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use webauthn_rs::prelude::{Url, Webauthn, WebauthnBuilder};

/// WebAuthn user verification requirement for passkeys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserVerification {
    Required,
    Preferred,
}

/// Who the relying party is (`rp_id`, `rp_name`, the passkey origins, the ceremony timeout).
#[derive(Debug, Clone)]
pub struct RelyingPartySettings {
    pub rp_id: String,
    pub rp_name: String,
    /// Every origin ceremonies may come from (web and native-app origins).
    pub origins: Vec<String>,
    pub ceremony_timeout: std::time::Duration,
}

/// The relying party: rp id, name, and every allowed origin. The first origin on the rp id
/// anchors the builder (webauthn-rs requires it); the rest are appended as allowed origins
/// (related origins and native-app origins included).
pub fn relying_party(settings: &RelyingPartySettings) -> Result<Webauthn, String> {
    let origins = settings
        .origins
        .iter()
        .map(|origin| Url::parse(origin).map_err(|err| format!("rp_origins: {origin:?}: {err}")))
        .collect::<Result<Vec<_>, _>>()?;
    let is_on_rp_id = |url: &Url| {
        url.domain().is_some_and(|domain| domain == settings.rp_id || domain.ends_with(&format!(".{}", settings.rp_id)))
    };
    let anchor = origins.iter().find(|url| is_on_rp_id(url)).ok_or("rp_origins: no origin on rp_id")?;
    let mut builder = WebauthnBuilder::new(&settings.rp_id, anchor)
        .map_err(|err| format!("rp_id / rp_origins rejected by webauthn-rs: {err}"))?
        .rp_name(&settings.rp_name)
        .timeout(settings.ceremony_timeout);
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
///
/// webauthn-rs also asks for credProtect `userVerificationRequired`, which browsers refuse next
/// to a user verification that is only preferred (Chromium: `NotSupportedError`, "Requested
/// protection policy is inconsistent or incongruent with other requested parameters"), so
/// credProtect is requested only when user verification is required. webauthn-rs does not check
/// credProtect when the ceremony finishes; it only records what the authenticator reported.
pub fn adjust_creation_options(options: &mut Value, uv: UserVerification) {
    if uv != UserVerification::Required
        && let Some(extensions) = options.get_mut("extensions").and_then(Value::as_object_mut)
    {
        extensions.remove("credentialProtectionPolicy");
        extensions.remove("enforceCredentialProtectionPolicy");
    }
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

/// A passkey another relying party implementation registered and stored (Auth.js, through
/// SimpleWebAuthn), as it kept it: raw credential id, COSE public key, counter, backup flags.
#[derive(Debug, Clone)]
pub struct ForeignPasskey<'a> {
    pub credential_id: &'a [u8],
    pub cose_public_key: &'a [u8],
    pub counter: u32,
    /// Backup eligible (BE): SimpleWebAuthn's `credentialDeviceType` `multiDevice`.
    pub backup_eligible: bool,
    /// Backed up (BS): `credentialBackedUp`.
    pub backed_up: bool,
    pub transports: &'a [String],
}

/// Builds the webauthn-rs credential for a foreign passkey, so that webauthn-rs verifies its
/// assertions like any passkey registered here. The COSE key is parsed and validated (curve and
/// point) by webauthn-rs. What registration would have established and the source did not keep
/// is set to what SimpleWebAuthn's defaults imply: user verification was "preferred" (and not
/// recorded as done, so a later sign-in without it is not refused on that ground: Keyward's
/// `passkey_user_verification` still applies), no attestation, no extensions.
pub fn passkey_from_cose(foreign: &ForeignPasskey<'_>) -> Result<webauthn_rs::prelude::Passkey, String> {
    use webauthn_rs::prelude::{AttestationFormat, COSEKey, Credential, ParsedAttestation, Passkey};
    use webauthn_rs_proto::{AuthenticatorTransport, RegisteredExtensions, UserVerificationPolicy};
    if foreign.credential_id.is_empty() || foreign.credential_id.len() > 1023 {
        return Err(format!("credential id of {} bytes (WebAuthn allows 1 to 1023)", foreign.credential_id.len()));
    }
    let value: serde_cbor_2::Value =
        serde_cbor_2::from_slice(foreign.cose_public_key).map_err(|err| format!("public key is not CBOR: {err}"))?;
    let key = COSEKey::try_from(&value).map_err(|err| format!("public key is not a usable COSE key: {err}"))?;
    let transports: Vec<AuthenticatorTransport> = foreign
        .transports
        .iter()
        .filter_map(|name| name.trim().parse().ok())
        .filter(|transport| *transport != AuthenticatorTransport::Unknown)
        .collect();
    let credential = Credential {
        cred_id: foreign.credential_id.to_vec(),
        cred: key,
        counter: foreign.counter,
        transports: (!transports.is_empty()).then_some(transports),
        user_verified: false,
        backup_eligible: foreign.backup_eligible,
        backup_state: foreign.backed_up,
        registration_policy: UserVerificationPolicy::Preferred,
        extensions: RegisteredExtensions::none(),
        attestation: ParsedAttestation::default(),
        attestation_format: AttestationFormat::None,
    };
    Ok(Passkey::from(credential))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn webauthn_rs_options() -> Value {
        json!({
            "authenticatorSelection": { "residentKey": "discouraged", "userVerification": "required" },
            "extensions": {
                "credProps": true,
                "credentialProtectionPolicy": "userVerificationRequired",
                "enforceCredentialProtectionPolicy": false,
                "uvm": true
            }
        })
    }

    #[test]
    fn preferred_user_verification_asks_for_no_cred_protect_that_browsers_would_refuse() {
        let mut options = webauthn_rs_options();
        adjust_creation_options(&mut options, UserVerification::Preferred);
        assert_eq!(options["authenticatorSelection"]["userVerification"], "preferred");
        assert_eq!(options["authenticatorSelection"]["residentKey"], "required");
        assert_eq!(options["extensions"], json!({ "credProps": true, "uvm": true }));
    }

    #[test]
    fn required_user_verification_keeps_cred_protect() {
        let mut options = webauthn_rs_options();
        adjust_creation_options(&mut options, UserVerification::Required);
        assert_eq!(options["authenticatorSelection"]["userVerification"], "required");
        assert_eq!(options["extensions"]["credentialProtectionPolicy"], "userVerificationRequired");
    }
}
