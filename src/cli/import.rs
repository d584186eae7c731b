//! `keyward import authjs --from URL [--dry-run] [--skip-sessions]`: opens the Auth.js source and
//! the database Keyward is configured to use (as `serve` would), runs the import with a progress
//! bar when stderr is a terminal, and prints the summary.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::{
    config::Config,
    service::import::{
        ImportOptions, ImportProgress, ImportTable, ImportTarget, NoProgress, import_authjs as run_import,
    },
    store::{SchemaState, Store, authjs::AuthjsSource},
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

/// Runs the import and prints what it did.
pub async fn import_authjs(config: &Config, from: &str, dry_run: bool, skip_sessions: bool) -> anyhow::Result<()> {
    // The source's problems (unsupported URL, no Auth.js tables) are the operator's to fix: say
    // them plainly, not as an internal error.
    let source = AuthjsSource::open(from).await.map_err(|err| match err {
        crate::Error::Internal(detail) => anyhow::anyhow!("{detail}"),
        other => other.into(),
    })?;
    let target = if dry_run {
        dry_run_target(config).await?
    } else {
        crate::app::private_files::prepare(config)?;
        let store = Store::connect(&config.database_url(), config.database_max_connections).await?;
        store.migrate_up().await?;
        // Provider tokens are sealed on the way in, like every account write.
        let master_key = crate::master_key::resolve(config, &store).await?;
        ImportTarget::write_to(store.with_master_key(master_key))
    };
    let options = ImportOptions { dry_run, skip_sessions, ..ImportOptions::default() };
    let policy = crate::app::settings::import_policy(config);
    let report = if std::io::stderr().is_terminal() {
        run_import(&source, &target, &policy, &options, &TerminalProgress::new()).await?
    } else {
        run_import(&source, &target, &policy, &options, &NoProgress).await?
    };
    source.close().await?;
    #[allow(clippy::print_stdout)] // the command's output
    {
        print!("{report}");
        if report.failed_rows() > 0 {
            println!("{} row(s) failed: they are listed above with their source ids", report.failed_rows());
        }
    }
    Ok(())
}
