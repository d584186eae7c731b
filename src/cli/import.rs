//! `keyward import authjs|better-auth --from URL [--dry-run] [--skip-sessions]`: opens the source
//! and the database Keyward is configured to use (as `serve` would), runs the import with a
//! progress bar when stderr is a terminal, and prints the summary.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::{
    config::Config,
    crypto::BetterAuthSecret,
    service::import::{
        BetterAuthImport, ImportOptions, ImportProgress, ImportReport, ImportTable, ImportTarget, NoProgress,
        import_authjs as run_import, import_better_auth as run_better_auth_import,
    },
    store::{
        SchemaState, Store,
        authjs::AuthjsSource,
        better_auth::{BetterAuthSource, names::Names},
    },
};

/// An indicatif bar per table, on stderr.
struct TerminalProgress {
    bar: ProgressBar,
}

impl TerminalProgress {
    fn new() -> Self {
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template("{prefix:>20} [{bar:40}] {pos}/{len} ({per_sec}, {eta})")
            .map(|style| style.progress_chars("=> "))
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        Self { bar }
    }
}

impl ImportProgress for TerminalProgress {
    fn start(&self, table: ImportTable, rows: u64) {
        self.bar.reset();
        self.bar.set_length(rows);
        self.bar.set_prefix(table.name());
    }

    fn advance(&self, rows: u64) {
        self.bar.inc(rows);
    }

    fn finish(&self) {
        self.bar.finish();
        // Keep the finished bar on screen and draw the next table's below it.
        self.bar.println(format!("{:>20} {} rows", self.bar.prefix(), self.bar.position()));
    }
}

/// The SQLite file behind a `sqlite:` URL.
fn sqlite_path(url: &str) -> Option<std::path::PathBuf> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    Some(rest.split('?').next().unwrap_or_default().into())
}

/// Where a dry run looks rows up: nowhere when the target has no Keyward schema yet (it is not
/// created: a dry run writes nothing), else the store opened read-only.
async fn dry_run_target(config: &Config) -> anyhow::Result<ImportTarget> {
    let url = config.database_url();
    if sqlite_path(&url).is_some_and(|path| !path.is_file()) {
        return Ok(ImportTarget::dry_run(None));
    }
    let mut store = Store::connect_read_only(&url).await?;
    // Existing accounts' tokens are read (to keep the fresher ones): they need the master key. A
    // dry run never generates one; without one there is nothing sealed to read yet.
    if let Some((key, _)) = crate::master_key::configured(config)? {
        store = store.with_master_key(std::sync::Arc::new(key));
    }
    match store.schema_state().await? {
        SchemaState::Empty => Ok(ImportTarget::dry_run(None)),
        SchemaState::Current => Ok(ImportTarget::dry_run(Some(store))),
        SchemaState::Outdated => {
            anyhow::bail!("the target database's schema is not current: run `keyward migrate up` first")
        }
    }
}

/// The source's and the run's own problems (unsupported URL, no tables, a wrong secret) are the
/// operator's to fix: said plainly, not as an internal error.
fn plainly(err: crate::Error) -> anyhow::Error {
    match err {
        crate::Error::Internal(detail) => anyhow::anyhow!("{detail}"),
        other => other.into(),
    }
}

/// The target: read-only for a dry run, else migrated and with its master key.
async fn open_target(config: &Config, dry_run: bool) -> anyhow::Result<ImportTarget> {
    Ok(if dry_run {
        dry_run_target(config).await?
    } else {
        crate::app::private_files::prepare(config)?;
        let store = Store::connect(&config.database_url(), config.database_max_connections).await?;
        store.migrate_up().await?;
        // Provider tokens are sealed on the way in, like every account write.
        let master_key = crate::master_key::resolve(config, &store).await?;
        ImportTarget::write_to(store.with_master_key(master_key))
    })
}

/// Prints the report.
fn print_report(report: &ImportReport) {
    #[allow(clippy::print_stdout)] // the command's output
    {
        print!("{report}");
        if report.failed_rows() > 0 {
            println!("{} row(s) failed: they are listed above with their source ids", report.failed_rows());
        }
    }
}

/// Runs the import and prints what it did.
pub async fn import_authjs(config: &Config, from: &str, dry_run: bool, skip_sessions: bool) -> anyhow::Result<()> {
    let source = AuthjsSource::open(from).await.map_err(plainly)?;
    let target = open_target(config, dry_run).await?;
    let options = ImportOptions { dry_run, skip_sessions, ..ImportOptions::default() };
    let policy = crate::app::settings::import_policy(config);
    let report = if std::io::stderr().is_terminal() {
        run_import(&source, &target, &policy, &options, &TerminalProgress::new()).await?
    } else {
        run_import(&source, &target, &policy, &options, &NoProgress).await?
    };
    source.close().await?;
    print_report(&report);
    Ok(())
}

/// `keyward import better-auth`'s options besides the source URL.
#[derive(Debug, Default)]
pub struct BetterAuthArgs {
    pub schema: Option<String>,
    pub mapping: Option<std::path::PathBuf>,
    pub secret: Option<String>,
    pub dry_run: bool,
    pub skip_sessions: bool,
}

/// Runs the better-auth import and prints what it did. Everything that can be refused (the
/// mapping file, the source's tables, the secret) is checked before the target is opened.
pub async fn import_better_auth(config: &Config, from: &str, args: BetterAuthArgs) -> anyhow::Result<()> {
    let names = match &args.mapping {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|err| anyhow::anyhow!("reading the mapping file {}: {err}", path.display()))?;
            Names::parse(&text).map_err(|problem| anyhow::anyhow!("{problem}"))?
        }
        None => Names::default(),
    };
    let source = BetterAuthSource::open(from, args.schema.clone(), names).await.map_err(plainly)?;
    let secret = args.secret.as_deref().filter(|s| !s.is_empty()).map(|s| BetterAuthSecret::new(s.as_bytes()));
    crate::service::import::check_better_auth_secret(&source, secret.as_ref()).await.map_err(plainly)?;
    let import = BetterAuthImport { secret };
    let target = open_target(config, args.dry_run).await?;
    let options =
        ImportOptions { dry_run: args.dry_run, skip_sessions: args.skip_sessions, ..ImportOptions::default() };
    let policy = crate::app::settings::import_policy(config);
    let report = if std::io::stderr().is_terminal() {
        run_better_auth_import(&source, &target, &policy, &options, &TerminalProgress::new(), &import).await
    } else {
        run_better_auth_import(&source, &target, &policy, &options, &NoProgress, &import).await
    }
    .map_err(plainly)?;
    source.close().await?;
    print_report(&report);
    Ok(())
}
