//! Passkey sign-in: the discoverable-credential ceremony, the counter policy and the decoy path.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};
use serde_json::json;
use webauthn_rs::prelude::{Credential, DiscoverableAuthentication, Passkey, PublicKeyCredential};

use super::CounterPolicy;
use super::{
    CeremonyStart, check_ceremony_id, check_credential_id, kind, parse_credential, public_key_options, to_json,
};
use crate::{
    crypto::{adjust_request_options, adjust_state_policy},
    domain::Email,
    error::{Error, PasskeyFailure, PasskeyStage, Result},
    service::{Budget, RequestMeta, Services, SignedIn, audit::kind as audit, sign_in_guard::Factor},
    store::{AuthenticatorRecord, AuthenticatorUse, UserRecord},
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
        // webauthn-rs would reject any counter that did not increase. The policy is Keyward's
        // (below), so webauthn-rs checks everything else against a copy with the counter at 0.
        let mut unchecked_counter: Credential = stored.clone().into();
        unchecked_counter.counter = 0;
        let unchecked_counter = Passkey::from(unchecked_counter);
        let result = self
            .inner
            .webauthn
            .finish_discoverable_authentication_v2(credential, authentication, &unchecked_counter)
            .map_err(|err| self.passkey_rejected(PasskeyStage::Login, &err, &credential.response.client_data_json))?;

        let stored_counter = u32::try_from(record.counter).unwrap_or(u32::MAX);
        let presented = result.counter();
        if (presented > 0 || stored_counter > 0) && presented <= stored_counter {
            self.counter_regressed(&record, presented, result.backup_eligible()).await?;
        }

        let mut updated = stored;
        updated.update_credential(&result);
        let now = self.inner.clock.now();
        let usage = AuthenticatorUse {
            credential_backed_up: result.backup_state(),
            backup_eligible: result.backup_eligible(),
            credential_device_type: crate::store::device_type_column(result.backup_eligible()),
            passkey: serde_json::to_string(&updated).map_err(Error::internal)?,
            used_at: now,
        };
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
