//! Re-authentication with a passkey: an assertion with one of the caller's own passkeys stamps
//! the caller's session as freshly authenticated (see `service/reauthentication.rs`) and creates
//! no new session. The ceremony is bound to the session that started it.

use serde::{Deserialize, Serialize};
use webauthn_rs::prelude::{DiscoverableAuthentication, PublicKeyCredential};

use super::{CeremonyStart, check_ceremony_id, kind, login::allow_entry, parse_credential};
use crate::domain::Session;
use crate::{
    error::{Error, Result},
    service::{Budget, RequestMeta, Services, SessionCaller},
};

#[derive(Serialize, Deserialize)]
struct ReauthenticationState {
    authentication: DiscoverableAuthentication,
    /// Only this session is stamped by the finish.
    session_id: String,
}

impl super::SessionBound for ReauthenticationState {
    fn session_id(&self) -> Option<&str> {
        Some(&self.session_id)
    }
}

impl Services {
    /// Begins a passkey re-authentication: the options list the caller's passkeys. Writes a
    /// ceremony, so it shares StartPasskeyLogin's per-client budget and ceremony caps.
    pub async fn start_passkey_reauthentication(
        &self,
        caller: &SessionCaller,
        meta: &RequestMeta,
    ) -> Result<CeremonyStart> {
        self.throttle_client(Budget::PasskeyStart, meta)?;
        let passkeys = self.inner.store.user_authenticators(&caller.user.id).await?;
        if passkeys.is_empty() {
            return Err(Error::NoPasskey);
        }
        let (options, authentication) = self.assertion_request(Some(passkeys.iter().map(allow_entry).collect()))?;
        let state =
            self.assertion_state(&ReauthenticationState { authentication, session_id: caller.session.id.clone() })?;
        let now = self.inner.clock.now();
        let ceremony_id =
            self.begin_ceremony(kind::REAUTHENTICATE, Some(caller.user.id.clone()), &state, now, meta).await?;
        Ok(CeremonyStart { ceremony_id, options_json: options.to_string() })
    }

    /// Verifies the assertion (one of the caller's passkeys, counter policy applied) and stamps
    /// the caller's session. Returns the session as it now is.
    pub async fn finish_passkey_reauthentication(
        &self,
        caller: &SessionCaller,
        ceremony_id: &str,
        credential_json: &str,
    ) -> Result<Session> {
        check_ceremony_id(ceremony_id)?;
        let credential: PublicKeyCredential = parse_credential(credential_json)?;
        let ReauthenticationState { authentication, .. } =
            self.finish_session_ceremony(ceremony_id, kind::REAUTHENTICATE, caller).await?;
        self.verify_assertion(&credential, authentication, Some(&caller.user.id)).await?;
        self.mark_reauthenticated(caller, "passkey").await
    }
}
