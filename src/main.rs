//! `keyward`: the command line. Thin: parses flags, loads the config, calls the library.

use std::{net::SocketAddr, path::PathBuf, process::ExitCode, sync::Arc};

use clap::{Args, Parser, Subcommand};
use keyward::{
    App, Config,
    config::Overrides,
    crypto::MasterKey,
    service::{rotate_signing_key, rotation_delay},
    store::Store,
    telemetry,
};

#[derive(Parser)]
#[command(name = "keyward", version, about = "Identity service over gRPC: passwords, passkeys, sessions, JWTs")]
struct Cli {
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct Common {
    /// TOML configuration file.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Directory for the embedded SQLite database [default: ./keyward-data].
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// Log more: each migration step as it runs (otherwise one line with the count and time).
    #[arg(short, long, global = true)]
    verbose: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Serve gRPC, grpc-web and HTTP (migrating the database first unless configured otherwise).
    Serve {
        /// Address to listen on, host:port; a host name such as localhost is resolved
        /// [default: 127.0.0.1:50051].
        #[arg(long, value_parser = keyward::config::resolve_listen)]
        listen: Option<SocketAddr>,
    },
    /// Database migrations.
    Migrate {
        #[command(subcommand)]
        action: MigrateAction,
    },
    /// JWT signing keys.
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
    /// The operator side: API keys for AdminService.
    Admin {
        #[command(subcommand)]
        action: AdminAction,
    },
    /// Exit 0 when the server this configuration describes answers /healthz (a container's
    /// HEALTHCHECK: no shell or curl needed).
    Healthcheck {
        /// Ask this URL instead of http://<listen>/healthz.
        #[arg(long)]
        url: Option<String>,
    },
    /// Bring users, accounts, sessions and passkeys over from another system, into the database
    /// Keyward is configured to use.
    Import {
        #[command(subcommand)]
        source: ImportSource,
    },
}

#[derive(Subcommand)]
enum ImportSource {
    /// From an Auth.js (NextAuth) database: Prisma or SQL adapter layout, PostgreSQL or SQLite.
    Authjs {
        /// The Auth.js database: postgres://…, sqlite:PATH or file:PATH. Only read.
        #[arg(long, value_name = "DATABASE_URL")]
        from: String,
        /// Read and validate everything, report what would happen, write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Leave the sessions out (every user signs in again).
        #[arg(long)]
        skip_sessions: bool,
    },
    /// From a better-auth database: PostgreSQL or SQLite, default or custom table names.
    BetterAuth {
        /// The better-auth database: postgres://…, sqlite:PATH or file:PATH. Only read.
        #[arg(long, value_name = "DATABASE_URL")]
        from: String,
        /// The PostgreSQL schema of its tables (default: the URL's `?schema=`, else the search path).
        #[arg(long)]
        schema: Option<String>,
        /// A JSON file with the app's custom table and column names, shaped like better-auth's
        /// config (`{"user": {"modelName": "users", "fields": {"email": "email_address"}}}`).
        #[arg(long, value_name = "FILE")]
        mapping: Option<std::path::PathBuf>,
        /// The app's BETTER_AUTH_SECRET: checks its session cookies and decrypts its two-factor
        /// rows; kept sealed in Keyward's database. Prefer the environment variable (a command
        /// line is visible to other users of the machine).
        #[arg(long, env = "BETTER_AUTH_SECRET", hide_env_values = true)]
        secret: Option<String>,
        /// Read and validate everything, report what would happen, write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Leave the sessions out (every user signs in again).
        #[arg(long)]
        skip_sessions: bool,
    },
}

#[derive(Subcommand)]
enum AdminAction {
    /// API keys: service credentials for AdminService (`authorization: Bearer kw_…`).
    Keys {
        #[command(subcommand)]
        action: AdminKeysAction,
    },
}

#[derive(Subcommand)]
enum AdminKeysAction {
    /// Make a key and print it once (only its SHA-256 is stored).
    Create {
        /// What the key is for (shown by `list` and in the audit log's key id lookups).
        #[arg(long)]
        name: String,
        /// A scope the key carries; repeat for several: users:read, users:write,
        /// sessions:revoke, audit:read, events:watch,
        /// webhooks:manage.
        #[arg(long = "scope", value_parser = parse_scope, required = true)]
        scopes: Vec<keyward::domain::ApiScope>,
        /// The key stops working after this long: a whole number and s, m, h or d (90d).
        #[arg(long, value_parser = parse_lifetime)]
        expires_in: Option<std::time::Duration>,
    },
    /// Every key with its state, scopes and name.
    List,
    /// Revoke a key by id: the next call presenting it is refused, on every replica.
    Revoke {
        /// The key's id (from `create` or `list`).
        id: String,
    },
}

fn parse_scope(raw: &str) -> Result<keyward::domain::ApiScope, String> {
    keyward::domain::ApiScope::parse(raw).ok_or_else(|| {
        let known: Vec<&str> = keyward::domain::ApiScope::ALL.iter().map(|s| s.as_str()).collect();
        format!("one of {}", known.join(", "))
    })
}

fn parse_lifetime(raw: &str) -> Result<std::time::Duration, String> {
    keyward::domain::parse_lifetime(raw).ok_or_else(|| "a whole number and s, m, h or d, e.g. 90d".to_owned())
}

#[derive(Subcommand)]
enum MigrateAction {
    /// Apply all pending migrations.
    Up,
    /// Roll back the most recent migrations.
    Down {
        #[arg(long, default_value_t = 1)]
        steps: u32,
    },
    /// List migrations and whether each is applied.
    Status,
}

#[derive(Subcommand)]
enum KeysAction {
    /// Make a new signing key. It is published at once and signs only after
    /// signing_key_reload_secs + the JWKS max-age (60 s), when every replica and every verifier's
    /// cached JWKS has it; tokens signed by the old one verify until they expire.
    Rotate {
        /// Sign with the new key at once (an emergency: a replica or verifier that has not
        /// reloaded yet refuses the new tokens until it does).
        #[arg(long)]
        now: bool,
    },
    /// Re-seal every secret at rest (signing keys, provider tokens, server secrets) under a new
    /// master key. Then configure the new key and restart; run it again if a server still on the
    /// old key wrote meanwhile (it is idempotent).
    Rewrap {
        /// File holding the new master key: 32 random bytes in base64 (openssl rand -base64 32).
        #[arg(long)]
        new_master_key_file: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let listen = match &cli.command {
        Command::Serve { listen } => *listen,
        _ => None,
    };
    let config =
        match Config::load(cli.common.config.as_deref(), Overrides { listen, data_dir: cli.common.data_dir.clone() }) {
            Ok(config) => config,
            Err(err) => {
                eprintln!("keyward: {err}");
                return ExitCode::from(2);
            }
        };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("keyward: starting the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    // Inside the runtime: an OTLP/gRPC trace exporter runs its channel there.
    let telemetry = match runtime.block_on(async { telemetry::init(&config, cli.common.verbose) }) {
        Ok(telemetry) => telemetry,
        Err(err) => {
            eprintln!("keyward: {err}");
            return ExitCode::from(2);
        }
    };
    let outcome = runtime.block_on(run(cli.command, config));
    telemetry.shutdown();
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("keyward: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Serve { .. } => serve(config).await,
        Command::Healthcheck { url } => {
            let url = url.unwrap_or_else(|| keyward::cli::healthcheck::healthz_url(config.listen));
            keyward::cli::healthcheck::check(&url).await
        }
        Command::Migrate { action } => {
            match action {
                MigrateAction::Up => migrate_up(&open_store(&config).await?).await?,
                MigrateAction::Down { steps } => open_store(&config).await?.migrate_down(steps).await?,
                MigrateAction::Status => {
                    // Asking must not create anything: no SQLite file yet means nothing applied.
                    let migrations = match config.sqlite_file() {
                        Some(file) if !file.exists() => Store::migrations_all_pending(),
                        _ => open_store(&config).await?.migration_status().await?,
                    };
                    for migration in migrations {
                        let state = if migration.applied { "applied" } else { "pending" };
                        #[allow(clippy::print_stdout)] // the command's output
                        {
                            println!("{state:8} {}", migration.name);
                        }
                    }
                }
            }
            Ok(())
        }
        Command::Import { source: ImportSource::Authjs { from, dry_run, skip_sessions } } => {
            keyward::cli::import_authjs(&config, &from, dry_run, skip_sessions).await
        }
        Command::Import {
            source: ImportSource::BetterAuth { from, schema, mapping, secret, dry_run, skip_sessions },
        } => {
            let options = keyward::cli::BetterAuthArgs { schema, mapping, secret, dry_run, skip_sessions };
            keyward::cli::import_better_auth(&config, &from, options).await
        }
        Command::Admin { action: AdminAction::Keys { action } } => {
            let store = open_store(&config).await?;
            store.migrate_up().await?;
            let now = chrono::Utc::now();
            let (output, note) = match action {
                AdminKeysAction::Create { name, scopes, expires_in } => {
                    let created = keyward::cli::admin_keys::create(&store, &name, &scopes, expires_in, now).await?;
                    (created.key, Some(created.note))
                }
                AdminKeysAction::List => (keyward::cli::admin_keys::list(&store, now).await?, None),
                AdminKeysAction::Revoke { id } => (keyward::cli::admin_keys::revoke(&store, &id, now).await?, None),
            };
            #[allow(clippy::print_stdout)] // the command's output
            {
                println!("{output}");
            }
            if let Some(note) = note {
                eprintln!("{note}");
            }
            Ok(())
        }
        Command::Keys { action: KeysAction::Rotate { now } } => {
            let store = open_store(&config).await?;
            store.migrate_up().await?;
            let store = store.clone().with_master_key(keyward::master_key::resolve(&config, &store).await?);
            let delay = if now {
                std::time::Duration::ZERO
            } else {
                rotation_delay(std::time::Duration::from_secs(config.signing_key_reload_secs))
            };
            let (kid, signs_from) = rotate_signing_key(&store, chrono::Utc::now(), delay).await?;
            #[allow(clippy::print_stdout)] // the command's output
            {
                println!("new signing key {kid}: published now, signs from {}", signs_from.to_rfc3339());
            }
            Ok(())
        }
        Command::Keys { action: KeysAction::Rewrap { new_master_key_file } } => {
            let store = open_store(&config).await?;
            store.migrate_up().await?;
            let new_key = Arc::new(keyward::master_key::read_key_file(&new_master_key_file)?);
            let old_keys: Vec<Arc<MasterKey>> =
                keyward::master_key::configured(&config)?.into_iter().map(|(key, _)| Arc::new(key)).collect();
            let report = store.rewrap_secrets(&old_keys, Arc::clone(&new_key)).await?;
            #[allow(clippy::print_stdout)] // the command's output
            {
                println!(
                    "re-sealed {} secrets under master key {}; configure it (master_key_file or KEYWARD_MASTER_KEY{}) \
                     and restart",
                    report.total(),
                    new_key.id(),
                    if config.uses_sqlite() && config.master_key.is_none() && config.master_key_file.is_none() {
                        ", or replace <data_dir>/master.key with it"
                    } else {
                        ""
                    }
                );
            }
            Ok(())
        }
    }
}

/// Applies pending migrations, logging one line with how many and how long.
async fn migrate_up(store: &Store) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let applied = store.migrate_up().await?;
    let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    tracing::info!(applied, elapsed_ms, "database schema up to date");
    Ok(())
}

async fn open_store(config: &Config) -> anyhow::Result<Store> {
    keyward::app::private_files::prepare(config)?;
    Ok(Store::connect_as(&keyward::app::settings::database(config)).await?)
}

async fn serve(config: Config) -> anyhow::Result<()> {
    // Listening for the signals before serving: a SIGTERM that arrives right after the "serving"
    // line (a supervisor, a test) must start a graceful shutdown, not kill the process.
    let shutdown = shutdown_signal()?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|err| anyhow::anyhow!("cannot listen on {}: {err}", config.listen))?;
    let app = App::spawn(config, listener).await?;
    shutdown.await;
    tracing::info!("shutting down: finishing in-flight calls");
    app.shutdown().await?;
    Ok(())
}

/// A future that resolves on Ctrl-C (SIGINT) or SIGTERM. The handlers are installed when this is
/// called, not when the future is first polled.
#[cfg(unix)]
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let listen =
        |kind: SignalKind, name: &str| signal(kind).map_err(|err| anyhow::anyhow!("listening for {name}: {err}"));
    let mut terminate = listen(SignalKind::terminate(), "SIGTERM")?;
    let mut interrupt = listen(SignalKind::interrupt(), "SIGINT")?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    })
}

/// A future that resolves on Ctrl-C.
#[cfg(not(unix))]
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}
