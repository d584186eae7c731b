//! Secrets at rest: the Ed25519 signing keys, the provider tokens and the passkey decoy key are
//! sealed under the master key (AES-256-GCM, key id and algorithm beside each ciphertext), so a
//! copy of the database alone cannot mint an access token. Rows left in clear are sealed at
//! start, `keyward keys rewrap` moves everything to a new master key, and a missing or wrong key
//! stops the process with one clear line instead of generating a new one over sealed data.

use base64::{
    Engine,
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
};
use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, jwk::JwkSet};
use keyward::{
    Config,
    config::Secret,
    store::{AccountRecord, NewAccount, NewSession, ProviderTokens, Store, new_id},
};
use sea_orm::{ConnectionTrait, Database, Statement};

use crate::common::{Backend, PASSWORD, TestServer, both_backends, get_session, keyward_cli, login, register};

both_backends!(
    the_database_alone_cannot_mint_a_token,
    provider_tokens_are_sealed_and_bound_to_their_row,
    rows_in_clear_are_sealed_at_start,
    rewrap_moves_every_secret_to_a_new_master_key,
    a_missing_or_wrong_master_key_stops_start_up,
    the_passkey_decoy_has_its_own_key_and_outlives_rotation
);

async fn jwks(server: &TestServer) -> JwkSet {
    reqwest::get(format!("{}/.well-known/jwks.json", server.base_url())).await.unwrap().json().await.unwrap()
}

/// Signs a token for `sub` with `der` as an Ed25519 PKCS#8 key and `kid`, if `der` works as one.
fn mint(der: &[u8], kid: &str, issuer: &str, sub: &str) -> Option<String> {
    let mut header = Header::new(Algorithm::EdDSA);
    header.typ = Some("at+jwt".into());
    header.kid = Some(kid.into());
    let now = Utc::now().timestamp();
    let claims = serde_json::json!({ "iss": issuer, "aud": "keyward", "sub": sub, "sid": "x", "iat": now, "exp": now + 300, "jti": "j" });
    std::panic::catch_unwind(|| jsonwebtoken::encode(&header, &claims, &EncodingKey::from_ed_der(der)).ok())
        .ok()
        .flatten()
}

fn verifies(jwks: &JwkSet, token: &str, issuer: &str) -> bool {
    let kid = jsonwebtoken::decode_header(token).unwrap().kid.unwrap();
    let Some(jwk) = jwks.find(&kid) else { return false };
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&["keyward"]);
    jsonwebtoken::decode::<serde_json::Value>(token, &DecodingKey::from_jwk(jwk).unwrap(), &validation).is_ok()
}

/// Reads one text column of every row of `table`, straight from the database.
async fn raw_column(url: &str, table: &str, key_column: &str, column: &str) -> Vec<(String, Option<String>)> {
    let db = Database::connect(url).await.unwrap();
    let sql = format!("SELECT {key_column}, {column} FROM {table} ORDER BY {key_column}");
    let rows = db.query_all_raw(Statement::from_string(db.get_database_backend(), sql)).await.unwrap();
    let values = rows
        .iter()
        .map(|row| (row.try_get::<String>("", key_column).unwrap(), row.try_get::<Option<String>>("", column).unwrap()))
        .collect();
    db.close().await.unwrap();
    values
}

async fn execute(url: &str, sql: &str) {
    let db = Database::connect(url).await.unwrap();
    db.execute_unprepared(sql).await.unwrap();
    db.close().await.unwrap();
}

async fn the_database_alone_cannot_mint_a_token(backend: Backend) {
    let server = TestServer::start(backend).await;
    let issuer = server.base_url();
    let user = register(&mut server.auth().await, "target@example.com").await.user.unwrap();
    let jwks = jwks(&server).await;

    // What an attacker with a read-only copy of the database has: the signing_keys rows.
    let rows = raw_column(&server.db.url, "signing_keys", "id", "private_key").await;
    assert_eq!(rows.len(), 1);
    for (kid, sealed) in &rows {
        let sealed = sealed.as_deref().unwrap();
        assert!(sealed.starts_with("kw1:") && sealed.contains(":A256GCM:"), "{sealed}");
        let payload = URL_SAFE_NO_PAD.decode(sealed.rsplit(':').next().unwrap()).unwrap();
        let mut candidates = vec![sealed.as_bytes().to_vec(), payload.clone(), payload[12..].to_vec()];
        candidates.push(payload[12..payload.len() - 16].to_vec());
        candidates.extend(STANDARD.decode(sealed).ok());
        for candidate in candidates {
            if let Some(token) = mint(&candidate, kid, &issuer, &user.id) {
                assert!(!verifies(&jwks, &token, &issuer), "a token minted from the stored row verified");
            }
        }
    }
    // The check has teeth: the key in clear (what the store opens with the master key) mints a
    // token that verifies — which is what a copy of the database used to hand out.
    let opened = server.app.services().store().live_signing_keys(Utc::now()).await.unwrap();
    let token = mint(&STANDARD.decode(&opened[0].private_key).unwrap(), &opened[0].kid, &issuer, &user.id).unwrap();
    assert!(verifies(&jwks, &token, &issuer));

    if backend == Backend::Sqlite {
        // A copy of the database file alone (no master.key beside it) does not start a server
        // that could sign: it stops, saying what is missing, and generates no new key.
        let TestServer { app, db, config, .. } = server;
        app.shutdown().await.unwrap();
        let copy = tempfile::tempdir().unwrap();
        std::fs::copy(db.data_dir.join("keyward.db"), copy.path().join("keyward.db")).unwrap();
        let copied = Config {
            data_dir: copy.path().to_path_buf(),
            database_url: Some(format!("sqlite://{}?mode=rwc", copy.path().join("keyward.db").display())),
            ..config
        };
        let listener = tokio::net::TcpListener::bind(copied.listen).await.unwrap();
        let err = keyward::App::spawn(copied, listener).await.unwrap_err().to_string();
        assert!(err.contains("master.key is missing") && !err.contains('\n'), "{err}");
        assert!(!copy.path().join("master.key").exists(), "no new key over sealed data");
    } else {
        server.stop().await;
    }
}

/// Links a provider account with these tokens to `user_id`, through the store.
async fn link(store: &Store, user_id: &str, provider_account_id: &str, access: &str, refresh: &str) -> AccountRecord {
    let now = Utc::now();
    let tokens = ProviderTokens {
        access_token: Some(access.into()),
        refresh_token: Some(refresh.into()),
        expires_at: None,
        token_type: Some("bearer".into()),
        scope: Some("read:user".into()),
        id_token: Some(format!("id-token-of-{provider_account_id}")),
    };
    let account = NewAccount {
        id: new_id(),
        user_id: user_id.into(),
        kind: "oauth",
        provider: "github".into(),
        provider_account_id: provider_account_id.into(),
        tokens,
        created_at: now,
    };
    let session = NewSession {
        id: new_id(),
        token_hash: format!("{:064x}", rand_u128()),
        user_id: user_id.into(),
        created_at: now,
        authenticated_at: now,
        idle_expires: now + chrono::Duration::hours(1),
        expires: now + chrono::Duration::hours(1),
        user_agent: None,
    };
    store.link_account_with_session(account, session, None).await.unwrap().account
}

fn rand_u128() -> u128 {
    u128::from_le_bytes(*uuid::Uuid::new_v4().as_bytes())
}

async fn provider_tokens_are_sealed_and_bound_to_their_row(backend: Backend) {
    let server = TestServer::start(backend).await;
    let store = server.app.services().store();
    let ada = register(&mut server.auth().await, "ada@example.com").await.user.unwrap();
    let bob = register(&mut server.auth().await, "bob@example.com").await.user.unwrap();
    let ada_account = link(store, &ada.id, "1", "gho_ada_access", "ghr_ada_refresh").await;
    let bob_account = link(store, &bob.id, "2", "gho_bob_access", "ghr_bob_refresh").await;
    // Read through the store: in clear.
    assert_eq!(ada_account.access_token.as_deref(), Some("gho_ada_access"));
    let found = store.find_account("github", "1").await.unwrap().unwrap();
    assert_eq!(
        (found.access_token.as_deref(), found.refresh_token.as_deref()),
        (Some("gho_ada_access"), Some("ghr_ada_refresh"))
    );
    // In the database: sealed, all three token columns.
    for column in ["access_token", "refresh_token", "id_token"] {
        for (_, value) in raw_column(&server.db.url, "accounts", "id", column).await {
            let value = value.unwrap();
            assert!(
                value.starts_with("kw1:") && !value.contains("gho_") && !value.contains("ghr_"),
                "{column}: {value}"
            );
        }
    }
    // A ciphertext moved into another row (Bob's token into Ada's account) does not open there.
    let raw = raw_column(&server.db.url, "accounts", "id", "access_token").await;
    let bobs = raw.iter().find(|(id, _)| *id == bob_account.id).unwrap().1.clone().unwrap();
    execute(&server.db.url, &format!("UPDATE accounts SET access_token = '{bobs}' WHERE id = '{}'", ada_account.id))
        .await;
    let err = store.find_account("github", "1").await.unwrap_err().to_string();
    assert!(err.contains("does not open"), "{err}");
    server.stop().await;
}

async fn rows_in_clear_are_sealed_at_start(backend: Backend) {
    let server = TestServer::start(backend).await;
    let signed_in = register(&mut server.auth().await, "old@example.com").await;
    let store = server.app.services().store().clone();
    let account = link(&store, &signed_in.user.as_ref().unwrap().id, "7", "gho_plain", "ghr_plain").await;
    // Put the rows back as an older Keyward stored them: in clear.
    let key = store.live_signing_keys(Utc::now()).await.unwrap().remove(0);
    execute(
        &server.db.url,
        &format!("UPDATE signing_keys SET private_key = '{}' WHERE id = '{}'", key.private_key, key.kid),
    )
    .await;
    execute(
        &server.db.url,
        &format!("UPDATE accounts SET access_token = 'gho_plain', refresh_token = 'ghr_plain', id_token = NULL WHERE id = '{}'", account.id),
    )
    .await;
    let TestServer { app, db, config, .. } = server;
    let issuer = format!("http://{}", app.local_addr());
    app.shutdown().await.unwrap();

    // Restarted (on another port: the issuer is kept so tokens from before still verify).
    let server = TestServer::start_on(db, Config { issuer: Some(issuer), ..config }).await;
    let sealed = raw_column(&server.db.url, "signing_keys", "id", "private_key").await;
    assert!(sealed[0].1.as_deref().unwrap().starts_with("kw1:"), "{sealed:?}");
    for column in ["access_token", "refresh_token"] {
        let value = raw_column(&server.db.url, "accounts", "id", column).await.remove(0).1.unwrap();
        assert!(value.starts_with("kw1:"), "{column}: {value}");
    }
    let found = server.app.services().store().find_account("github", "7").await.unwrap().unwrap();
    assert_eq!(found.access_token.as_deref(), Some("gho_plain"));
    // The same key still signs, and its tokens from before verify.
    let mut auth = server.auth().await;
    assert!(get_session(&mut auth, &signed_in.access_token.unwrap().token).await.is_ok());
    assert!(login(&mut auth, "old@example.com", PASSWORD).await.is_ok());
    server.stop().await;
}

async fn rewrap_moves_every_secret_to_a_new_master_key(backend: Backend) {
    let server = TestServer::start(backend).await;
    let signed_in = register(&mut server.auth().await, "rewrap@example.com").await;
    link(server.app.services().store(), &signed_in.user.as_ref().unwrap().id, "9", "gho_rewrap", "ghr_rewrap").await;
    let TestServer { app, db, config, .. } = server;
    let config = Config { issuer: Some(format!("http://{}", app.local_addr())), ..config };
    app.shutdown().await.unwrap();
    let old_ids: Vec<_> = raw_column(&db.url, "signing_keys", "id", "private_key").await;

    let (new_key, new_text) = keyward::crypto::MasterKey::generate().unwrap();
    let new_file = db.data_dir.join("new.key");
    std::fs::write(&new_file, &new_text).unwrap();
    #[cfg(unix)]
    std::fs::set_permissions(&new_file, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let output = keyward_cli(
        &db,
        config.master_key.as_ref().map(Secret::expose),
        &["keys", "rewrap", "--new-master-key-file", new_file.to_str().unwrap()],
    );
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.contains(new_key.id()), "{stdout}");
    for (_, value) in raw_column(&db.url, "signing_keys", "id", "private_key").await {
        assert!(value.unwrap().starts_with(&format!("kw1:{}:", new_key.id())));
    }
    assert_ne!(old_ids, raw_column(&db.url, "signing_keys", "id", "private_key").await);
    // Running it again changes nothing.
    let again =
        keyward_cli(&db, Some(&new_text), &["keys", "rewrap", "--new-master-key-file", new_file.to_str().unwrap()]);
    let stdout = String::from_utf8(again.stdout).unwrap();
    assert!(stdout.contains("re-sealed 0 secrets"), "{stdout}");

    // The old key no longer starts a server; the new one does, and everything reads back.
    let listener = tokio::net::TcpListener::bind(config.listen).await.unwrap();
    let err = keyward::App::spawn(config.clone(), listener).await.unwrap_err().to_string();
    assert!(err.contains(&format!("sealed under master key {}", new_key.id())), "{err}");
    let config = Config { master_key: Some(Secret::new(new_text)), master_key_file: None, ..config };
    let server = TestServer::start_on(db, config).await;
    assert!(get_session(&mut server.auth().await, &signed_in.access_token.unwrap().token).await.is_ok());
    let found = server.app.services().store().find_account("github", "9").await.unwrap().unwrap();
    assert_eq!(found.refresh_token.as_deref(), Some("ghr_rewrap"));
    server.stop().await;
}

async fn a_missing_or_wrong_master_key_stops_start_up(backend: Backend) {
    let server = TestServer::start(backend).await;
    let TestServer { app, db, config, .. } = server;
    app.shutdown().await.unwrap();
    let (_, wrong) = keyward::crypto::MasterKey::generate().unwrap();
    // The binary: one line on stderr, a failing exit.
    let mut cases = vec![(Some(Secret::new(wrong)), "but the master key from KEYWARD_MASTER_KEY is")];
    cases.push((Some(Secret::new("not-a-key")), "master_key"));
    if backend == Backend::Sqlite {
        std::fs::remove_file(db.data_dir.join("master.key")).unwrap();
        cases.push((None, "master.key is missing"));
    } else {
        cases.push((None, "a master key is required with PostgreSQL"));
    }
    for (key, expected) in cases {
        let output = keyward_cli(&db, key.as_ref().map(Secret::expose), &["serve", "--listen", "127.0.0.1:0"]);
        assert!(!output.status.success());
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(expected), "{expected}: {stderr}");
    }
    drop(config);
}

async fn decoy_for(server: &TestServer, email: &str) -> serde_json::Value {
    let mut client = crate::passkeys::passkeys(server).await;
    let start = client
        .start_passkey_login(keyward::pb::StartPasskeyLoginRequest { email: email.into() })
        .await
        .unwrap()
        .into_inner();
    serde_json::from_str::<serde_json::Value>(&start.options_json).unwrap()["allowCredentials"].clone()
}

async fn the_passkey_decoy_has_its_own_key_and_outlives_rotation(backend: Backend) {
    let server = TestServer::start(backend).await;
    let decoy = decoy_for(&server, "nobody@example.com").await;
    assert!(!decoy.as_array().unwrap().is_empty());
    assert_ne!(decoy, decoy_for(&server, "somebody-else@example.com").await);
    // Its key is a secret of its own, sealed (as are the mailed codes' key and the login-timing
    // draw's key beside it).
    let rows = raw_column(&server.db.url, "secrets", "id", "value").await;
    let mut ids = rows.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>();
    ids.sort_unstable();
    assert_eq!(ids, ["email_code", "login_timing", "passkey_decoy"]);
    assert!(rows.iter().all(|(_, value)| value.as_deref().unwrap().starts_with("kw1:")), "{rows:?}");

    // Rotating the signing key does not change it (it used to: the decoy was derived from it).
    keyward::service::rotate_signing_key(server.app.services().store(), Utc::now(), std::time::Duration::ZERO)
        .await
        .unwrap();
    server.app.services().reload_signing_keys().await.unwrap();
    assert_eq!(decoy_for(&server, "nobody@example.com").await, decoy);
    // Nor does a restart, or another replica.
    let replica = server.start_replica().await;
    let mut other =
        keyward::pb::passkey_service_client::PasskeyServiceClient::connect(format!("http://{}", replica.local_addr()))
            .await
            .unwrap();
    let start = other
        .start_passkey_login(keyward::pb::StartPasskeyLoginRequest { email: "nobody@example.com".into() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(serde_json::from_str::<serde_json::Value>(&start.options_json).unwrap()["allowCredentials"], decoy);
    replica.shutdown().await.unwrap();
    server.stop().await;
}
