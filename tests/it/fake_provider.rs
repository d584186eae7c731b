//! A real HTTP OAuth 2.0 / OpenID Connect provider on 127.0.0.1:0, GitHub-flavoured too, for the
//! OAuth tests: discovery, JWKS with a real ES256 key, /authorize issuing codes bound to the PKCE
//! challenge, redirect URI and nonce, /token checking all of them and the client credentials,
//! /userinfo, and GitHub's /user and /user/emails. Tests change its behaviour between calls.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use aws_lc_rs::{
    digest,
    rand::SystemRandom,
    signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair},
};
use axum::{
    Json, Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode, Uri, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tokio::{net::TcpListener, sync::oneshot};

pub const CLIENT_ID: &str = "keyward-test-client";
pub const CLIENT_SECRET: &str = "keyward-test-secret";

/// What the provider's ID token gets wrong, if anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdTokenFault {
    None,
    /// Signed with a key that is not in the JWKS (same kid).
    WrongKey,
    WrongAudience,
    WrongNonce,
    Expired,
    WrongIssuer,
    /// No id_token in the token response.
    Missing,
}

/// The person signed in at the provider.
#[derive(Debug, Clone)]
pub struct ProviderUser {
    pub sub: String,
    pub github_id: u64,
    pub login: String,
    pub email: String,
    pub email_verified: bool,
    pub name: String,
    pub picture: String,
    /// GitHub /user/emails: (email, primary, verified).
    pub github_emails: Vec<(String, bool, bool)>,
}

impl ProviderUser {
    pub fn new(sub: &str, email: &str, verified: bool) -> Self {
        let github_id = sub.bytes().fold(1000u64, |acc, b| acc.wrapping_mul(31).wrapping_add(u64::from(b)));
        Self {
            sub: sub.into(),
            github_id,
            login: format!("{sub}-login"),
            email: email.into(),
            email_verified: verified,
            name: format!("User {sub}"),
            picture: format!("https://avatars.example.com/{sub}.png"),
            github_emails: vec![("old@example.org".into(), false, true), (email.into(), true, verified)],
        }
    }
}

#[derive(Debug, Clone)]
pub struct Behaviour {
    pub user: ProviderUser,
    pub id_token_fault: IdTokenFault,
    /// Leave email out of the ID token (the RP must use /userinfo).
    pub email_in_id_token: bool,
    /// /authorize redirects back with error=access_denied.
    pub deny: bool,
    /// Include a refresh token in token responses (Google sends one only on first consent).
    pub send_refresh_token: bool,
    /// Add `iss` with this value to the redirect back (RFC 9207).
    pub iss: Option<String>,
}

struct IssuedCode {
    challenge: String,
    redirect_uri: String,
    nonce: Option<String>,
    user: ProviderUser,
}

struct Inner {
    behaviour: Behaviour,
    codes: HashMap<String, IssuedCode>,
    access_tokens: HashMap<String, ProviderUser>,
    token_requests: u32,
}

#[derive(Clone)]
struct Shared {
    issuer: String,
    kid: String,
    key: Arc<EncodingKey>,
    wrong_key: Arc<EncodingKey>,
    jwk: Value,
    inner: Arc<Mutex<Inner>>,
}

pub struct FakeProvider {
    shared: Shared,
    stop: Option<oneshot::Sender<()>>,
}

impl FakeProvider {
    pub async fn start(user: ProviderUser) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let issuer = format!("http://{addr}");
        let (key, public) = es256_key();
        let (wrong_key, _) = es256_key();
        let kid = "test-key-1".to_owned();
        let jwk = json!({
            "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": kid,
            "x": URL_SAFE_NO_PAD.encode(&public[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&public[33..65]),
        });
        let shared = Shared {
            issuer,
            kid,
            key: Arc::new(key),
            wrong_key: Arc::new(wrong_key),
            jwk,
            inner: Arc::new(Mutex::new(Inner {
                behaviour: Behaviour {
                    user,
                    id_token_fault: IdTokenFault::None,
                    email_in_id_token: true,
                    deny: false,
                    send_refresh_token: true,
                    iss: None,
                },
                codes: HashMap::new(),
                access_tokens: HashMap::new(),
                token_requests: 0,
            })),
        };
        let router = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .route("/userinfo", get(userinfo))
            .route("/user", get(github_user))
            .route("/user/emails", get(github_emails))
            .with_state(shared.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        Self { shared, stop: Some(stop) }
    }

    pub fn issuer(&self) -> String {
        self.shared.issuer.clone()
    }

    /// Changes what the provider does from now on.
    pub fn set(&self, change: impl FnOnce(&mut Behaviour)) {
        change(&mut self.shared.inner.lock().unwrap().behaviour);
    }

    /// How many token requests reached the provider.
    pub fn token_requests(&self) -> u32 {
        self.shared.inner.lock().unwrap().token_requests
    }

    /// Stops serving: later calls find nobody listening.
    pub fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl Drop for FakeProvider {
    fn drop(&mut self) {
        self.stop();
    }
}

fn es256_key() -> (EncodingKey, Vec<u8>) {
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new()).unwrap();
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
    (EncodingKey::from_ec_der(pkcs8.as_ref()), pair.public_key().as_ref().to_vec())
}

fn random() -> String {
    URL_SAFE_NO_PAD.encode(uuid::Uuid::new_v4().as_bytes())
}

fn query(uri: &Uri) -> HashMap<String, String> {
    url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()).into_owned().collect()
}

fn oauth_error(status: StatusCode, error: &str) -> Response {
    (status, Json(json!({ "error": error }))).into_response()
}

async fn discovery(State(shared): State<Shared>) -> Json<Value> {
    let issuer = &shared.issuer;
    Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "userinfo_endpoint": format!("{issuer}/userinfo"),
        "jwks_uri": format!("{issuer}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
    }))
}

async fn jwks(State(shared): State<Shared>) -> Json<Value> {
    Json(json!({ "keys": [shared.jwk] }))
}

async fn authorize(State(shared): State<Shared>, uri: Uri) -> Response {
    let params = query(&uri);
    let param = |name: &str| params.get(name).cloned().unwrap_or_default();
    if param("client_id") != CLIENT_ID || param("response_type") != "code" {
        return (StatusCode::BAD_REQUEST, "bad client_id or response_type").into_response();
    }
    // This provider insists on PKCE S256, as RFC 9700 wants authorization servers to.
    if param("code_challenge_method") != "S256" || param("code_challenge").len() != 43 {
        return (StatusCode::BAD_REQUEST, "PKCE S256 required").into_response();
    }
    let redirect_uri = param("redirect_uri");
    let mut location = url::Url::parse(&redirect_uri).unwrap();
    let mut inner = shared.inner.lock().unwrap();
    if inner.behaviour.deny {
        location.query_pairs_mut().append_pair("error", "access_denied").append_pair("state", &param("state"));
    } else {
        let code = random();
        let user = inner.behaviour.user.clone();
        inner.codes.insert(
            code.clone(),
            IssuedCode { challenge: param("code_challenge"), redirect_uri, nonce: params.get("nonce").cloned(), user },
        );
        location.query_pairs_mut().append_pair("code", &code).append_pair("state", &param("state"));
    }
    if let Some(iss) = &inner.behaviour.iss {
        location.query_pairs_mut().append_pair("iss", iss);
    }
    (StatusCode::FOUND, [(header::LOCATION, location.to_string())]).into_response()
}

async fn token(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let field = |name: &str| form.get(name).cloned().unwrap_or_default();
    let mut inner = shared.inner.lock().unwrap();
    inner.token_requests += 1;

    // Client authentication: HTTP Basic or form fields (RFC 6749 §2.3.1).
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|raw| String::from_utf8(raw).ok());
    let (client_id, client_secret) = match basic {
        Some(pair) => {
            let (id, secret) = pair.split_once(':').unwrap_or_default();
            let decode =
                |s: &str| url::form_urlencoded::parse(format!("x={s}").as_bytes()).next().unwrap().1.into_owned();
            (decode(id), decode(secret))
        }
        None => (field("client_id"), field("client_secret")),
    };
    if client_id != CLIENT_ID || client_secret != CLIENT_SECRET {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    if field("grant_type") != "authorization_code" {
        return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type");
    }
    // Codes are single use.
    let Some(issued) = inner.codes.remove(&field("code")) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
    };
    if issued.redirect_uri != field("redirect_uri") {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
    }
    let verifier = field("code_verifier");
    let computed = URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, verifier.as_bytes()));
    if verifier.len() < 43 || computed != issued.challenge {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
    }

    let behaviour = inner.behaviour.clone();
    let access_token = random();
    inner.access_tokens.insert(access_token.clone(), issued.user.clone());
    drop(inner);

    let mut response = json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": 3600,
        "scope": "openid email profile",
    });
    if behaviour.send_refresh_token {
        response["refresh_token"] = Value::String(format!("refresh-{}", random()));
    }
    if behaviour.id_token_fault != IdTokenFault::Missing {
        response["id_token"] = Value::String(id_token(&shared, &issued, &behaviour));
    }
    Json(response).into_response()
}

fn id_token(shared: &Shared, issued: &IssuedCode, behaviour: &Behaviour) -> String {
    let now = chrono::Utc::now().timestamp();
    let fault = behaviour.id_token_fault;
    let user = &issued.user;
    let mut claims = json!({
        "iss": if fault == IdTokenFault::WrongIssuer { "http://evil.example.com".to_owned() } else { shared.issuer.clone() },
        "sub": user.sub,
        "aud": if fault == IdTokenFault::WrongAudience { "someone-else" } else { CLIENT_ID },
        "iat": now - 5,
        "exp": if fault == IdTokenFault::Expired { now - 3600 } else { now + 600 },
        "name": user.name,
        "picture": user.picture,
    });
    if let Some(nonce) = &issued.nonce {
        claims["nonce"] =
            Value::String(if fault == IdTokenFault::WrongNonce { "not-the-nonce".to_owned() } else { nonce.clone() });
    }
    if behaviour.email_in_id_token {
        claims["email"] = Value::String(user.email.clone());
        claims["email_verified"] = Value::Bool(user.email_verified);
    }
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(shared.kid.clone());
    let key = if fault == IdTokenFault::WrongKey { &shared.wrong_key } else { &shared.key };
    jsonwebtoken::encode(&header, &claims, key).unwrap()
}

fn bearer_user(shared: &Shared, headers: &HeaderMap) -> Option<ProviderUser> {
    let token = headers.get(header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Bearer ")?.to_owned();
    shared.inner.lock().unwrap().access_tokens.get(&token).cloned()
}

async fn userinfo(State(shared): State<Shared>, headers: HeaderMap) -> Response {
    let Some(user) = bearer_user(&shared, &headers) else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    Json(json!({
        "sub": user.sub, "email": user.email, "email_verified": user.email_verified, "name": user.name,
    }))
    .into_response()
}

async fn github_user(State(shared): State<Shared>, headers: HeaderMap) -> Response {
    let Some(user) = bearer_user(&shared, &headers) else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    Json(json!({ "id": user.github_id, "login": user.login, "name": user.name, "avatar_url": user.picture }))
        .into_response()
}

async fn github_emails(State(shared): State<Shared>, headers: HeaderMap) -> Response {
    let Some(user) = bearer_user(&shared, &headers) else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let emails: Vec<Value> = user
        .github_emails
        .iter()
        .map(|(email, primary, verified)| json!({ "email": email, "primary": primary, "verified": verified }))
        .collect();
    Json(Value::Array(emails)).into_response()
}
