//! `keyward import authjs`: brings an Auth.js database into Keyward so that nobody signs in
//! again and nobody re-enrolls a passkey. The source is read through `store::authjs` (one
//! read-only snapshot); here are the rules: what each Auth.js row becomes, what is refused, and
//! what a second run does. Idempotent: rows are matched by user id (and email), provider
//! account, credential id and session token hash, so a re-run creates only what is new and
//! never duplicates. Each batch of rows is one transaction; a bad row is reported with its
//! source id and left out, it never stops the import.
//!
//! The mapping, table by table, is in docs/migrating-from-authjs.md.

mod accounts;
mod better_auth;
mod passkeys;
mod report;
mod sessions;
mod users;

use std::{collections::HashSet, pin::pin, time::Duration};

use chrono::{DateTime, Utc};
use tokio_stream::{Stream, StreamExt};

pub use better_auth::{
    BetterAuthImport, SECRET_ID as BETTER_AUTH_SECRET_ID, check_better_auth_secret, import_better_auth,
};
pub use report::{ImportReport, ImportTable, Problem, Severity, TableCounts};

use super::Clock;
use crate::{
    error::Result,
    store::{
        AccountTokensUpdate, AuthenticatorUpdate, BatchWrite, ImportBatch, ImportedUser, NewAccount, NewAuthenticator,
        NewSession, Store, UserUpdate,
        authjs::{AuthjsSource, SourceRow, SourceRows},
    },
};

/// How an import runs.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Read and validate everything and report what would happen; write nothing.
    pub dry_run: bool,
    /// Leave the sessions out: every user signs in again.
    pub skip_sessions: bool,
    /// Rows per transaction.
    pub batch_size: usize,
    /// Where "now" comes from (session expiry is judged against it), as in every use case.
    pub clock: Clock,
}

impl Default for ImportOptions {
    fn default() -> Self {
        Self { dry_run: false, skip_sessions: false, batch_size: 500, clock: Clock::default() }
    }
}

/// What the import takes from Keyward's settings (`app::settings::import_policy` builds it).
#[derive(Debug, Clone)]
pub struct ImportPolicy {
    pub session_idle_timeout: Duration,
    pub session_max_age: Duration,
    /// Provider ids sign-in is configured for (accounts of others are imported with a note).
    pub configured_providers: Vec<String>,
}

/// Where the import writes. A dry run looks rows up in the store when there is one with
/// Keyward's schema (`None`: a fresh target, where every look-up finds nothing).
#[derive(Debug)]
pub struct ImportTarget {
    store: Option<Store>,
    write: bool,
}

impl ImportTarget {
    /// A migrated store to write to.
    pub fn write_to(store: Store) -> Self {
        Self { store: Some(store), write: true }
    }

    /// Read-only: look-ups in `store` if given, no writes.
    pub fn dry_run(store: Option<Store>) -> Self {
        Self { store, write: false }
    }
}

/// Progress of a run, shown by the command line on a terminal.
pub trait ImportProgress {
    /// A table begins; `rows` is how many the source holds.
    fn start(&self, table: ImportTable, rows: u64);
    /// `rows` more rows were handled.
    fn advance(&self, rows: u64);
    /// The table is done.
    fn finish(&self);
}

/// No progress display (tests, benchmarks, non-terminal output).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl ImportProgress for NoProgress {
    fn start(&self, _: ImportTable, _: u64) {}
    fn advance(&self, _: u64) {}
    fn finish(&self) {}
}

/// Imports everything from `source` into `target`.
pub async fn import_authjs(
    source: &AuthjsSource,
    target: &ImportTarget,
    policy: &ImportPolicy,
    options: &ImportOptions,
    progress: &dyn ImportProgress,
) -> Result<ImportReport> {
    let mut run = Run::new(target, policy, options, progress, format!("{}, {}", source.backend(), source.layout()));
    run.users(source.user_emails().await?, source.users().await?).await?;
    run.accounts(source.accounts().await?).await?;
    run.passkeys(source.authenticators().await?, "authjs").await?;
    if options.skip_sessions {
        run.report.notes.push("sessions were not imported (--skip-sessions): every user signs in again".to_owned());
    } else {
        run.sessions(source.sessions().await?).await?;
    }
    run.verification_tokens(source).await?;
    Ok(run.report)
}

/// One write the import plans for a source row.
#[derive(Debug, Clone)]
enum Change {
    NewUser(ImportedUser),
    UpdateUser(UserUpdate),
    NewAccount(NewAccount),
    UpdateAccount(AccountTokensUpdate),
    NewPasskey(NewAuthenticator),
    UpdatePasskey(AuthenticatorUpdate),
    NewSession(NewSession),
}

impl Change {
    fn is_new(&self) -> bool {
        matches!(self, Self::NewUser(_) | Self::NewAccount(_) | Self::NewPasskey(_) | Self::NewSession(_))
    }

    fn add_to(self, batch: &mut ImportBatch) {
        match self {
            Self::NewUser(user) => batch.new_users.push(user),
            Self::UpdateUser(update) => batch.user_updates.push(update),
            Self::NewAccount(account) => batch.new_accounts.push(account),
            Self::UpdateAccount(update) => batch.account_updates.push(update),
            Self::NewPasskey(passkey) => batch.new_authenticators.push(passkey),
            Self::UpdatePasskey(update) => batch.authenticator_updates.push(update),
            Self::NewSession(session) => batch.new_sessions.push(session),
        }
    }
}

/// A planned write and the source row it comes from.
struct Planned {
    source_id: Option<String>,
    change: Change,
}

struct Run<'a> {
    target: &'a ImportTarget,
    policy: &'a ImportPolicy,
    options: &'a ImportOptions,
    progress: &'a dyn ImportProgress,
    now: DateTime<Utc>,
    report: ImportReport,
    /// Source user ids that exist in the target after this run (created, updated, or already
    /// there unchanged): accounts, passkeys and sessions of any other user are refused.
    present_users: HashSet<String>,
}

/// One table's rules: what a source row becomes (or why it is refused), and how a batch of
/// them is checked against the target and written.
trait Phase {
    const TABLE: ImportTable;
    type Row;
    type Mapped;

    /// Validates and maps one source row; `None` when it was reported and left out.
    fn map(&mut self, run: &mut Run<'_>, row: Self::Row) -> Option<Self::Mapped>;

    /// Looks the batch up in the target, decides create / update / skip / fail, writes.
    async fn write(&mut self, run: &mut Run<'_>, batch: Vec<Self::Mapped>) -> Result<()>;
}

impl<'a> Run<'a> {
    fn new(
        target: &'a ImportTarget,
        policy: &'a ImportPolicy,
        options: &'a ImportOptions,
        progress: &'a dyn ImportProgress,
        source: String,
    ) -> Self {
        Self {
            target,
            policy,
            options,
            progress,
            now: options.clock.now(),
            report: ImportReport::new(source, !target.write),
            present_users: HashSet::new(),
        }
    }
}

impl Run<'_> {
    /// Streams one table through `phase` in batches of `batch_size` rows; undecodable rows are
    /// reported and left out.
    async fn drive<P: Phase>(
        &mut self,
        phase: &mut P,
        source: SourceRows<impl Stream<Item = SourceRow<P::Row>>>,
    ) -> Result<()> {
        self.progress.start(P::TABLE, source.total);
        let mut rows = pin!(source.rows);
        let mut batch = Vec::with_capacity(self.options.batch_size);
        while let Some(row) = rows.next().await {
            self.progress.advance(1);
            match row? {
                Ok(row) => batch.extend(phase.map(self, row)),
                Err(bad) => self.report.failed(P::TABLE, bad.id, bad.reason),
            }
            if batch.len() >= self.options.batch_size {
                phase.write(self, std::mem::take(&mut batch)).await?;
            }
        }
        if !batch.is_empty() {
            phase.write(self, batch).await?;
        }
        self.progress.finish();
        Ok(())
    }

    fn store(&self) -> Option<&Store> {
        self.target.store.as_ref()
    }

    /// Writes the planned rows of one batch in one transaction and counts them. Should another
    /// writer have taken one of the keys since the look-ups (a unique constraint refuses the
    /// batch), each row is written on its own, so only the row that collides fails.
    async fn commit(&mut self, table: ImportTable, planned: Vec<Planned>) -> Result<Vec<Option<String>>> {
        if planned.is_empty() {
            return Ok(Vec::new());
        }
        let written = match (&self.target.store, self.target.write) {
            (Some(store), true) => {
                let mut batch = ImportBatch::default();
                planned.iter().for_each(|row| row.change.clone().add_to(&mut batch));
                match store.write_import_batch(batch).await? {
                    BatchWrite::Written => planned,
                    BatchWrite::Conflict => {
                        let mut written = Vec::new();
                        for row in planned {
                            let mut batch = ImportBatch::default();
                            row.change.clone().add_to(&mut batch);
                            match store.write_import_batch(batch).await? {
                                BatchWrite::Written => written.push(row),
                                BatchWrite::Conflict => self.report.failed(
                                    table,
                                    row.source_id,
                                    "another row with the same key was written to Keyward during the import",
                                ),
                            }
                        }
                        written
                    }
                }
            }
            _ => planned,
        };
        let counts = self.report.count_mut(table);
        for row in &written {
            if row.change.is_new() {
                counts.created += 1;
            } else {
                counts.updated += 1;
            }
        }
        Ok(written.into_iter().map(|row| row.source_id).collect())
    }

    /// A row whose user is not (and will not be) in Keyward.
    fn user_missing(&mut self, table: ImportTable, source_id: Option<String>, user_id: &str) {
        self.report.failed(table, source_id, format!("its user {user_id} was not imported"));
    }
}

/// `d` as a chrono duration, saturating.
fn chrono_duration(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}
