//! Passkey registration: sign-up with a passkey, and adding a passkey to a signed-in account.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use webauthn_rs::prelude::{Credential, CredentialID, Passkey, PasskeyRegistration, RegisterPublicKeyCredential};

use super::{
    CeremonyStart, check_ceremony_id, check_credential_id, credential_id_b64, kind, parse_credential,
    public_key_options, to_json,
};
use crate::{
    crypto::{adjust_creation_options, adjust_state_policy, attested_credential},
    domain::{DisplayName, Email, OneTimeCode, passkey_provider_name},
    error::{Error, FieldReason, PasskeyStage, Result},
    service::{
        Budget, RequestMeta, Services, SessionCaller, SignedIn,
        audit::kind as audit,
        email::notices::FactorChange,
        sessions::other_sessions,
        verification::{SignUpProof, invalid_code},
    },
    store::{NewAuthenticator, NewUser, new_id},
};

/// Passkey names longer than this are refused.
pub(super) const MAX_PASSKEY_NAME_CHARS: usize = 100;

/// Between StartPasskeySignUp and FinishPasskeySignUp: who the new user will be.
#[derive(Serialize, Deserialize)]
struct SignUpState {
    registration: PasskeyRegistration,
    user_id: String,
    email: String,
    name: Option<String>,
    /// Under `require_email_verification`: what the mailed code must match.
    #[serde(default)]
    proof: Option<SignUpProof>,
}

impl super::SessionBound for RegisterState {
    fn session_id(&self) -> Option<&str> {
        self.session_id.as_deref()
    }
}

#[derive(Serialize, Deserialize)]
struct RegisterState {
    registration: PasskeyRegistration,
    /// The session that started it (and passed the recent-authentication check then): only it
    /// may finish. Absent in ceremonies started before this field existed, which then fail.
    #[serde(default)]
    session_id: Option<String>,
}

/// An optional passkey name from the request: trimmed and bounded; None when empty.
pub(super) fn passkey_name(field: &'static str, raw: &str) -> Result<Option<String>> {
    let name = DisplayName::parse(field, raw)?;
    match name.into_inner() {
        Some(name) if name.chars().count() > MAX_PASSKEY_NAME_CHARS => Err(Error::field(
            field,
            FieldReason::TooLong,
            format!("name must be at most {MAX_PASSKEY_NAME_CHARS} characters"),
        )),
        name => Ok(name),
    }
}

/// The name of a passkey the user did not name: its provider's ("iCloud Keychain"), as passkey
/// lists on the big sites show them, else dated.
fn default_passkey_name(aaguid: Option<&str>, now: DateTime<Utc>) -> String {
    match aaguid.and_then(passkey_provider_name) {
        Some(provider) => provider.to_owned(),
        None => format!("Passkey added {}", now.format("%Y-%m-%d")),
    }
}

impl Services {
    /// Begins adding a passkey to the signed-in caller's account. Their existing passkeys go in
    /// `excludeCredentials` so an authenticator cannot register twice. A factor change: needs a
    /// recent authentication, checked here before the browser asks the user for anything; the
    /// ceremony is then bound to this session.
    pub async fn start_passkey_registration(
        &self,
        caller: &SessionCaller,
        meta: &RequestMeta,
    ) -> Result<CeremonyStart> {
        self.require_recent_authentication(caller)?;
        self.throttle_client(Budget::PasskeyStart, meta)?;
        let existing = self.inner.store.user_authenticators(&caller.user.id).await?;
        if existing.len() as u64 >= self.inner.passkeys.max_per_user {
            return Err(Error::TooManyPasskeys);
        }
        let exclude: Vec<CredentialID> =
            existing.iter().filter_map(|a| URL_SAFE_NO_PAD.decode(&a.credential_id).ok()).collect::<Vec<_>>();
        let display = caller.user.name.clone().unwrap_or_else(|| caller.user.email.clone());
        let (challenge, registration) = self
            .inner
            .webauthn
            .start_passkey_registration(
                super::user_handle(&caller.user.id),
                &caller.user.email,
                &display,
                Some(exclude),
            )
            .map_err(|err| Error::internal(format_args!("starting passkey registration: {err}")))?;
        let now = self.inner.clock.now();
        let state = self
            .registration_state(to_json(&RegisterState { registration, session_id: Some(caller.session.id.clone()) })?);
        let ceremony_id = self.begin_ceremony(kind::REGISTER, Some(caller.user.id.clone()), &state, now, meta).await?;
        Ok(CeremonyStart { ceremony_id, options_json: self.creation_options(&challenge)? })
    }

    /// Verifies the new credential and stores it for the caller, ending their other sessions
    /// when `revoke_other_sessions` (in the same transaction). Returns the passkey and how many
    /// sessions ended.
    pub async fn finish_passkey_registration(
        &self,
        caller: &SessionCaller,
        ceremony_id: &str,
        credential_json: &str,
        name: &str,
        revoke_other_sessions: bool,
        meta: &RequestMeta,
    ) -> Result<(crate::domain::Passkey, u64)> {
        check_ceremony_id(ceremony_id)?;
        let credential: RegisterPublicKeyCredential = parse_credential(credential_json)?;
        check_credential_id(credential.raw_id.as_ref())?;
        let now = self.inner.clock.now();
        let name = passkey_name("name", name)?;
        let RegisterState { registration, .. } =
            self.finish_session_ceremony(ceremony_id, kind::REGISTER, caller).await?;
        let passkey = self.inner.webauthn.finish_passkey_registration(&credential, &registration).map_err(|err| {
            self.passkey_rejected(PasskeyStage::Registration, &err, &credential.response.client_data_json)
        })?;
        check_credential_id(passkey.cred_id().as_ref())?;
        let authenticator = new_authenticator(&caller.user.id, &passkey, &credential, name, now)?;
        let other = other_sessions(caller, revoke_other_sessions);
        let max = self.inner.passkeys.max_per_user;
        let notice =
            self.factor_notice(&caller.user.email, &FactorChange::PasskeyAdded { name: &authenticator.name }, meta)?;
        let (stored, ended) = self.inner.store.insert_authenticator_within(authenticator, max, other, notice).await?;
        self.inner.outbox.wake();
        self.forget_ended_sessions(caller, ended);
        let detail = json!({ "passkey_id": stored.id, "revoked_sessions": ended });
        self.audit(Some(&caller.user.id), audit::PASSKEY_ADDED, detail).await;
        Ok(((&stored).into(), ended))
    }

    /// Begins creating a passwordless account for `email`. It answers `EmailTaken` for a taken
    /// email, like Register, so it spends the client's Register budget: not a free oracle. Under
    /// `require_email_verification` it mails the address first and answers the same for a taken
    /// address as for a free one (`verification/sign_up.rs`).
    pub async fn start_passkey_sign_up(&self, email: &str, name: &str, meta: &RequestMeta) -> Result<CeremonyStart> {
        let email = Email::parse("email", email)?;
        let name = DisplayName::parse("name", name)?;
        self.throttle_client(Budget::Register, meta)?;
        let taken = self.inner.store.find_user_by_email(email.as_str()).await?.is_some();
        let proof = if self.inner.links.require_email_verification {
            Some(self.sign_up_proof(&email, taken)?)
        } else if taken {
            // Same answer as Register for a taken email (and the same disclosure; see README).
            return Err(Error::EmailTaken);
        } else {
            None
        };
        let (proof, mail) = proof.unzip();
        let user_id = new_id();
        let display = name.as_deref().unwrap_or(email.as_str()).to_owned();
        let (challenge, registration) = self
            .inner
            .webauthn
            .start_passkey_registration(super::user_handle(&user_id), email.as_str(), &display, None)
            .map_err(|err| Error::internal(format_args!("starting passkey sign-up: {err}")))?;
        let now = self.inner.clock.now();
        let state = SignUpState { registration, user_id, email: email.to_string(), name: name.into_inner(), proof };
        let state = self.registration_state(to_json(&state)?);
        let ceremony_id = self.begin_ceremony(kind::SIGN_UP, None, &state, now, meta).await?;
        if let Some(mail) = mail {
            self.queue_email(&mail).await?;
        }
        Ok(CeremonyStart { ceremony_id, options_json: self.creation_options(&challenge)? })
    }

    /// Checks the mailed `code` (when the ceremony needs one: one try per ceremony) and verifies
    /// the credential, then creates the user, the passkey and a session in one transaction, and
    /// signs the new user in.
    pub async fn finish_passkey_sign_up(
        &self,
        ceremony_id: &str,
        credential_json: &str,
        passkey_name: &str,
        code: &str,
        meta: &RequestMeta,
    ) -> Result<(SignedIn, crate::domain::Passkey)> {
        check_ceremony_id(ceremony_id)?;
        let credential: RegisterPublicKeyCredential = parse_credential(credential_json)?;
        check_credential_id(credential.raw_id.as_ref())?;
        let now = self.inner.clock.now();
        let name = self::passkey_name("passkey_name", passkey_name)?;
        let code = match code {
            "" if self.inner.links.require_email_verification => {
                return Err(Error::field("code", FieldReason::Required, "the code mailed to the address is required"));
            }
            "" => None,
            code => Some(OneTimeCode::parse("code", code)?),
        };
        let ceremony = self.finish_ceremony(ceremony_id, kind::SIGN_UP, None).await?;
        let SignUpState { registration, user_id, email, name: user_name, proof } = super::ceremony_state(&ceremony)?;
        let email_verified = match &proof {
            Some(proof) if code.as_ref().is_some_and(|code| self.sign_up_code_matches(proof, &email, code)) => {
                Some(now)
            }
            // A wrong code, none, or an address that was taken: the ceremony is spent either way.
            Some(_) => return Err(invalid_code()),
            None => None,
        };
        let passkey = self.inner.webauthn.finish_passkey_registration(&credential, &registration).map_err(|err| {
            self.passkey_rejected(PasskeyStage::Registration, &err, &credential.response.client_data_json)
        })?;
        check_credential_id(passkey.cred_id().as_ref())?;
        let authenticator = new_authenticator(&user_id, &passkey, &credential, name, now)?;
        let user =
            NewUser { id: user_id, email, name: user_name, password_hash: None, created_at: now, email_verified };
        let (new_session, token) = self.new_session(&user.id, meta, now)?;
        let (created, stored) = self.inner.store.create_user_with_passkey(user, authenticator, new_session).await?;
        self.audit(Some(&created.user.id), audit::USER_REGISTERED, json!({ "method": "passkey" })).await;
        let signed_in = self.signed_in(created.user, created.session, token, now)?;
        Ok((signed_in, (&stored).into()))
    }

    fn creation_options(&self, challenge: &impl Serialize) -> Result<String> {
        let mut options = public_key_options(challenge)?;
        adjust_creation_options(&mut options, self.inner.passkeys.user_verification);
        Ok(options.to_string())
    }

    fn registration_state(&self, mut state: serde_json::Value) -> serde_json::Value {
        adjust_state_policy(&mut state, self.inner.passkeys.user_verification);
        state
    }
}

/// The `authenticators` row for a verified registration: Auth.js columns from the credential,
/// the webauthn-rs `Passkey` serialized, and the AAGUID and COSE public key read from authData.
fn new_authenticator(
    user_id: &str,
    passkey: &Passkey,
    response: &RegisterPublicKeyCredential,
    name: Option<String>,
    now: DateTime<Utc>,
) -> Result<NewAuthenticator> {
    let credential: Credential = passkey.clone().into();
    let attested = attested_credential(response.response.attestation_object.as_ref());
    let transports = credential
        .transports
        .as_ref()
        .map(|list| {
            list.iter().filter_map(|t| serde_json::to_value(t).ok()?.as_str().map(str::to_owned)).collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let aaguid = attested.as_ref().and_then(|a| a.aaguid).map(|aaguid| aaguid.hyphenated().to_string());
    let name = name.unwrap_or_else(|| default_passkey_name(aaguid.as_deref(), now));
    Ok(NewAuthenticator {
        id: new_id(),
        credential_id: credential_id_b64(passkey),
        user_id: user_id.to_owned(),
        credential_public_key: attested
            .as_ref()
            .map(|a| URL_SAFE_NO_PAD.encode(&a.public_key_cose))
            .unwrap_or_default(),
        counter: i64::from(credential.counter),
        credential_device_type: crate::store::device_type_column(credential.backup_eligible),
        credential_backed_up: credential.backup_state,
        backup_eligible: credential.backup_eligible,
        transports,
        aaguid,
        passkey: serde_json::to_string(passkey).map_err(Error::internal)?,
        name,
        created_at: now,
        provider_account_id: None,
        imported_from: None,
    })
}
