//! Passkey ceremonies (webauthn-rs does the verification) and passkey management. Ceremony state
//! lives in the `ceremonies` table, consumed atomically, so any replica can finish what another
//! started and nothing stays in process memory.

mod decoy;
mod login;
mod manage;
mod registration;

use std::time::Duration;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use serde::{Serialize, de::DeserializeOwned};
use webauthn_rs::prelude::{Passkey, WebauthnError};

use super::{RequestMeta, Services};
use crate::{
    config::{Config, CounterPolicy, UserVerification},
    error::{Error, FieldReason, PasskeyFailure, PasskeyStage, Result},
    store::{CeremonyRecord, NewCeremony},
};

/// Ceremony kinds: a finish step takes only a ceremony of its own kind.
mod kind {
    pub const REGISTER: &str = "passkey.register";
    pub const SIGN_UP: &str = "passkey.sign_up";
    pub const LOGIN: &str = "passkey.login";
}

/// Passkey policy from config.
#[derive(Debug, Clone, Copy)]
pub struct PasskeySettings {
    pub user_verification: UserVerification,
    pub counter_policy: CounterPolicy,
    pub ceremony_ttl: Duration,
    pub max_per_user: u64,
}

impl PasskeySettings {
    pub fn from_config(config: &Config) -> Self {
        Self {
            user_verification: config.passkey_user_verification,
            counter_policy: config.passkey_counter_policy,
            ceremony_ttl: config.ceremony_ttl(),
            max_per_user: config.max_passkeys_per_user,
        }
    }
}

/// What Start* hands the client.
#[derive(Debug, Clone)]
pub struct CeremonyStart {
    pub ceremony_id: String,
    /// WebAuthn L3 JSON options (PublicKeyCredentialCreationOptionsJSON / RequestOptionsJSON).
    pub options_json: String,
}

/// Longest ceremony id we could have issued (43 base64url characters); anything else is garbage.
const MAX_CEREMONY_ID_CHARS: usize = 64;
/// A RegistrationResponseJSON / AuthenticationResponseJSON is a few KiB at most.
const MAX_CREDENTIAL_JSON_BYTES: usize = 32 * 1024;
/// WebAuthn L3 §5.8.3 / §7.1 step 5: a credential id is at most 1023 bytes. (PostgreSQL's
/// b-tree index on credential_id could not even store ids of ~2 KB.)
pub(super) const MAX_CREDENTIAL_ID_BYTES: usize = 1023;

/// Refuses a credential id longer than WebAuthn allows, before anything else looks at it.
fn check_credential_id(raw_id: &[u8]) -> Result<()> {
    if raw_id.len() > MAX_CREDENTIAL_ID_BYTES {
        return Err(Error::field(
            "credential_json",
            FieldReason::TooLong,
            format!("the credential id is longer than WebAuthn's {MAX_CREDENTIAL_ID_BYTES} bytes"),
        ));
    }
    Ok(())
}

fn check_ceremony_id(ceremony_id: &str) -> Result<()> {
    if ceremony_id.is_empty() {
        return Err(Error::field("ceremony_id", FieldReason::Required, "ceremony_id is required"));
    }
    if ceremony_id.len() > MAX_CEREMONY_ID_CHARS {
        return Err(Error::field("ceremony_id", FieldReason::TooLong, "ceremony_id is longer than any Keyward issues"));
    }
    Ok(())
}

/// Parses `credential_json` (what `credential.toJSON()` returned) as webauthn-rs's type.
fn parse_credential<T: DeserializeOwned>(credential_json: &str) -> Result<T> {
    if credential_json.is_empty() {
        return Err(Error::field("credential_json", FieldReason::Required, "credential_json is required"));
    }
    if credential_json.len() > MAX_CREDENTIAL_JSON_BYTES {
        return Err(Error::field("credential_json", FieldReason::TooLong, "credential_json is too large"));
    }
    serde_json::from_str(credential_json).map_err(|err| {
        Error::field(
            "credential_json",
            FieldReason::Malformed,
            format!("not a WebAuthn credential in JSON form: {err}"),
        )
    })
}

/// Maps a webauthn-rs refusal to what the client can act on.
fn rejected(stage: PasskeyStage, err: &WebauthnError) -> Error {
    use WebauthnError as W;
    let failure = match err {
        W::InvalidRPOrigin | W::CredentialCrossOrigin => PasskeyFailure::OriginMismatch,
        W::InvalidRPIDHash => PasskeyFailure::RpIdMismatch,
        W::MismatchedChallenge | W::ChallengeNotFound => PasskeyFailure::ChallengeMismatch,
        W::UserNotPresent => PasskeyFailure::UserNotPresent,
        W::UserNotVerified => PasskeyFailure::UserNotVerified,
        W::AuthenticationFailure
        | W::SignatureInvalid
        | W::AttestationStatementSigInvalid
        | W::AttestationTrustFailure => PasskeyFailure::SignatureInvalid,
        _ => PasskeyFailure::Invalid,
    };
    tracing::info!(%stage, error = %err, "passkey rejected");
    Error::PasskeyRejected { stage, failure }
}

fn to_json<T: Serialize>(value: &T) -> Result<serde_json::Value> {
    serde_json::to_value(value).map_err(Error::internal)
}

/// The `publicKey` member of webauthn-rs's challenge response: the L3 options JSON itself.
fn public_key_options(challenge: &impl Serialize) -> Result<serde_json::Value> {
    let mut value = to_json(challenge)?;
    value
        .get_mut("publicKey")
        .map(serde_json::Value::take)
        .ok_or_else(|| Error::internal("challenge without publicKey"))
}

fn credential_id_b64(passkey: &Passkey) -> String {
    URL_SAFE_NO_PAD.encode::<&[u8]>(passkey.cred_id().as_ref())
}

impl Services {
    /// Stores ceremony state under a fresh random id and returns the id.
    async fn begin_ceremony(
        &self,
        kind: &'static str,
        user_id: Option<String>,
        state: &serde_json::Value,
        now: DateTime<Utc>,
        meta: &RequestMeta,
    ) -> Result<String> {
        // 256 bits from the OS CSPRNG, like a session token: unguessable, so holding the id is
        // what lets a client finish the ceremony.
        let id = crate::domain::SessionToken::generate()?.expose().to_owned();
        let ttl = chrono::Duration::from_std(self.inner.passkeys.ceremony_ttl).map_err(Error::internal)?;
        self.store_ceremony(NewCeremony {
            id: id.clone(),
            kind,
            user_id,
            state: state.to_string(),
            created_at: now,
            expires_at: now + ttl,
            client_key: Some(meta.client_key()),
        })
        .await?;
        Ok(id)
    }

    /// Takes the ceremony for its finish step: unknown, someone else's and expired each fail
    /// with their own error, and a ceremony can be taken once.
    async fn finish_ceremony(
        &self,
        ceremony_id: &str,
        kind: &'static str,
        user_id: Option<&str>,
    ) -> Result<CeremonyRecord> {
        let ceremony =
            self.inner.store.take_ceremony_of(ceremony_id, kind, user_id).await?.ok_or(Error::CeremonyNotFound)?;
        if ceremony.expires_at <= self.inner.clock.now() {
            return Err(Error::CeremonyExpired);
        }
        Ok(ceremony)
    }
}

fn ceremony_state<T: DeserializeOwned>(ceremony: &CeremonyRecord) -> Result<T> {
    serde_json::from_str(&ceremony.state)
        .map_err(|err| Error::internal(format_args!("unreadable ceremony state: {err}")))
}
