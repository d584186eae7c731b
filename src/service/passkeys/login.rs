//! Passkey sign-in: the discoverable-credential ceremony, the counter policy and the decoy path.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use webauthn_rs::prelude::{
    AuthenticationResult, Credential, DiscoverableAuthentication, Passkey, PublicKeyCredential, WebauthnError,
};

use super::CounterPolicy;
use super::{
    CeremonyStart, check_ceremony_id, check_credential_id, kind, parse_credential, public_key_options, to_json,
};
use crate::{
    crypto::{adjust_request_options, adjust_state_policy},
    domain::Email,
    error::{Error, PasskeyFailure, PasskeyStage, Result},
    service::{
        Budget, RequestMeta, Services, SignedIn,
        audit::kind as audit,
        sign_in_guard::{Factor, all_failure_keys, code_failure_keys, factor_failure_key},
    },
    store::{AuditEvent, AuthenticatorRecord, AuthenticatorUse, PasskeySignIn, PasskeySignInOutcome, UserRecord},
};

#[derive(Serialize, Deserialize)]
struct LoginState {
    authentication: DiscoverableAuthentication,
    /// Set when the sign-in was narrowed by email: only this user's passkeys may finish it. For
    /// an email with no account this is a user id that cannot exist, so nothing finishes.
    only_user: Option<String>,
}

impl Services {
    /// Begins a passkey sign-in. Without an email the options are discoverable (empty
    /// allowCredentials; usable with `mediation: "conditional"`). With an email they list that
    /// account's passkeys; for an email without an account (or without passkeys) they list
    /// decoy credentials (`decoy.rs`) shaped like real ones and stable per email, so the answer
    /// does not reveal whether the account exists. Either way it is one query.
    pub async fn start_passkey_login(&self, email: &str, meta: &RequestMeta) -> Result<CeremonyStart> {
        let email = if email.trim().is_empty() { None } else { Some(Email::parse("email", email)?) };
        self.throttle_client(Budget::PasskeyStart, meta)?;
        let mut allow = None;
        let mut only_user = None;
        if let Some(email) = &email {
            let passkeys = self.inner.store.authenticators_of_email(email.as_str()).await?;
            allow = Some(if passkeys.is_empty() {
                self.inner.decoys.for_email(email)
            } else {
                passkeys.iter().map(allow_entry).collect()
            });
            // Nothing can finish a decoy: no passkey belongs to this user id.
            only_user = Some(passkeys.first().map_or_else(|| "no-such-user".to_owned(), |p| p.user_id.clone()));
        }
        let (options, authentication) = self.assertion_request(allow)?;
        let state = self.assertion_state(&LoginState { authentication, only_user })?;
        let ceremony_id = self.begin_ceremony(kind::LOGIN, None, &state, self.inner.clock.now(), meta).await?;
        Ok(CeremonyStart { ceremony_id, options_json: options.to_string() })
    }

    /// Request options for an assertion (allowCredentials set to `allow` when given, else
    /// discoverable) adjusted to the user-verification policy, and webauthn-rs's state for the
    /// finish.
    pub(super) fn assertion_request(
        &self,
        allow: Option<Vec<serde_json::Value>>,
    ) -> Result<(serde_json::Value, DiscoverableAuthentication)> {
        let (challenge, authentication) = self
            .inner
            .webauthn
            .start_discoverable_authentication()
            .map_err(|err| Error::internal(format_args!("starting passkey sign-in: {err}")))?;
        let mut options = public_key_options(&challenge)?;
        if let Some(allow) = allow {
            options["allowCredentials"] = allow.into();
        }
        adjust_request_options(&mut options, self.inner.passkeys.user_verification);
        Ok((options, authentication))
    }

    /// Ceremony state holding webauthn-rs's authentication state, with its policy adjusted.
    pub(super) fn assertion_state(&self, state: &impl Serialize) -> Result<serde_json::Value> {
        let mut state = to_json(state)?;
        adjust_state_policy(&mut state, self.inner.passkeys.user_verification);
        Ok(state)
    }

    /// Verifies the assertion and signs in. Updates the stored counter, backup state and last use;
    /// applies the counter policy to a counter that did not increase.
    pub async fn finish_passkey_login(
        &self,
        ceremony_id: &str,
        credential_json: &str,
        meta: &RequestMeta,
    ) -> Result<SignedIn> {
        check_ceremony_id(ceremony_id)?;
        let credential: PublicKeyCredential = parse_credential(credential_json)?;
        check_credential_id(credential.get_credential_id())?;
        if let Some(signed_in) = self.finish_regular_passkey_login(ceremony_id, &credential, meta).await? {
            return Ok(signed_in);
        }
        // Anything irregular, decided step by step with its own errors, audit events and failure
        // counting (nothing was written above).
        let ceremony = self.finish_ceremony(ceremony_id, kind::LOGIN, None).await?;
        let LoginState { authentication, only_user } = super::ceremony_state(&ceremony)?;

        let (record, user) = match self.verify_assertion(&credential, authentication, only_user.as_deref()).await {
            Ok(verified) => verified,
            Err(err @ (Error::PasskeyUnknown | Error::PasskeyRejected { .. })) => {
                // A failed sign-in, as for a wrong password (and its opt-in `signin.failed`
                // webhook): no user named, since an unknown credential names none.
                let detail =
                    json!({ "method": "passkey", "client": meta.client_for_audit(), "user_agent": meta.user_agent });
                self.audit(None, audit::LOGIN_FAILED, detail).await;
                return Err(err);
            }
            Err(err) => return Err(err),
        };
        let signed_in = self.sign_in(user, meta).await?;
        self.audit(
            Some(&signed_in.user.id),
            audit::LOGIN_SUCCEEDED,
            json!({
                "method": "passkey",
                "passkey_id": record.id,
                "session_id": signed_in.session.id,
                "client": meta.client_for_audit(),
                "user_agent": meta.user_agent,
            }),
        )
        .await;
        Ok(signed_in)
    }

    /// The usual passkey sign-in — a pending ceremony, a known passkey of an enabled user that
    /// the ceremony allows, a valid assertion, a counter that moves up, the factor not locked —
    /// written in one transaction (`Store::sign_in_with_passkey`). The checks are the step-by-step
    /// path's, in the same words (`user_handle_names_owner`, webauthn-rs's verification with the
    /// counter policy applied by Keyward); reads and the signature check run before the write
    /// lock is taken. `None` (nothing written) for anything else: the caller then takes the
    /// ceremony and decides it step by step, so a refused or odd sign-in costs a second
    /// signature check at most.
    async fn finish_regular_passkey_login(
        &self,
        ceremony_id: &str,
        credential: &PublicKeyCredential,
        meta: &RequestMeta,
    ) -> Result<Option<SignedIn>> {
        let store = &self.inner.store;
        let now = self.inner.clock.now();
        let Some(ceremony) = store.find_ceremony(ceremony_id, kind::LOGIN).await? else { return Ok(None) };
        if ceremony.expires_at <= now || ceremony.user_id.is_some() {
            return Ok(None);
        }
        let LoginState { authentication, only_user } = super::ceremony_state(&ceremony)?;
        let credential_id = URL_SAFE_NO_PAD.encode(credential.get_credential_id());
        let Some(record) = store.find_authenticator_by_credential_id(&credential_id).await? else { return Ok(None) };
        if !super::user_handle_names_owner(&record, credential.get_user_unique_id(), only_user.is_some())
            || only_user.as_deref().is_some_and(|only| only != record.user_id)
        {
            return Ok(None);
        }
        let Some(user) = store.find_user(&record.user_id).await? else { return Ok(None) };
        if user.disabled_at.is_some() {
            return Ok(None);
        }
        let stored: Passkey = serde_json::from_str(&record.passkey).map_err(Error::internal)?;
        let Ok(result) = self.check_assertion(credential, authentication, &stored) else { return Ok(None) };
        let stored_counter = u32::try_from(record.counter).unwrap_or(u32::MAX);
        let presented = result.counter();
        if counter_did_not_increase(presented, stored_counter) {
            return Ok(None);
        }

        let usage = passkey_use(stored, &result, now)?;
        let (session, token) = self.new_session(&user.id, meta, now)?;
        let audit = AuditEvent {
            user_id: Some(user.id.clone()),
            kind: audit::LOGIN_SUCCEEDED,
            detail: json!({
                "method": "passkey",
                "passkey_id": record.id,
                "session_id": session.id,
                "client": meta.client_for_audit(),
                "user_agent": meta.user_agent,
            }),
            at: now,
        };
        let sign_in = PasskeySignIn {
            ceremony_id: ceremony_id.to_owned(),
            ceremony_kind: kind::LOGIN,
            authenticator_id: record.id.clone(),
            usage,
            advance_counter_to: (presented > stored_counter).then_some(i64::from(presented)),
            passkey_failure_key: factor_failure_key(Factor::Passkey, &user.email),
            failure_keys: all_failure_keys(&user.email),
            code_failure_keys: code_failure_keys(&user.email),
            failure_policy: self.inner.failure_policy,
            session,
            audit,
            now,
        };
        match store.sign_in_with_passkey(sign_in).await? {
            PasskeySignInOutcome::SignedIn(session) => Ok(Some(self.signed_in(user, session, token, now)?)),
            PasskeySignInOutcome::Irregular => Ok(None),
        }
    }

    /// Verifies an assertion for a ceremony started with `assertion_request`, whose credentials
    /// were narrowed to `only_user`'s when set. Updates the stored counter, backup state and last
    /// use; applies the counter policy to a counter that did not increase. The attempt counts
    /// against the account's passkey failures (`sign_in_guard`). Returns the passkey and its user.
    pub(super) async fn verify_assertion(
        &self,
        credential: &PublicKeyCredential,
        authentication: DiscoverableAuthentication,
        only_user: Option<&str>,
    ) -> Result<(AuthenticatorRecord, UserRecord)> {
        // WebAuthn L3 §7.2 step 6: a discoverable ceremony (empty allowCredentials) needs the
        // user handle, and when present it must name the credential's owner. An email-narrowed
        // ceremony listed the credentials itself, so the handle is optional there.
        let record = self
            .inner
            .store
            .find_authenticator_by_credential_id(&URL_SAFE_NO_PAD.encode(credential.get_credential_id()))
            .await?
            .ok_or(Error::PasskeyUnknown)?;
        if !super::user_handle_names_owner(&record, credential.get_user_unique_id(), only_user.is_some()) {
            return Err(Error::PasskeyRejected { stage: PasskeyStage::Login, failure: PasskeyFailure::Invalid });
        }
        if only_user.is_some_and(|only| only != record.user_id) {
            return Err(Error::PasskeyUnknown);
        }

        let user = self.inner.store.find_user(&record.user_id).await?.ok_or(Error::PasskeyUnknown)?;
        self.reserve_sign_in_attempt(Factor::Passkey, &user.email).await?;
        let stored: Passkey = serde_json::from_str(&record.passkey).map_err(Error::internal)?;
        let result = self
            .check_assertion(credential, authentication, &stored)
            .map_err(|err| self.passkey_rejected(PasskeyStage::Login, &err, &credential.response.client_data_json))?;

        let stored_counter = u32::try_from(record.counter).unwrap_or(u32::MAX);
        let presented = result.counter();
        if counter_did_not_increase(presented, stored_counter) {
            self.counter_regressed(&record, presented, result.backup_eligible()).await?;
        }

        let usage = passkey_use(stored, &result, self.inner.clock.now())?;
        // The counter moves only forward, checked in the UPDATE itself: if another sign-in with
        // this passkey stored this counter (or a higher one) since it was read above, this
        // assertion repeats a counter — a possible clone — whatever the read said.
        let advance = (presented > stored_counter).then_some(i64::from(presented));
        if !self.inner.store.record_authenticator_use(&record.id, usage.clone(), advance).await? {
            self.counter_regressed(&record, presented, result.backup_eligible()).await?;
            self.inner.store.record_authenticator_use(&record.id, usage, None).await?;
        }
        self.sign_in_succeeded(&user.email).await?;
        Ok((record, user))
    }

    /// webauthn-rs's verification of `credential` for `authentication` with the `stored` passkey,
    /// all but the counter: webauthn-rs would reject any counter that did not increase, and the
    /// policy is Keyward's (`counter_regressed`), so it checks against a copy with the counter at 0.
    fn check_assertion(
        &self,
        credential: &PublicKeyCredential,
        authentication: DiscoverableAuthentication,
        stored: &Passkey,
    ) -> std::result::Result<AuthenticationResult, WebauthnError> {
        let mut unchecked_counter: Credential = stored.clone().into();
        unchecked_counter.counter = 0;
        self.inner.webauthn.finish_discoverable_authentication_v2(
            credential,
            authentication,
            Passkey::from(unchecked_counter),
        )
    }

    /// A counter at or below the stored one (WebAuthn L3 §7.2 step 21: a possible clone; what
    /// to do is the relying party's choice). Synced passkeys legitimately report 0 forever,
    /// hence `ignore_when_backup_eligible`. Every non-ignored case is audited.
    async fn counter_regressed(
        &self,
        record: &AuthenticatorRecord,
        presented: u32,
        backup_eligible: bool,
    ) -> Result<()> {
        let policy = self.inner.passkeys.counter_policy;
        let (allow, action) = match policy {
            CounterPolicy::Reject => (false, "rejected"),
            CounterPolicy::Flag => (true, "flagged"),
            CounterPolicy::IgnoreWhenBackupEligible if backup_eligible => return Ok(()),
            CounterPolicy::IgnoreWhenBackupEligible => (false, "rejected"),
        };
        self.audit(
            Some(&record.user_id),
            audit::PASSKEY_COUNTER_REGRESSED,
            json!({ "passkey_id": record.id, "stored": record.counter, "presented": presented, "action": action }),
        )
        .await;
        if allow { Ok(()) } else { Err(Error::PasskeyCounterRegressed) }
    }
}

/// One allowCredentials entry for a stored passkey.
pub(super) fn allow_entry(record: &AuthenticatorRecord) -> serde_json::Value {
    json!({ "type": "public-key", "id": record.credential_id, "transports": record.transport_list() })
}

/// Whether an assertion's counter fails to move past the stored one (both 0 is a passkey without
/// a counter, which is fine).
fn counter_did_not_increase(presented: u32, stored: u32) -> bool {
    (presented > 0 || stored > 0) && presented <= stored
}

/// What a sign-in with `stored` records: its state after `result`, backup flags and last use.
fn passkey_use(mut stored: Passkey, result: &AuthenticationResult, now: DateTime<Utc>) -> Result<AuthenticatorUse> {
    stored.update_credential(result);
    Ok(AuthenticatorUse {
        credential_backed_up: result.backup_state(),
        backup_eligible: result.backup_eligible(),
        credential_device_type: crate::store::device_type_column(result.backup_eligible()),
        passkey: serde_json::to_string(&stored).map_err(Error::internal)?,
        used_at: now,
    })
}
