//! What an import did, per table: created, updated, skipped and failed counts, and every row it
//! could not take (or took only in part) named by its source id — never by a secret (tokens) and
//! never by an email address.

use std::fmt;

/// The tables an import reports on, in the order it handles them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ImportTable {
    Users,
    Accounts,
    Passkeys,
    Sessions,
    VerificationTokens,
    /// better-auth's two-factor enrolments (read and reported; Keyward has no second factor yet).
    TwoFactor,
}

impl ImportTable {
    pub const ALL: [Self; 6] =
        [Self::Users, Self::Accounts, Self::Passkeys, Self::Sessions, Self::VerificationTokens, Self::TwoFactor];

    pub fn name(self) -> &'static str {
        match self {
            Self::Users => "users",
            Self::Accounts => "accounts",
            Self::Passkeys => "passkeys",
            Self::Sessions => "sessions",
            Self::VerificationTokens => "verification_tokens",
            Self::TwoFactor => "two_factor",
        }
    }
}

/// Per-table outcome counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TableCounts {
    pub created: u64,
    pub updated: u64,
    /// Deliberately not imported: unchanged since a previous run, expired, or not Keyward's to
    /// keep (Auth.js's webauthn accounts, verification tokens).
    pub skipped: u64,
    /// Bad rows: reported with their source id and left out.
    pub failed: u64,
}

/// Whether a problem kept the row out, or the row went in without something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The row was not imported.
    Failed,
    /// The row was imported without the part named (e.g. a user without their password).
    Partial,
    /// Nothing wrong: the row was left out on purpose, and the operator should know why.
    Skipped,
}

/// One row the operator should look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub table: ImportTable,
    /// The row's id in the source (or what identifies it there), when it has one.
    pub source_id: Option<String>,
    pub severity: Severity,
    pub message: String,
}

/// The outcome of one run.
#[derive(Debug, Clone, Default)]
pub struct ImportReport {
    /// What was found in the source ("PostgreSQL, Prisma adapter layout: …").
    pub source: String,
    pub dry_run: bool,
    counts: [TableCounts; 6],
    pub problems: Vec<Problem>,
    /// Remarks about whole tables (`--skip-sessions`, verification tokens not carried over, …).
    pub notes: Vec<String>,
}

impl ImportReport {
    pub(super) fn new(source: String, dry_run: bool) -> Self {
        Self { source, dry_run, ..Self::default() }
    }

    pub fn counts(&self, table: ImportTable) -> TableCounts {
        self.counts[table as usize]
    }

    pub(super) fn count_mut(&mut self, table: ImportTable) -> &mut TableCounts {
        &mut self.counts[table as usize]
    }

    /// Records a failed row.
    pub(super) fn failed(&mut self, table: ImportTable, source_id: Option<String>, message: impl Into<String>) {
        self.count_mut(table).failed += 1;
        self.problems.push(Problem { table, source_id, severity: Severity::Failed, message: message.into() });
    }

    /// Records something left out of a row that was imported (counted where the row is).
    pub(super) fn partial(&mut self, table: ImportTable, source_id: &str, message: impl Into<String>) {
        self.problems.push(Problem {
            table,
            source_id: Some(source_id.to_owned()),
            severity: Severity::Partial,
            message: message.into(),
        });
    }

    /// Records a row skipped for a reason worth listing (not for "unchanged" or "expired").
    pub(super) fn skipped_with_reason(
        &mut self,
        table: ImportTable,
        source_id: Option<String>,
        message: impl Into<String>,
    ) {
        self.count_mut(table).skipped += 1;
        self.problems.push(Problem { table, source_id, severity: Severity::Skipped, message: message.into() });
    }

    /// Rows that did not make it, over all tables.
    pub fn failed_rows(&self) -> u64 {
        self.counts.iter().map(|counts| counts.failed).sum()
    }
}

impl fmt::Display for ImportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "source: {}", self.source)?;
        for problem in &self.problems {
            let label = match problem.severity {
                Severity::Failed => "failed",
                Severity::Partial => "imported without",
                Severity::Skipped => "skipped",
            };
            let id = problem.source_id.as_deref().unwrap_or("-");
            writeln!(f, "{} {id}: {label}: {}", problem.table.name(), problem.message)?;
        }
        for note in &self.notes {
            writeln!(f, "note: {note}")?;
        }
        writeln!(f, "{:<20} {:>9} {:>9} {:>9} {:>9}", "table", "created", "updated", "skipped", "failed")?;
        for table in ImportTable::ALL {
            let counts = self.counts(table);
            writeln!(
                f,
                "{:<20} {:>9} {:>9} {:>9} {:>9}",
                table.name(),
                counts.created,
                counts.updated,
                counts.skipped,
                counts.failed
            )?;
        }
        if self.dry_run {
            writeln!(f, "dry run: nothing was written")?;
        }
        Ok(())
    }
}
