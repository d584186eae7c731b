//! Auth.js source databases for the import tests. The SQL adapter layout is built by the real
//! `@auth/pg-adapter` (tests/authjs/seed-pg-adapter.mjs, run with Node). The Prisma layout cannot
//! be built by Prisma here (its engines are a binary download), so its tables are created from
//! the SQL `prisma migrate` makes of the schema in Auth.js's Prisma adapter docs, and its rows are
//! inserted as the Prisma adapter and `@auth/core` write them — the Authenticator row exactly as
//! `@auth/core`'s WebAuthn provider stores a registration: standard base64 (with padding) of the
//! raw credential id and of the COSE public key, from a real software-authenticator registration
//! made with a random 32-byte-hex user id that Auth.js never stores.

use std::{path::Path, process::Command};

use aws_lc_rs::rand::SecureRandom;
use base64::{
    Engine,
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
};
use chrono::{DateTime, Duration, Utc};
use sea_orm::{ConnectionTrait, Database, DbBackend, Statement, Value};
use serde_json::{Value as Json, json};

use crate::{common::Backend, passkey_authenticator::TestPasskey};

/// What the pg-adapter seed printed: users (id, email, password) and session tokens by name.
pub struct PgAdapterSeed(pub Json);

impl PgAdapterSeed {
    pub fn user_id(&self, key: &str) -> String {
        self.0["users"][key]["id"].as_str().unwrap().to_owned()
    }

    pub fn password(&self, key: &str) -> String {
        self.0["users"][key]["password"].as_str().unwrap().to_owned()
    }

    pub fn session(&self, key: &str) -> String {
        self.0["sessions"][key].as_str().unwrap().to_owned()
    }
}

/// Runs the Node seed against the (empty) PostgreSQL database at `url`.
pub fn seed_pg_adapter(url: &str) -> PgAdapterSeed {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/authjs");
    assert!(
        dir.join("node_modules/@auth/pg-adapter").is_dir(),
        "the Auth.js fixture is not installed: npm ci --prefix tests/authjs (scripts/test does this)"
    );
    let output = Command::new("node").arg(dir.join("seed-pg-adapter.mjs")).arg(url).output().expect("node");
    assert!(output.status.success(), "seed failed: {}", String::from_utf8_lossy(&output.stderr));
    PgAdapterSeed(serde_json::from_slice(&output.stdout).unwrap())
}

/// The Prisma schema's tables, as `prisma migrate` creates them on SQLite (the docs' SQLite
/// schema: `Account` and `Session` have ids) and on PostgreSQL (no ids there, timestamps are
/// `TIMESTAMP(3)` without time zone), plus the `password` column of the credentials tutorials.
const PRISMA_SQLITE: &str = r#"
CREATE TABLE "User" ("id" TEXT NOT NULL PRIMARY KEY, "name" TEXT, "email" TEXT, "emailVerified" DATETIME, "image" TEXT,
  "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP, "updatedAt" DATETIME NOT NULL, "password" TEXT);
CREATE TABLE "Account" ("id" TEXT NOT NULL PRIMARY KEY, "userId" TEXT NOT NULL, "type" TEXT NOT NULL, "provider" TEXT NOT NULL,
  "providerAccountId" TEXT NOT NULL, "refresh_token" TEXT, "access_token" TEXT, "expires_at" INTEGER, "token_type" TEXT,
  "scope" TEXT, "id_token" TEXT, "session_state" TEXT, "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  "updatedAt" DATETIME NOT NULL,
  CONSTRAINT "Account_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User" ("id") ON DELETE CASCADE ON UPDATE CASCADE);
CREATE TABLE "Session" ("id" TEXT NOT NULL PRIMARY KEY, "sessionToken" TEXT NOT NULL, "userId" TEXT NOT NULL,
  "expires" DATETIME NOT NULL, "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP, "updatedAt" DATETIME NOT NULL,
  CONSTRAINT "Session_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User" ("id") ON DELETE CASCADE ON UPDATE CASCADE);
CREATE TABLE "VerificationToken" ("identifier" TEXT NOT NULL, "token" TEXT NOT NULL, "expires" DATETIME NOT NULL);
CREATE TABLE "Authenticator" ("credentialID" TEXT NOT NULL, "userId" TEXT NOT NULL, "providerAccountId" TEXT NOT NULL,
  "credentialPublicKey" TEXT NOT NULL, "counter" INTEGER NOT NULL, "credentialDeviceType" TEXT NOT NULL,
  "credentialBackedUp" BOOLEAN NOT NULL, "transports" TEXT, PRIMARY KEY ("userId", "credentialID"),
  CONSTRAINT "Authenticator_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User" ("id") ON DELETE CASCADE ON UPDATE CASCADE);
CREATE UNIQUE INDEX "User_email_key" ON "User"("email");
CREATE UNIQUE INDEX "Account_provider_providerAccountId_key" ON "Account"("provider", "providerAccountId");
CREATE UNIQUE INDEX "Session_sessionToken_key" ON "Session"("sessionToken");
CREATE UNIQUE INDEX "VerificationToken_identifier_token_key" ON "VerificationToken"("identifier", "token");
CREATE UNIQUE INDEX "Authenticator_credentialID_key" ON "Authenticator"("credentialID");
"#;

const PRISMA_POSTGRES: &str = r#"
CREATE TABLE "User" ("id" TEXT NOT NULL, "name" TEXT, "email" TEXT NOT NULL, "emailVerified" TIMESTAMP(3), "image" TEXT,
  "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP, "updatedAt" TIMESTAMP(3) NOT NULL, "password" TEXT,
  CONSTRAINT "User_pkey" PRIMARY KEY ("id"));
CREATE TABLE "Account" ("userId" TEXT NOT NULL, "type" TEXT NOT NULL, "provider" TEXT NOT NULL, "providerAccountId" TEXT NOT NULL,
  "refresh_token" TEXT, "access_token" TEXT, "expires_at" INTEGER, "token_type" TEXT, "scope" TEXT, "id_token" TEXT,
  "session_state" TEXT, "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP, "updatedAt" TIMESTAMP(3) NOT NULL,
  CONSTRAINT "Account_pkey" PRIMARY KEY ("provider","providerAccountId"));
CREATE TABLE "Session" ("sessionToken" TEXT NOT NULL, "userId" TEXT NOT NULL, "expires" TIMESTAMP(3) NOT NULL,
  "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP, "updatedAt" TIMESTAMP(3) NOT NULL);
CREATE TABLE "VerificationToken" ("identifier" TEXT NOT NULL, "token" TEXT NOT NULL, "expires" TIMESTAMP(3) NOT NULL,
  CONSTRAINT "VerificationToken_pkey" PRIMARY KEY ("identifier","token"));
CREATE TABLE "Authenticator" ("credentialID" TEXT NOT NULL, "userId" TEXT NOT NULL, "providerAccountId" TEXT NOT NULL,
  "credentialPublicKey" TEXT NOT NULL, "counter" INTEGER NOT NULL, "credentialDeviceType" TEXT NOT NULL,
  "credentialBackedUp" BOOLEAN NOT NULL, "transports" TEXT, CONSTRAINT "Authenticator_pkey" PRIMARY KEY ("userId","credentialID"));
CREATE UNIQUE INDEX "User_email_key" ON "User"("email");
CREATE UNIQUE INDEX "Session_sessionToken_key" ON "Session"("sessionToken");
CREATE UNIQUE INDEX "Authenticator_credentialID_key" ON "Authenticator"("credentialID");
ALTER TABLE "Account" ADD CONSTRAINT "Account_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "Session" ADD CONSTRAINT "Session_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "Authenticator" ADD CONSTRAINT "Authenticator_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;
"#;

pub const CAROL: &str = "clx3k0v1a0000qz8h2b9y4f1e";
pub const DAN: &str = "clx3k0v1a0001qz8hc5m1w7ra";
pub const ERIN: &str = "clx3k0v1a0002qz8h9d3kq0zt";
pub const CAROL_PASSWORD: &str = "tidal-quartz-fennel-18";
pub const DAN_PASSWORD: &str = "marble-cedar-ochre-75";

/// What the Prisma source holds that the test uses afterwards.
pub struct PrismaSeed {
    pub carol_session: String,
    /// Live sessions of Carol's whose tokens have the right shape but were not random.
    pub low_entropy_sessions: [String; 2],
    /// Erin's passkey, as the authenticator keeps it (with Auth.js's random user handle).
    pub erin_passkey: TestPasskey,
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    aws_lc_rs::rand::SystemRandom::new().fill(&mut bytes).unwrap();
    bytes
}

/// `@auth/core`'s `randomString(32)`: 32 random bytes as hex — the WebAuthn `user.id` it
/// registers passkeys with (SimpleWebAuthn 9 sends the string's UTF-8 bytes as the handle).
fn authjs_random_user_id() -> String {
    random_bytes::<32>().iter().map(|b| format!("{b:02x}")).collect()
}

/// The Authenticator row `@auth/core`'s WebAuthn provider writes for a registration.
pub struct AuthjsAuthenticator {
    pub credential_id: String,
    pub credential_public_key: String,
    pub counter: i64,
    pub credential_device_type: &'static str,
    pub credential_backed_up: bool,
    pub transports: Option<String>,
}

/// Registers a software passkey with options shaped like SimpleWebAuthn's
/// `generateRegistrationOptions` as `@auth/core` calls it, and reads the credential the way
/// `verifyRegister` stores it.
pub fn register_like_authjs(passkey: &mut TestPasskey, email: &str) -> AuthjsAuthenticator {
    let options = json!({
        "rp": { "name": "Auth.js app", "id": "localhost" },
        "user": { "id": URL_SAFE_NO_PAD.encode(authjs_random_user_id()), "name": email, "displayName": email },
        "challenge": URL_SAFE_NO_PAD.encode(random_bytes::<32>()),
        "pubKeyCredParams": [{ "type": "public-key", "alg": -8 }, { "type": "public-key", "alg": -7 }, { "type": "public-key", "alg": -257 }],
        "timeout": 60000,
        "attestation": "none",
        "excludeCredentials": [],
        "authenticatorSelection": { "residentKey": "preferred", "requireResidentKey": false, "userVerification": "preferred" },
        "extensions": { "credProps": true },
    });
    let registration: Json = serde_json::from_str(&passkey.create_with(options)).unwrap();
    let attestation = URL_SAFE_NO_PAD.decode(registration["response"]["attestationObject"].as_str().unwrap()).unwrap();
    let serde_cbor_2::Value::Map(map) = serde_cbor_2::from_slice(&attestation).unwrap() else { panic!("not a map") };
    let auth_data = map
        .iter()
        .find_map(|(key, value)| match (key, value) {
            (serde_cbor_2::Value::Text(key), serde_cbor_2::Value::Bytes(bytes)) if key == "authData" => {
                Some(bytes.clone())
            }
            _ => None,
        })
        .unwrap();
    // rpIdHash (32) ‖ flags (1) ‖ signCount (4) ‖ AAGUID (16) ‖ idLength (2) ‖ id ‖ COSE key.
    let flags = auth_data[32];
    let counter = u32::from_be_bytes(auth_data[33..37].try_into().unwrap());
    let id_len = usize::from(u16::from_be_bytes(auth_data[53..55].try_into().unwrap()));
    let raw_id = &auth_data[55..55 + id_len];
    let rest = &auth_data[55 + id_len..];
    let mut items = serde_cbor_2::Deserializer::from_slice(rest).into_iter::<serde_cbor_2::Value>();
    items.next().unwrap().unwrap();
    let cose = &rest[..items.byte_offset()];
    let backup_eligible = flags & 0x08 != 0;
    let transports = registration["response"]["transports"]
        .as_array()
        .map(|list| list.iter().filter_map(Json::as_str).collect::<Vec<_>>().join(","))
        .filter(|joined| !joined.is_empty());
    AuthjsAuthenticator {
        credential_id: STANDARD.encode(raw_id),
        credential_public_key: STANDARD.encode(cose),
        counter: i64::from(counter),
        credential_device_type: if backup_eligible { "multiDevice" } else { "singleDevice" },
        credential_backed_up: flags & 0x10 != 0,
        transports,
    }
}

/// A time as Prisma's engine writes it: integer milliseconds on SQLite, `TIMESTAMP(3)` on
/// PostgreSQL.
fn prisma_time(backend: Backend, time: DateTime<Utc>) -> Value {
    match backend {
        Backend::Sqlite => Value::from(time.timestamp_millis()),
        Backend::Postgres => Value::from(time.naive_utc()),
    }
}

/// Creates the Prisma-layout source at `url` (an empty database) and fills it.
pub async fn seed_prisma(backend: Backend, url: &str) -> PrismaSeed {
    let db = Database::connect(url).await.unwrap();
    let db_backend = match backend {
        Backend::Sqlite => DbBackend::Sqlite,
        Backend::Postgres => DbBackend::Postgres,
    };
    db.execute_unprepared(match backend {
        Backend::Sqlite => PRISMA_SQLITE,
        Backend::Postgres => PRISMA_POSTGRES,
    })
    .await
    .unwrap();
    let exec = |sql: &str, values: Vec<Value>| {
        let statement = Statement::from_sql_and_values(db_backend, placeholders(backend, sql), values);
        let db = &db;
        async move { db.execute_raw(statement).await.unwrap() }
    };
    let now = Utc::now();
    let t = |time: DateTime<Utc>| prisma_time(backend, time);

    let carol_hash = bcrypt::hash(CAROL_PASSWORD, 10).unwrap();
    let dan_hash = {
        use argon2::PasswordHasher as _;
        let params = argon2::Params::new(1024, 1, 1, None).unwrap();
        argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
            .hash_password(DAN_PASSWORD.as_bytes())
            .unwrap()
            .to_string()
    };
    let user = "INSERT INTO \"User\" (id, name, email, \"emailVerified\", image, \"createdAt\", \"updatedAt\", password) VALUES (?, ?, ?, ?, ?, ?, ?, ?)";
    exec(
        user,
        vec![
            CAROL.into(),
            "Carol".into(),
            "carol@example.com".into(),
            t(now - Duration::days(3)),
            "https://example.com/carol.png".into(),
            t(now - Duration::days(90)),
            t(now - Duration::days(3)),
            carol_hash.into(),
        ],
    )
    .await;
    exec(
        user,
        vec![
            DAN.into(),
            Value::String(None),
            "Dan@Example.com".into(),
            prisma_none(backend),
            Value::String(None),
            t(now - Duration::days(60)),
            t(now - Duration::days(60)),
            dan_hash.into(),
        ],
    )
    .await;
    // A passkey-only user; this emailVerified written as ISO text (a Prisma driver adapter).
    let erin_verified = match backend {
        Backend::Sqlite => Value::from("2026-10-01T08:00:00.000Z"),
        Backend::Postgres => t(now - Duration::days(1)),
    };
    exec(
        user,
        vec![
            ERIN.into(),
            "Erin".into(),
            "erin@example.com".into(),
            erin_verified,
            Value::String(None),
            t(now - Duration::days(30)),
            t(now - Duration::days(30)),
            Value::String(None),
        ],
    )
    .await;

    let account_columns = "\"userId\", type, provider, \"providerAccountId\", refresh_token, access_token, expires_at, token_type, scope, \"updatedAt\"";
    let (account_sql, account_id) = match backend {
        Backend::Sqlite => {
            (format!("INSERT INTO \"Account\" (id, {account_columns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"), true)
        }
        Backend::Postgres => {
            (format!("INSERT INTO \"Account\" ({account_columns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"), false)
        }
    };
    let account = |id: &str, values: Vec<Value>| {
        let mut all = if account_id { vec![Value::from(id)] } else { Vec::new() };
        all.extend(values);
        all
    };
    let expires_at = i32::try_from((now + Duration::hours(8)).timestamp()).unwrap();
    exec(
        &account_sql,
        account(
            "clx3k0v1a0003qz8h4n6d2pbs",
            vec![
                CAROL.into(),
                "oauth".into(),
                "github".into(),
                "4242".into(),
                "ghr_refresh".into(),
                "ghu_access".into(),
                expires_at.into(),
                "bearer".into(),
                "read:user,user:email".into(),
                t(now),
            ],
        ),
    )
    .await;

    let mut erin_passkey = TestPasskey::new();
    let authenticator = register_like_authjs(&mut erin_passkey, "erin@example.com");
    // @auth/core links a "webauthn" account whose providerAccountId is the credential id.
    exec(
        &account_sql,
        account(
            "clx3k0v1a0004qz8h7t2y8m3c",
            vec![
                ERIN.into(),
                "webauthn".into(),
                "passkey".into(),
                authenticator.credential_id.clone().into(),
                Value::String(None),
                Value::String(None),
                Value::Int(None),
                Value::String(None),
                Value::String(None),
                t(now),
            ],
        ),
    )
    .await;
    let authenticator_sql = "INSERT INTO \"Authenticator\" (\"credentialID\", \"userId\", \"providerAccountId\", \"credentialPublicKey\", counter, \"credentialDeviceType\", \"credentialBackedUp\", transports) VALUES (?, ?, ?, ?, ?, ?, ?, ?)";
    exec(
        authenticator_sql,
        vec![
            authenticator.credential_id.clone().into(),
            ERIN.into(),
            authenticator.credential_id.clone().into(),
            authenticator.credential_public_key.into(),
            i32::try_from(authenticator.counter).unwrap().into(),
            authenticator.credential_device_type.into(),
            authenticator.credential_backed_up.into(),
            authenticator.transports.into(),
        ],
    )
    .await;
    // A malformed row: the public key is not a COSE key.
    exec(
        authenticator_sql,
        vec![
            "bWFsZm9ybWVkLWNyZWRlbnRpYWw=".into(),
            CAROL.into(),
            "bWFsZm9ybWVkLWNyZWRlbnRpYWw=".into(),
            STANDARD.encode("not a COSE key").into(),
            0i32.into(),
            "singleDevice".into(),
            false.into(),
            "internal".into(),
        ],
    )
    .await;

    let carol_session = uuid::Uuid::new_v4().to_string();
    let low_entropy_sessions = ["0".repeat(64), "00000000-0000-4000-8000-000000000000".to_owned()];
    let (session_sql, session_id) = match backend {
        Backend::Sqlite => (
            "INSERT INTO \"Session\" (id, \"sessionToken\", \"userId\", expires, \"updatedAt\") VALUES (?, ?, ?, ?, ?)",
            true,
        ),
        Backend::Postgres => (
            "INSERT INTO \"Session\" (\"sessionToken\", \"userId\", expires, \"updatedAt\") VALUES (?, ?, ?, ?)",
            false,
        ),
    };
    for (id, token, user, expires) in [
        ("clx3k0v1a0005qz8hb1x5r9ve", carol_session.clone(), CAROL, now + Duration::days(30)),
        ("clx3k0v1a0006qz8h3f8c6kwu", uuid::Uuid::new_v4().to_string(), ERIN, now - Duration::hours(1)),
        ("clx3k0v1a0007qz8hzero64hex", low_entropy_sessions[0].clone(), CAROL, now + Duration::days(30)),
        ("clx3k0v1a0008qz8hniluuidv4", low_entropy_sessions[1].clone(), CAROL, now + Duration::days(30)),
    ] {
        let mut values = if session_id { vec![Value::from(id)] } else { Vec::new() };
        values.extend([Value::from(token), user.into(), t(expires), t(now)]);
        exec(session_sql, values).await;
    }
    exec(
        "INSERT INTO \"VerificationToken\" (identifier, token, expires) VALUES (?, ?, ?)",
        vec![
            "dan@example.com".into(),
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
            t(now + Duration::hours(20)),
        ],
    )
    .await;
    db.close().await.unwrap();
    PrismaSeed { carol_session, low_entropy_sessions, erin_passkey }
}

fn prisma_none(backend: Backend) -> Value {
    match backend {
        Backend::Sqlite => Value::BigInt(None),
        Backend::Postgres => Value::ChronoDateTime(None),
    }
}

/// `?` placeholders as the backend wants them.
fn placeholders(backend: Backend, sql: &str) -> String {
    match backend {
        Backend::Sqlite => sql.to_owned(),
        Backend::Postgres => {
            let mut n = 0;
            sql.chars()
                .map(|c| {
                    if c == '?' {
                        n += 1;
                        format!("${n}")
                    } else {
                        c.to_string()
                    }
                })
                .collect()
        }
    }
}
