//! `keyward import better-auth`: brings a better-auth database into Keyward with the same rules,
//! batches and report as the Auth.js import (`users`, `accounts`, `passkeys` phases are shared):
//! this module maps better-auth's rows onto them and adds what is better-auth's own.
//!
//! - Users: the password is the `credential` account's scrypt hash, kept as
//!   `$better-auth-scrypt$…` and re-hashed to argon2id at the first sign-in; `emailVerified`
//!   is a flag there, a time here (the row's `updatedAt`). Anonymous users are skipped.
//! - Accounts: every other account is a linked OAuth/OIDC account at the provider of the same id.
//! - Sessions: imported by the SHA-256 of their `token`; the app's signed cookie is then accepted
//!   with the app's secret, which the import seals into Keyward's `secrets` table. Imported
//!   sessions are never recent (store: `authenticated_at` = the epoch).
//! - Two-factor enrolments are decrypted (proving the secret) and reported, not imported:
//!   Keyward has no second factor store yet. A secret that decrypts none of them stops the import
//!   before anything is written.
//!
//! The mapping, table by table, is in docs/migrating-from-better-auth.md.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};

use super::{
    ImportOptions, ImportPolicy, ImportProgress, ImportReport, ImportTable, ImportTarget, Phase, Run, accounts,
    chrono_duration, users,
};
use crate::{
    crypto::{BetterAuthSecret, better_auth_password_hash},
    domain::SessionToken,
    error::{Error, Result},
    store::{
        NewSession,
        authjs::{SourceAccount, SourceAuthenticator, SourceUser},
        better_auth::{BetterAuthAccount, BetterAuthPasskey, BetterAuthSession, BetterAuthSource, BetterAuthUser},
        new_id,
    },
};

/// Where Keyward keeps the app's secret (sealed under the master key), for the cookie check.
pub const SECRET_ID: &str = "better_auth.secret";
/// Longest user agent kept from a source session.
const MAX_USER_AGENT_CHARS: usize = 256;

/// What only a better-auth import needs.
#[derive(Debug, Clone, Default)]
pub struct BetterAuthImport {
    /// The app's `BETTER_AUTH_SECRET`: without it sessions and two-factor rows cannot be used.
    pub secret: Option<BetterAuthSecret>,
}

/// Imports everything from a better-auth `source` into `target`.
pub async fn import_better_auth(
    source: &BetterAuthSource,
    target: &ImportTarget,
    policy: &ImportPolicy,
    options: &ImportOptions,
    progress: &dyn ImportProgress,
    import: &BetterAuthImport,
) -> Result<ImportReport> {
    // First, before any write: the secret must be the app's (it decrypts its two-factor rows).
    let two_factor = check_two_factor(source, import.secret.as_ref()).await?;
    let mut run = Run::new(target, policy, options, progress, format!("{}, {}", source.backend(), source.describe()));
    let mut skipped_users = HashSet::new();
    let mut phase = Users { inner_duplicates: users::duplicate_emails(source.user_emails().await?), skipped_users };
    run.drive(&mut phase, source.users().await?).await?;
    skipped_users = phase.skipped_users;
    if !skipped_users.is_empty() {
        run.report.notes.push(format!(
            "{} anonymous user(s) (anonymous plugin) were not imported, nor their sessions and accounts",
            skipped_users.len()
        ));
    }
    let mut accounts = Accounts { skipped_users: &skipped_users, providers: BTreeSet::new() };
    run.drive(&mut accounts, source.accounts().await?).await?;
    for provider in accounts.providers.iter().filter(|p| !policy.configured_providers.contains(p)) {
        run.report.notes.push(format!(
            "accounts at provider {provider:?} were imported, but no such provider is configured: configure it with the id {provider:?} so these users can sign in with it"
        ));
    }
    if let Some(rows) = source.passkeys().await? {
        run.drive(&mut PasskeyRows { skipped_users: &skipped_users }, rows).await?;
    }
    match (&import.secret, options.skip_sessions) {
        (_, true) => {
            run.report.notes.push("sessions were not imported (--skip-sessions): every user signs in again".to_owned())
        }
        (None, false) => run.report.notes.push(
            "sessions were not imported: without the app's secret (--secret or BETTER_AUTH_SECRET) Keyward cannot check its signed cookies"
                .to_owned(),
        ),
        (Some(_), false) => {
            if let Some(rows) = source.sessions().await? {
                run.drive(&mut Sessions { skipped_users: &skipped_users }, rows).await?;
            }
        }
    }
    let (verifications, live) = source.verification_counts(run.now).await?;
    run.report.count_mut(ImportTable::VerificationTokens).skipped += verifications;
    if live > 0 {
        run.report.notes.push(format!(
            "{live} unexpired verification value(s) (email verification, password reset, OTPs) were not carried over: they are for better-auth's own endpoints; those users ask again"
        ));
    }
    two_factor.report(&mut run.report);
    for (what, rows) in source.not_imported().await? {
        if rows > 0 {
            run.report.notes.push(format!("{rows} {what} were not imported: Keyward has no such thing"));
        }
    }
    if let (Some(secret), Some(store), true) = (&import.secret, run.store(), target.write) {
        store.put_server_secret(SECRET_ID, secret.expose(), run.now).await?;
    }
    Ok(run.report)
}

/// The two-factor rows as read: how many decrypted, and the rows that did not.
struct TwoFactorCheck {
    decrypted: u64,
    failed: Vec<(Option<String>, String)>,
    without_secret: u64,
}

impl TwoFactorCheck {
    fn report(self, report: &mut ImportReport) {
        const TABLE: ImportTable = ImportTable::TwoFactor;
        for (id, reason) in self.failed {
            report.failed(TABLE, id, reason);
        }
        report.count_mut(TABLE).skipped += self.decrypted + self.without_secret;
        if self.decrypted > 0 {
            report.notes.push(format!(
                "{} two-factor enrolment(s) were read and decrypted but not imported: Keyward has no second factor yet; those users sign in with their first factor alone until they enrol again",
                self.decrypted
            ));
        }
        if self.without_secret > 0 {
            report.notes.push(format!(
                "{} two-factor enrolment(s) were not read: they are encrypted with the app's secret (--secret)",
                self.without_secret
            ));
        }
    }
}

/// Refuses a secret that is not the app's (see `check_two_factor`): the command line calls it
/// before it opens, let alone migrates, the target.
pub async fn check_better_auth_secret(source: &BetterAuthSource, secret: Option<&BetterAuthSecret>) -> Result<()> {
    check_two_factor(source, secret).await.map(drop)
}

/// Decrypts every two-factor row's secret and backup codes. Rows exist and none decrypts: the
/// secret is not the app's, and the import stops here (nothing written).
async fn check_two_factor(source: &BetterAuthSource, secret: Option<&BetterAuthSecret>) -> Result<TwoFactorCheck> {
    let rows = source.two_factors().await?;
    let mut check = TwoFactorCheck { decrypted: 0, failed: Vec::new(), without_secret: 0 };
    let Some(secret) = secret else {
        check.without_secret = rows.len() as u64;
        return Ok(check);
    };
    for row in rows {
        match row {
            Err(bad) => check.failed.push((bad.id, bad.reason)),
            Ok(row) => {
                let opened = secret.decrypt(&row.secret).and_then(|_| secret.decrypt(&row.backup_codes));
                match opened {
                    Ok(_) => check.decrypted += 1,
                    Err(reason) => check.failed.push((Some(row.id), format!("secret or backup codes: {reason}"))),
                }
            }
        }
    }
    if check.decrypted == 0 && !check.failed.is_empty() {
        return Err(Error::internal(
            "the secret decrypts none of the two-factor rows: is it the app's BETTER_AUTH_SECRET? Nothing was imported",
        ));
    }
    Ok(check)
}

/// better-auth users through the shared user rules.
struct Users {
    inner_duplicates: HashMap<String, Vec<String>>,
    skipped_users: HashSet<String>,
}

impl Phase for Users {
    const TABLE: ImportTable = ImportTable::Users;
    type Row = BetterAuthUser;
    type Mapped = users::Mapped;

    fn map(&mut self, run: &mut Run<'_>, row: BetterAuthUser) -> Option<users::Mapped> {
        let BetterAuthUser { id, name, email, email_verified, image, created_at, updated_at, password, is_anonymous } =
            row;
        if is_anonymous {
            run.report.count_mut(Self::TABLE).skipped += 1;
            self.skipped_users.insert(id);
            return None;
        }
        let password_hash = password.filter(|hash| !hash.is_empty()).and_then(|hash| {
            // An app with a custom `password.hash` may store bcrypt or argon2 PHC strings: those
            // go to the shared rules as they are.
            if hash.starts_with("$2") || hash.starts_with("$argon2") {
                return Some(hash);
            }
            better_auth_password_hash(&hash)
                .map_err(|reason| {
                    run.report.partial(
                        Self::TABLE,
                        &id,
                        format!("its password ({reason}): the user can reset it or sign in another way"),
                    )
                })
                .ok()
        });
        let email_verified = email_verified.then(|| updated_at.or(created_at).unwrap_or(run.now));
        let user = SourceUser { id, name, email, email_verified, image, password_hash, created_at, updated_at };
        run.map_user(user, &self.inner_duplicates)
    }

    async fn write(&mut self, run: &mut Run<'_>, batch: Vec<users::Mapped>) -> Result<()> {
        run.user_batch(batch).await
    }
}

/// better-auth accounts (OAuth, OIDC, generic OAuth) through the shared account rules.
struct Accounts<'s> {
    skipped_users: &'s HashSet<String>,
    providers: BTreeSet<String>,
}

impl Phase for Accounts<'_> {
    const TABLE: ImportTable = ImportTable::Accounts;
    type Row = BetterAuthAccount;
    type Mapped = accounts::Mapped;

    fn map(&mut self, run: &mut Run<'_>, row: BetterAuthAccount) -> Option<accounts::Mapped> {
        let BetterAuthAccount {
            id,
            user_id,
            provider_id,
            account_id,
            access_token,
            refresh_token,
            id_token,
            access_token_expires_at,
            scope,
        } = row;
        if self.skipped_users.contains(&user_id) {
            run.report.count_mut(Self::TABLE).skipped += 1;
            return None;
        }
        // An ID token means the provider spoke OpenID Connect.
        let kind = if id_token.is_some() { "oidc" } else { "oauth" };
        let account = SourceAccount {
            id: Some(id),
            user_id,
            kind: kind.to_owned(),
            provider: provider_id,
            provider_account_id: account_id,
            refresh_token,
            access_token,
            expires_at: access_token_expires_at.map(|at: DateTime<Utc>| at.timestamp()),
            token_type: None,
            scope,
            id_token,
        };
        let mapped = run.map_account(account)?;
        self.providers.insert(mapped.account.provider.clone());
        Some(mapped)
    }

    async fn write(&mut self, run: &mut Run<'_>, batch: Vec<accounts::Mapped>) -> Result<()> {
        run.account_batch(batch).await
    }
}

/// @better-auth/passkey rows through the shared passkey rules.
struct PasskeyRows<'s> {
    skipped_users: &'s HashSet<String>,
}

impl Phase for PasskeyRows<'_> {
    const TABLE: ImportTable = ImportTable::Passkeys;
    type Row = BetterAuthPasskey;
    type Mapped = (String, crate::store::NewAuthenticator);

    fn map(&mut self, run: &mut Run<'_>, row: BetterAuthPasskey) -> Option<Self::Mapped> {
        let BetterAuthPasskey {
            id: _,
            name,
            user_id,
            credential_id,
            public_key,
            counter,
            device_type,
            backed_up,
            transports,
            aaguid,
        } = row;
        if self.skipped_users.contains(&user_id) {
            run.report.count_mut(Self::TABLE).skipped += 1;
            return None;
        }
        let passkey = SourceAuthenticator {
            credential_id,
            user_id,
            provider_account_id: None,
            credential_public_key: public_key,
            counter,
            credential_device_type: device_type,
            credential_backed_up: backed_up,
            transports,
            name,
            aaguid,
        };
        run.map_passkey(passkey, "better-auth")
    }

    async fn write(&mut self, run: &mut Run<'_>, batch: Vec<Self::Mapped>) -> Result<()> {
        run.passkey_batch(batch).await
    }
}

/// better-auth sessions: unexpired ones become Keyward sessions with the same token.
struct Sessions<'s> {
    skipped_users: &'s HashSet<String>,
}

impl Phase for Sessions<'_> {
    const TABLE: ImportTable = ImportTable::Sessions;
    type Row = BetterAuthSession;
    type Mapped = (Option<String>, NewSession);

    fn map(&mut self, run: &mut Run<'_>, row: BetterAuthSession) -> Option<Self::Mapped> {
        let BetterAuthSession { id, token, user_id, expires_at, user_agent } = row;
        if expires_at <= run.now || self.skipped_users.contains(&user_id) {
            run.report.count_mut(Self::TABLE).skipped += 1;
            return None;
        }
        let Some(token) = SessionToken::from_better_auth(&token) else {
            run.report.failed(
                Self::TABLE,
                Some(id),
                "its token is not a shape Keyward accepts (32 letters and digits, better-auth's generateId(32)) or was plainly not random; the user signs in again",
            );
            return None;
        };
        if !run.present_users.contains(&user_id) {
            run.user_missing(Self::TABLE, Some(id), &user_id);
            return None;
        }
        let expires = expires_at.min(run.now + chrono_duration(run.policy.session_max_age));
        let session = NewSession {
            id: new_id(),
            token_hash: token.hash().as_str().to_owned(),
            user_id,
            created_at: run.now,
            // Never "recent" (as an Auth.js import): Keyward did not see the user prove a factor.
            authenticated_at: DateTime::<Utc>::UNIX_EPOCH,
            idle_expires: (run.now + chrono_duration(run.policy.session_idle_timeout)).min(expires),
            expires,
            user_agent: user_agent.map(|ua| ua.chars().take(MAX_USER_AGENT_CHARS).collect()),
        };
        Some((Some(id), session))
    }

    async fn write(&mut self, run: &mut Run<'_>, batch: Vec<Self::Mapped>) -> Result<()> {
        run.session_batch(batch).await
    }
}
