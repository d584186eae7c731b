//! Where the master key comes from: `KEYWARD_MASTER_KEY` (setting `master_key`), the file
//! `master_key_file`, or — on the embedded default, SQLite with neither set — the file
//! `<data_dir>/master.key`, generated (mode 0600) the first time, so `keyward serve` still needs
//! no setup. It is checked against the database before anything is served: a database whose
//! secrets are sealed under another key, or a missing key file next to sealed secrets, stops
//! the process with one line saying so — a new key is never generated over sealed data.

use std::{path::Path, sync::Arc};

use crate::{
    config::Config,
    crypto::MasterKey,
    error::{Error, Result},
    store::Store,
};

/// The generated key file's name inside the data dir.
pub const DEFAULT_MASTER_KEY_FILE: &str = "master.key";

/// The configured master key, checked against what the database's secrets are sealed under.
pub async fn resolve(config: &Config, store: &Store) -> Result<Arc<MasterKey>> {
    let in_use = store.master_key_ids().await?;
    let (key, source) = match configured(config)? {
        Some(found) => found,
        None if config.uses_sqlite() => {
            let path = config.data_dir.join(DEFAULT_MASTER_KEY_FILE);
            if let Some(sealed_under) = in_use.first() {
                return Err(Error::Startup(format!(
                    "the database's secrets are sealed under master key {sealed_under}, but {} is missing: restore it, \
                     or set master_key_file / KEYWARD_MASTER_KEY",
                    path.display()
                )));
            }
            (generate_key_file(&path)?, path.display().to_string())
        }
        None => {
            return Err(Error::Startup(
                "a master key is required with PostgreSQL: set KEYWARD_MASTER_KEY or master_key_file to 32 random \
                 bytes in base64 (openssl rand -base64 32)"
                    .into(),
            ));
        }
    };
    let foreign: Vec<&str> = in_use.iter().map(String::as_str).filter(|id| *id != key.id()).collect();
    if !foreign.is_empty() {
        return Err(Error::Startup(format!(
            "the database's secrets are sealed under master key {}, but the master key from {source} is {}: \
             configure that key, or re-seal them with `keyward keys rewrap`",
            foreign.join(", "),
            key.id()
        )));
    }
    Ok(Arc::new(key))
}

/// The master key the configuration names, with where it came from: `master_key`, then
/// `master_key_file`, then (SQLite) an existing `<data_dir>/master.key`. None when there is none
/// yet. Never generates one.
pub fn configured(config: &Config) -> Result<Option<(MasterKey, String)>> {
    if let Some(text) = &config.master_key {
        let key = MasterKey::parse(text.expose())
            .map_err(|problem| Error::Startup(format!("KEYWARD_MASTER_KEY (master_key) {problem}")))?;
        return Ok(Some((key, "KEYWARD_MASTER_KEY".to_owned())));
    }
    if let Some(path) = &config.master_key_file {
        return Ok(Some((read_key_file(path)?, path.display().to_string())));
    }
    let default = config.data_dir.join(DEFAULT_MASTER_KEY_FILE);
    if config.uses_sqlite() && default.exists() {
        return Ok(Some((read_key_file(&default)?, default.display().to_string())));
    }
    Ok(None)
}

/// Reads a key file (base64 of 32 bytes, whitespace ignored).
pub fn read_key_file(path: &Path) -> Result<MasterKey> {
    let text = std::fs::read_to_string(path)
        .map_err(|err| Error::Startup(format!("reading the master key file {}: {err}", path.display())))?;
    warn_if_readable_by_others(path);
    MasterKey::parse(&text).map_err(|problem| Error::Startup(format!("master key file {}: {problem}", path.display())))
}

/// Creates `path` with a new key, readable by this user only. Another process that got there
/// first wins: its key is read instead.
fn generate_key_file(path: &Path) -> Result<MasterKey> {
    use std::io::Write;
    let (key, text) = MasterKey::generate()?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(mut file) => {
            file.write_all(format!("{text}\n").as_bytes())
                .and_then(|()| file.sync_all())
                .map_err(|err| Error::Startup(format!("writing the master key file {}: {err}", path.display())))?;
            tracing::info!(
                path = %path.display(),
                master_key = key.id(),
                "generated a master key: signing keys and provider tokens are sealed with it; back it up with the \
                 database (without it they cannot be read), or set master_key_file / KEYWARD_MASTER_KEY"
            );
            Ok(key)
        }
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => read_key_file(path),
        Err(err) => Err(Error::Startup(format!("creating the master key file {}: {err}", path.display()))),
    }
}

fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(metadata) = std::fs::metadata(path)
            && metadata.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(path = %path.display(), "the master key file is readable by other users: chmod 600 it");
        }
    }
}
