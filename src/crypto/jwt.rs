//! Access tokens: EdDSA JWTs signed with the current key of a `KeySet` and verified with the
//! algorithm, `typ`, issuer and audience pinned (RFC 8725, RFC 9068).

use std::{collections::HashMap, time::Duration};

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, decode_header, encode};
use serde::{Deserialize, Serialize};

use super::keys::{Jwk, Jwks};
use crate::error::{Error, Result};

/// RFC 9068 explicit typing, so an access token cannot be confused with another JWT (RFC 8725 §3.11).
const ACCESS_TOKEN_TYP: &str = "at+jwt";
/// Anything longer is not a token we issued; refuse before parsing.
const MAX_TOKEN_BYTES: usize = 4096;

/// Who issues access tokens and for whom, and for how long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtSettings {
    pub issuer: String,
    pub audience: String,
    pub ttl: Duration,
    /// Clock skew tolerated on exp/iat. Kept small: the tokens are short-lived.
    pub leeway: Duration,
}

/// The claims of a Keyward access token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessClaims {
    pub iss: String,
    pub aud: String,
    /// User id.
    pub sub: String,
    /// Session id: other services may ask GetSession whether it is still live.
    pub sid: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    /// The roles an operator gave the user (AdminService), so other services can authorize
    /// locally. Always present, empty for none; absent in tokens from before roles existed.
    #[serde(default)]
    pub roles: Vec<String>,
}

/// A signed access token and when it stops being valid.
#[derive(Debug, Clone)]
pub struct IssuedAccessToken {
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

/// A key that signs during `[activates_at, retired_at)`.
pub struct SigningKey {
    pub kid: String,
    pub private_pkcs8: Vec<u8>,
    pub activates_at: DateTime<Utc>,
    pub retired_at: Option<DateTime<Utc>>,
}

/// A `SigningKey` ready to sign.
struct Signer {
    kid: String,
    key: EncodingKey,
    activates_at: DateTime<Utc>,
    retired_at: Option<DateTime<Utc>>,
}

/// The keys in force: those that sign (now or soon), and every one that is published — pending
/// keys before they sign, retired keys while their tokens may live.
pub struct KeySet {
    /// Latest activation first.
    signing: Vec<Signer>,
    verifying: HashMap<String, (DecodingKey, Jwk)>,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kids: Vec<&str> = self.signing.iter().map(|signer| signer.kid.as_str()).collect();
        f.debug_struct("KeySet").field("signing", &kids).finish_non_exhaustive()
    }
}

impl KeySet {
    /// `signing` keys sign in their windows; `public_keys` (kid, raw Ed25519 public key) verify
    /// and are published, and must include every signing key.
    pub fn new(signing: Vec<SigningKey>, public_keys: &[(String, Vec<u8>)]) -> Self {
        let verifying = public_keys
            .iter()
            .map(|(kid, public)| (kid.clone(), (DecodingKey::from_ed_der(public), Jwk::ed25519(kid, public))))
            .collect();
        let mut signing: Vec<Signer> = signing
            .into_iter()
            .map(|key| Signer {
                key: EncodingKey::from_ed_der(&key.private_pkcs8),
                kid: key.kid,
                activates_at: key.activates_at,
                retired_at: key.retired_at,
            })
            .collect();
        signing.sort_by(|a, b| b.activates_at.cmp(&a.activates_at).then_with(|| b.kid.cmp(&a.kid)));
        Self { signing, verifying }
    }

    /// Whether tokens signed by `kid` still verify (the key is live or recently retired).
    pub fn verifies(&self, kid: &str) -> bool {
        self.verifying.contains_key(kid)
    }

    /// The key that signs at `now`: the latest-activated one that has activated and not
    /// retired; failing that, the latest that has activated (a replica that has not yet loaded
    /// its successor keeps signing with what it has; that key stays published meanwhile).
    fn signer(&self, now: DateTime<Utc>) -> Option<(&str, &EncodingKey)> {
        let activated = || self.signing.iter().filter(|signer| signer.activates_at <= now);
        activated()
            .find(|signer| signer.retired_at.is_none_or(|retired_at| now < retired_at))
            .or_else(|| activated().next())
            .map(|signer| (signer.kid.as_str(), &signer.key))
    }

    /// The `kid` tokens issued at `now` carry.
    pub fn signing_kid(&self, now: DateTime<Utc>) -> Option<&str> {
        self.signer(now).map(|(kid, _)| kid)
    }

    pub fn jwks(&self) -> Jwks {
        let mut keys: Vec<Jwk> = self.verifying.values().map(|(_, jwk)| jwk.clone()).collect();
        keys.sort_by(|a, b| b.kid.cmp(&a.kid));
        Jwks { keys }
    }
}

/// Signs and verifies access tokens with one pinned configuration (algorithm, issuer, audience,
/// typ, leeway), in the manner RFC 8725 asks for.
#[derive(Debug, Clone)]
pub struct AccessTokenSigner {
    settings: JwtSettings,
    validation: Validation,
}

impl AccessTokenSigner {
    pub fn new(settings: JwtSettings) -> Self {
        // The algorithm is pinned: a token saying `alg: none`, HS256 or anything else is refused
        // before any key is used (RFC 8725 §3.1).
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[&settings.issuer]);
        validation.set_audience(&[&settings.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = settings.leeway.as_secs();
        validation.validate_exp = true;
        Self { settings, validation }
    }

    pub fn settings(&self) -> &JwtSettings {
        &self.settings
    }

    /// Issues a token for `user_id` in session `session_id`, valid for the configured TTL.
    pub fn issue(
        &self,
        keys: &KeySet,
        user_id: &str,
        session_id: &str,
        roles: Vec<String>,
        now: DateTime<Utc>,
    ) -> Result<IssuedAccessToken> {
        let expires_at = crate::domain::later(now, self.settings.ttl)?;
        let claims = AccessClaims {
            iss: self.settings.issuer.clone(),
            aud: self.settings.audience.clone(),
            sub: user_id.to_owned(),
            sid: session_id.to_owned(),
            iat: now.timestamp(),
            exp: expires_at.timestamp(),
            jti: uuid::Uuid::new_v4().to_string(),
            roles,
        };
        let (kid, key) = keys.signer(now).ok_or_else(|| Error::internal("no signing key has activated"))?;
        let mut header = Header::new(Algorithm::EdDSA);
        header.typ = Some(ACCESS_TOKEN_TYP.to_owned());
        header.kid = Some(kid.to_owned());
        let token = encode(&header, &claims, key).map_err(|err| Error::internal(format_args!("signing: {err}")))?;
        Ok(IssuedAccessToken { token, expires_at })
    }

    /// Verifies a token we issued. The key comes only from `kid` in our own key set; `jku`, `x5u`
    /// and `jwk` headers are never followed (RFC 8725 §3.10). Every failure is `SessionInvalid`.
    pub fn verify(&self, keys: &KeySet, token: &str) -> Result<AccessClaims> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(Error::SessionInvalid);
        }
        let header = decode_header(token).map_err(|_| Error::SessionInvalid)?;
        if header.alg != Algorithm::EdDSA || header.typ.as_deref() != Some(ACCESS_TOKEN_TYP) {
            return Err(Error::SessionInvalid);
        }
        let kid = header.kid.ok_or(Error::SessionInvalid)?;
        let (key, _) = keys.verifying.get(&kid).ok_or(Error::SessionInvalid)?;
        let data = decode::<AccessClaims>(token, key, &self.validation).map_err(|_| Error::SessionInvalid)?;
        Ok(data.claims)
    }

    /// The key id a token's header names, if it has one (for a cache of verified tokens,
    /// which must stop answering once that key is withdrawn).
    pub fn key_id(token: &str) -> Option<String> {
        decode_header(token).ok()?.kid
    }

    /// Whether a string looks like a JWT rather than an opaque session token.
    pub fn looks_like_jwt(token: &str) -> bool {
        token.bytes().filter(|b| *b == b'.').count() == 2
    }
}

#[cfg(test)]
mod tests {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

    use super::*;
    use crate::crypto::generate_ed25519;

    fn keyset(kid: &str) -> KeySet {
        let key = generate_ed25519().unwrap();
        let signing = SigningKey {
            kid: kid.into(),
            private_pkcs8: key.private_pkcs8,
            activates_at: DateTime::<Utc>::MIN_UTC,
            retired_at: None,
        };
        KeySet::new(vec![signing], &[(kid.into(), key.public_raw)])
    }

    #[test]
    fn a_pending_key_is_published_before_it_signs() {
        let now = Utc::now();
        let (old, new) = (generate_ed25519().unwrap(), generate_ed25519().unwrap());
        let at = now + chrono::Duration::seconds(90);
        let keys = KeySet::new(
            vec![
                SigningKey {
                    kid: "old".into(),
                    private_pkcs8: old.private_pkcs8,
                    activates_at: now - chrono::Duration::days(1),
                    retired_at: Some(at),
                },
                SigningKey { kid: "new".into(), private_pkcs8: new.private_pkcs8, activates_at: at, retired_at: None },
            ],
            &[("old".into(), old.public_raw), ("new".into(), new.public_raw)],
        );
        assert_eq!(keys.jwks().keys.len(), 2, "both published");
        assert_eq!(keys.signing_kid(now), Some("old"));
        assert_eq!(keys.signing_kid(at), Some("new"));
        let issued = signer().issue(&keys, "u", "s", vec![], now).unwrap();
        assert_eq!(decode_header(&issued.token).unwrap().kid.as_deref(), Some("old"));
    }

    fn signer() -> AccessTokenSigner {
        AccessTokenSigner::new(JwtSettings {
            issuer: "https://id.example".into(),
            audience: "example-api".into(),
            ttl: Duration::from_secs(300),
            leeway: Duration::from_secs(5),
        })
    }

    #[test]
    fn issue_then_verify() {
        let keys = keyset("k1");
        let issued = signer().issue(&keys, "user-1", "session-1", vec![], Utc::now()).unwrap();
        let claims = signer().verify(&keys, &issued.token).unwrap();
        assert_eq!((claims.sub.as_str(), claims.sid.as_str()), ("user-1", "session-1"));
        let header = decode_header(&issued.token).unwrap();
        assert_eq!((header.typ.as_deref(), header.kid.as_deref()), (Some("at+jwt"), Some("k1")));
    }

    #[test]
    fn refuses_other_keys_expired_tokens_and_alg_none() {
        let keys = keyset("k1");
        let stranger = keyset("k1"); // same kid, different key
        let forged = signer().issue(&stranger, "user-1", "s", vec![], Utc::now()).unwrap();
        assert!(signer().verify(&keys, &forged.token).is_err());

        let expired = signer().issue(&keys, "user-1", "s", vec![], Utc::now() - chrono::Duration::hours(1)).unwrap();
        assert!(signer().verify(&keys, &expired.token).is_err());

        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"at+jwt","kid":"k1"}"#);
        let valid = signer().issue(&keys, "user-1", "s", vec![], Utc::now()).unwrap();
        let payload = valid.token.split('.').nth(1).unwrap();
        assert!(signer().verify(&keys, &format!("{header}.{payload}.")).is_err());
    }
}
