//! Keyward's integration tests: one binary (each extra test binary re-links tonic, sea-orm and
//! webauthn-rs). Every test starts a real server on 127.0.0.1:0 and calls it with generated tonic
//! clients over real sockets. Store-touching tests run on SQLite always and on PostgreSQL when
//! TEST_DATABASE_URL is set.

// Tests may panic on unexpected results: that is how they fail.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod fake_provider;

mod access_token_cache;
mod admin;
mod admin_invitation;
mod admin_scopes;
mod admin_users;
mod auth_flow;
mod bad_input;
mod breach_check;
mod caller_policy;
mod ceremony_race;
mod cli;
mod cli_output;
mod code_failures;
mod config_bounds;
mod config_examples;
mod cookies;
mod csrf;
mod factor_notices;
mod fuzz;
mod grpc_web;
mod hash_flood;
mod import_authjs;
mod import_better_auth;
mod load;
mod login_timing;
mod magic_link_csrf;
mod mail_language;
mod mail_templates;
mod metrics;
mod oauth;
mod outage;
mod outbox;
mod packaging;
mod passkey_authenticator;
mod passkey_limits;
mod passkey_sign_in_commit;
mod passkey_sign_up_mail;
mod passkeys;
mod passkeys_errors;
mod private_files;
mod reauthentication;
mod refusal_audit;
mod rotation;
mod schema;
mod secrets_at_rest;
mod session_cache;
mod sign_up_enumeration;
mod signin_page;
mod smtp_server;
mod storage_bounds;
mod suspension_lift;
mod throttle;
mod tidy;
mod tokens;
mod traces;
mod verification;
mod verification_codes;
mod watch;
mod webhook_lanes;
mod webhooks;
mod work_budget;
