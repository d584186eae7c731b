//! Passkey ceremonies (webauthn-rs does the verification) and passkey management. Ceremony state
//! lives in the `ceremonies` table, consumed atomically, so any replica can finish what another
//! started and nothing stays in process memory.

mod decoy;
mod login;
mod manage;
mod reauthentication;
mod registration;

use std::time::Duration;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use serde::{Serialize, de::DeserializeOwned};
use webauthn_rs::prelude::{Passkey, Uuid, WebauthnError};

pub use decoy::DecoyCredentials;

use super::{RequestMeta, Services, SessionCaller};
use crate::{
    crypto::UserVerification,
    error::{Error, FieldReason, PasskeyFailure, PasskeyStage, Result},
    store::{AuthenticatorRecord, CeremonyRecord, NewCeremony},
};

/// Ceremony kinds: a finish step takes only a ceremony of its own kind.
mod kind {
    pub const REGISTER: &str = "passkey.register";
    pub const SIGN_UP: &str = "passkey.sign_up";
    pub const LOGIN: &str = "passkey.login";
    pub const REAUTHENTICATE: &str = "passkey.reauthenticate";
}

/// The passkey policy.
#[derive(Debug, Clone)]
pub struct PasskeySettings {
    pub user_verification: UserVerification,
    pub counter_policy: CounterPolicy,
    pub ceremony_ttl: Duration,
    /// The origins ceremonies may come from (webauthn-rs checks them; kept here for the log line
    /// that explains a mismatch).
    pub allowed_origins: Vec<String>,
    pub max_per_user: u64,
}

/// What to do when a passkey's signature counter did not increase (a possible clone).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CounterPolicy {
    Reject,
    Flag,
    IgnoreWhenBackupEligible,
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

/// Longest client-reported origin written to the log.
const MAX_LOGGED_ORIGIN_CHARS: usize = 200;

/// `origin` from a credential's clientDataJSON, for the log (it is what the browser saw, and
/// what the operator must add to `rp_origins` if it is theirs).
fn seen_origin(client_data_json: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct ClientData {
        origin: String,
    }
    let data: ClientData = serde_json::from_slice(client_data_json).ok()?;
    Some(data.origin.chars().take(MAX_LOGGED_ORIGIN_CHARS).collect())
}

/// Maps a webauthn-rs refusal to what the client can act on. An origin mismatch is almost always
/// a configuration gap (the app runs on an origin missing from `rp_origins`), so it is logged
/// with the origin the browser reported and the allowed list; the client only learns the reason.
fn rejected(stage: PasskeyStage, err: &WebauthnError, client_data_json: &[u8], allowed_origins: &[String]) -> Error {
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
    if failure == PasskeyFailure::OriginMismatch {
        tracing::warn!(
            %stage,
            origin_seen = ?seen_origin(client_data_json),
            allowed_origins = ?allowed_origins,
            "passkey refused: the browser's origin is not in rp_origins (add it there if it is your app's)"
        );
    } else {
        tracing::info!(%stage, error = %err, "passkey rejected");
    }
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

/// The WebAuthn user handle Keyward registers a user's passkeys with: the user id's 16 UUID
/// bytes. Users imported with their original ids (Auth.js cuids, integers) get 16 bytes of
/// SHA-256 of the id instead, marked as a version-8 (custom) UUID: stable, and never a real
/// UUIDv7 that Keyward could issue to someone else.
fn user_handle(user_id: &str) -> Uuid {
    Uuid::parse_str(user_id).unwrap_or_else(|_| {
        let digest =
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, format!("keyward-user-handle:{user_id}").as_bytes());
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest.as_ref()[..16]);
        uuid::Builder::from_custom_bytes(bytes).into_uuid()
    })
}

/// WebAuthn L3 §7.2 step 6: a discoverable ceremony (empty allowCredentials) needs the user
/// handle, and when present it must name the credential's owner. An email-narrowed ceremony
/// (`narrowed`) listed the credentials itself, so the handle is optional there.
///
/// Passkeys imported from Auth.js are the exception: `@auth/core` registers every passkey with a
/// random `user.id` it never stores (it finds the user through the credential id), so the handle
/// such an authenticator returns is one Keyward has never seen. For those, the owner is the row
/// found by credential id. That is safe: the user handle is not covered by the assertion
/// signature, so checking it never authenticated anyone; what does is the signature over
/// authenticatorData and the hash of clientDataJSON (with this ceremony's challenge) under the
/// credential's own stored public key, which webauthn-rs verifies for every passkey alike.
fn user_handle_names_owner(record: &AuthenticatorRecord, presented: Option<&[u8]>, narrowed: bool) -> bool {
    match presented {
        None => narrowed,
        Some(_) if record.imported_from.is_some() => true,
        Some(handle) => Uuid::from_slice(handle).is_ok_and(|handle| handle == user_handle(&record.user_id)),
    }
}

fn credential_id_b64(passkey: &Passkey) -> String {
    URL_SAFE_NO_PAD.encode::<&[u8]>(passkey.cred_id().as_ref())
}

impl Services {
    /// `rejected` with this server's allowed origins.
    fn passkey_rejected(&self, stage: PasskeyStage, err: &WebauthnError, client_data_json: &[u8]) -> Error {
        rejected(stage, err, client_data_json, &self.inner.passkeys.allowed_origins)
    }

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
        let expires_at = crate::domain::later(now, self.inner.passkeys.ceremony_ttl)?;
        self.store_ceremony(NewCeremony {
            id: id.clone(),
            kind,
            user_id,
            state: state.to_string(),
            created_at: now,
            expires_at,
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

/// Ceremony state bound to the session that started the ceremony.
trait SessionBound: DeserializeOwned {
    fn session_id(&self) -> Option<&str>;
}

impl Services {
    /// Takes a ceremony that only the session which started it may finish and returns its
    /// state. Another session's finish — even one of the same user's — is `CeremonyNotYours` and
    /// leaves the ceremony for its own session.
    async fn finish_session_ceremony<T: SessionBound>(
        &self,
        ceremony_id: &str,
        kind: &'static str,
        caller: &SessionCaller,
    ) -> Result<T> {
        let ours = |state: &T| state.session_id() == Some(caller.session.id.as_str());
        if let Some(pending) = self.inner.store.find_ceremony(ceremony_id, kind).await?
            && pending.user_id.as_deref() == Some(caller.user.id.as_str())
            && !ours(&ceremony_state(&pending)?)
        {
            return Err(Error::CeremonyNotYours);
        }
        let ceremony = self.finish_ceremony(ceremony_id, kind, Some(&caller.user.id)).await?;
        let state: T = ceremony_state(&ceremony)?;
        // Taken by whoever got there first; the check above can only have raced with a finish
        // of the same ceremony.
        if !ours(&state) {
            return Err(Error::CeremonyNotYours);
        }
        Ok(state)
    }
}

fn ceremony_state<T: DeserializeOwned>(ceremony: &CeremonyRecord) -> Result<T> {
    serde_json::from_str(&ceremony.state)
        .map_err(|err| Error::internal(format_args!("unreadable ceremony state: {err}")))
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// Collects what a tracing subscriber writes.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().map_err(|_| std::io::Error::other("poisoned"))?.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn an_origin_mismatch_logs_the_origin_seen_and_the_allowed_list() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt().with_ansi(false).with_writer(move || writer.clone()).finish();
        let client_data = br#"{"type":"webauthn.get","challenge":"abc","origin":"http://127.0.0.1:3000"}"#;
        let allowed = vec!["http://localhost:3000".to_owned(), "https://app.example.com".to_owned()];
        let err = tracing::subscriber::with_default(subscriber, || {
            rejected(PasskeyStage::Login, &WebauthnError::InvalidRPOrigin, client_data, &allowed)
        });
        assert!(matches!(err, Error::PasskeyRejected { failure: PasskeyFailure::OriginMismatch, .. }));
        let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        for expected in
            [r#"origin_seen=Some("http://127.0.0.1:3000")"#, "http://localhost:3000", "https://app.example.com"]
        {
            assert!(log.contains(expected), "{expected} missing from {log}");
        }
    }

    #[test]
    fn an_unreadable_client_data_is_logged_as_no_origin() {
        assert_eq!(seen_origin(b"not json"), None);
        let long = format!(r#"{{"origin":"{}"}}"#, "x".repeat(1000));
        assert_eq!(seen_origin(long.as_bytes()).map(|origin| origin.len()), Some(MAX_LOGGED_ORIGIN_CHARS));
    }
}
