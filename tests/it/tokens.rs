//! Access tokens: verifiable by anyone with the JWKS served over HTTP, surviving key rotation,
//! and refused when forged, expired or of the wrong kind. Sessions expire on both clocks.

use std::time::Duration;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, jwk::JwkSet};
use keyward::{crypto::generate_ed25519, pb};
use tonic::Code;

use crate::common::{Backend, PASSWORD, TestServer, bearer, both_backends, get_session, login, reason, register};

both_backends!(
    access_token_verifies_with_served_jwks_across_rotation,
    forged_and_expired_tokens_are_refused,
    sessions_expire
);

async fn fetch_jwks(server: &TestServer) -> JwkSet {
    reqwest::get(format!("{}/.well-known/jwks.json", server.base_url())).await.unwrap().json().await.unwrap()
}

/// Verifies like a downstream service would: key by kid from the JWKS, algorithm pinned.
fn verify_with_jwks(jwks: &JwkSet, token: &str, issuer: &str) -> serde_json::Value {
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    let jwk = jwks.find(header.kid.as_deref().unwrap()).expect("kid is published");
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&["keyward"]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    jsonwebtoken::decode::<serde_json::Value>(token, &DecodingKey::from_jwk(jwk).unwrap(), &validation).unwrap().claims
}

async fn access_token_verifies_with_served_jwks_across_rotation(backend: Backend) {
    let server = TestServer::start(backend).await;
    let issuer = format!("http://{}", server.addr());
    let mut auth = server.auth().await;
    let signed_in = register(&mut auth, "linus@example.com").await;
    let old_token = signed_in.access_token.unwrap().token;

    let jwks = fetch_jwks(&server).await;
    assert_eq!(jwks.keys.len(), 1);
    let claims = verify_with_jwks(&jwks, &old_token, &issuer);
    assert_eq!(claims["sub"], signed_in.user.unwrap().id);
    assert_eq!(claims["sid"], signed_in.session.unwrap().id);

    // Rotate with the real CLI against the same database, then let the server reload.
    let new_kid = crate::common::rotate_with_cli(&server, &[]);
    server.app.services().reload_signing_keys().await.unwrap();

    // Published at once, not yet signing: the old key still signs.
    let jwks = fetch_jwks(&server).await;
    assert_eq!(jwks.keys.len(), 2, "the new key is published before it signs");
    assert!(jwks.find(&new_kid).is_some());
    verify_with_jwks(&jwks, &old_token, &issuer);
    let fresh = login(&mut auth, "linus@example.com", PASSWORD).await.unwrap().access_token.unwrap().token;
    assert_ne!(jsonwebtoken::decode_header(&fresh).unwrap().kid.as_deref(), Some(new_kid.as_str()));

    // After signing_key_reload_secs + the JWKS max-age (30 + 60 s), the new key signs.
    server.clock.advance(Duration::from_secs(91));
    let fresh = login(&mut auth, "linus@example.com", PASSWORD).await.unwrap().access_token.unwrap().token;
    assert_eq!(jsonwebtoken::decode_header(&fresh).unwrap().kid.as_deref(), Some(new_kid.as_str()));
    verify_with_jwks(&jwks, &fresh, &issuer);
    server.app.services().reload_signing_keys().await.unwrap();
    let jwks = fetch_jwks(&server).await;
    assert_eq!(jwks.keys.len(), 2, "the retired key stays published while its tokens live");
    assert!(get_session(&mut auth, &old_token).await.is_ok(), "old tokens keep working after rotation");

    // Once a token lifetime has passed, the retired key leaves the JWKS.
    server.clock.advance(Duration::from_secs(3600));
    server.app.services().reload_signing_keys().await.unwrap();
    assert_eq!(fetch_jwks(&server).await.keys.len(), 1);
    server.stop().await;
}

async fn forged_and_expired_tokens_are_refused(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut auth = server.auth().await;
    let signed_in = register(&mut auth, "mallory-target@example.com").await;
    let real = signed_in.access_token.unwrap().token;
    let [header, payload, _signature] = real.split('.').collect::<Vec<_>>()[..] else { panic!() };
    let kid = jsonwebtoken::decode_header(&real).unwrap().kid.unwrap();

    // alg: none, with and without a signature.
    let none_header = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"none","typ":"at+jwt","kid":"{kid}"}}"#));
    // Same claims and kid, signed by a key that is not ours.
    let stranger = generate_ed25519().unwrap();
    let mut forged_header = jsonwebtoken::Header::new(Algorithm::EdDSA);
    forged_header.typ = Some("at+jwt".into());
    forged_header.kid = Some(kid.clone());
    let claims: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    let forged =
        jsonwebtoken::encode(&forged_header, &claims, &jsonwebtoken::EncodingKey::from_ed_der(&stranger.private_pkcs8))
            .unwrap();
    // A real signature over a modified payload.
    let mut tampered_claims = claims.clone();
    tampered_claims["sub"] = "someone-else".into();
    let tampered = format!("{header}.{}.{_signature}", URL_SAFE_NO_PAD.encode(tampered_claims.to_string()));
    // HS256 "signed" with the public key (algorithm confusion).
    let jwks = fetch_jwks(&server).await;
    let public = URL_SAFE_NO_PAD
        .decode(match &jwks.keys[0].algorithm {
            jsonwebtoken::jwk::AlgorithmParameters::OctetKeyPair(okp) => &okp.x,
            other => panic!("unexpected key {other:?}"),
        })
        .unwrap();
    let mut hs_header = jsonwebtoken::Header::new(Algorithm::HS256);
    hs_header.typ = Some("at+jwt".into());
    hs_header.kid = Some(kid);
    let confused = jsonwebtoken::encode(&hs_header, &claims, &jsonwebtoken::EncodingKey::from_secret(&public)).unwrap();

    for token in [format!("{none_header}.{payload}."), format!("{none_header}.{payload}"), forged, tampered, confused] {
        let err = get_session(&mut auth, &token).await.unwrap_err();
        assert_eq!((err.code(), reason(&err).as_str()), (Code::Unauthenticated, "SESSION_INVALID"), "{token}");
    }

    // An access token can read the session but not renew or end it.
    let err = auth.refresh_session(bearer(pb::RefreshSessionRequest {}, &real)).await.unwrap_err();
    assert_eq!((err.code(), reason(&err).as_str()), (Code::PermissionDenied, "SESSION_TOKEN_REQUIRED"));
    let err = auth.logout(bearer(pb::LogoutRequest {}, &real)).await.unwrap_err();
    assert_eq!(reason(&err), "SESSION_TOKEN_REQUIRED");

    // Past its exp (5 minutes + leeway) the real token is refused while the session lives on.
    server.clock.advance(Duration::from_secs(6 * 60));
    assert_eq!(reason(&get_session(&mut auth, &real).await.unwrap_err()), "SESSION_INVALID");
    assert!(get_session(&mut auth, &signed_in.session_token).await.is_ok());
    server.stop().await;
}

/// The defaults (NIST SP 800-63B-4 AAL1: re-authenticate at least every 30 days; a week idle):
/// an hour or a day of inactivity does not end a session, a week does, and 30 days end it
/// however active. (The AAL2 profile — 1 h idle, 24 h absolute — is `sessions_expire`.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_session_lifetimes() {
    let server = TestServer::start(Backend::Sqlite).await;
    let mut auth = server.auth().await;
    register(&mut auth, "aal1@example.com").await;
    let idle = login(&mut auth, "aal1@example.com", PASSWORD).await.unwrap().session_token;
    server.clock.advance(Duration::from_secs(25 * 3600));
    assert!(get_session(&mut auth, &idle).await.is_ok(), "a day of inactivity is within the week");
    server.clock.advance(Duration::from_secs(7 * 24 * 3600 + 1));
    assert_eq!(reason(&get_session(&mut auth, &idle).await.unwrap_err()), "SESSION_INVALID");
    let used_daily = login(&mut auth, "aal1@example.com", PASSWORD).await.unwrap().session_token;
    for _ in 0..29 {
        server.clock.advance(Duration::from_secs(24 * 3600));
        assert!(get_session(&mut auth, &used_daily).await.is_ok());
    }
    server.clock.advance(Duration::from_secs(24 * 3600 + 1));
    assert_eq!(reason(&get_session(&mut auth, &used_daily).await.unwrap_err()), "SESSION_INVALID", "30 days");
    server.stop().await;
}

async fn sessions_expire(backend: Backend) {
    let server = TestServer::start_with(backend, |config| {
        config.session_idle_timeout_secs = 3600;
        config.session_max_age_secs = 3 * 3600;
        config.session_touch_interval_secs = 60;
    })
    .await;
    let mut auth = server.auth().await;
    let active = register(&mut auth, "idle@example.com").await.session_token;
    let idle = login(&mut auth, "idle@example.com", PASSWORD).await.unwrap().session_token;

    // Use keeps `active` alive past the idle timeout; `idle` lapses.
    for _ in 0..3 {
        server.clock.advance(Duration::from_secs(40 * 60));
        assert!(get_session(&mut auth, &active).await.is_ok());
    }
    assert_eq!(reason(&get_session(&mut auth, &idle).await.unwrap_err()), "SESSION_INVALID");

    // Not past the absolute lifetime, however active.
    for _ in 0..3 {
        server.clock.advance(Duration::from_secs(40 * 60));
        let _ = get_session(&mut auth, &active).await;
    }
    assert_eq!(reason(&get_session(&mut auth, &active).await.unwrap_err()), "SESSION_INVALID");

    // The sweeper deletes both.
    assert_eq!(server.app.services().sweep_expired().await.unwrap(), 2);
    server.stop().await;
}
