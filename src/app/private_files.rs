//! Keyward's files on disk are its user's alone: the data dir is 0700 and the SQLite database
//! (with its `-wal` and `-shm` files, which SQLite creates with the database file's mode) 0600
//! (OWASP ASVS 5 V13.3: secrets and sensitive data protected at rest). New ones are created
//! with those modes, so there is no moment when they are readable by others; existing ones with
//! looser modes are tightened at every start, with a WARN, because a 0644 database from an
//! older Keyward holds the same hashes and sealed secrets as a new one. A mode that cannot be
//! changed (a directory owned by someone else) is a WARN, not a refusal to start.

use std::path::Path;

use crate::{
    config::Config,
    error::{Error, Result},
};

/// The mode of Keyward's directories.
pub const DIR_MODE: u32 = 0o700;
/// The mode of Keyward's files.
pub const FILE_MODE: u32 = 0o600;

/// Creates (or tightens) the data dir and the SQLite database file, before the store opens it.
/// Does nothing on PostgreSQL: the data dir then holds at most the file transport's mail, whose
/// directory the mailer creates.
pub fn prepare(config: &Config) -> Result<()> {
    if !config.uses_sqlite() {
        return Ok(());
    }
    private_dir(&config.data_dir)
        .map_err(|err| Error::internal(format_args!("creating data dir {}: {err}", config.data_dir.display())))?;
    if let Some(file) = config.sqlite_file() {
        if let Some(parent) = file.parent().filter(|parent| !parent.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|err| Error::internal(format_args!("creating {}: {err}", parent.display())))?;
        }
        private_file(&file).map_err(|err| Error::internal(format_args!("creating {}: {err}", file.display())))?;
        for suffix in ["-wal", "-shm"] {
            let mut side = file.clone().into_os_string();
            side.push(suffix);
            tighten(Path::new(&side), FILE_MODE);
        }
    }
    Ok(())
}

/// Creates `dir` (and missing parents) with mode 0700, or tightens an existing one.
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, DIR_MODE);
    builder.create(dir)?;
    tighten(dir, DIR_MODE);
    Ok(())
}

/// Creates `file` empty with mode 0600 when it does not exist (an empty file is an empty SQLite
/// database), or tightens an existing one.
fn private_file(file: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, FILE_MODE);
    match options.open(file) {
        Ok(_) => Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
            tighten(file, FILE_MODE);
            Ok(())
        }
        Err(err) => Err(err),
    }
}

/// Removes the group and other bits of an existing `path` (never adds any), logging what it did.
fn tighten(path: &Path, mode: u32) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let Ok(metadata) = std::fs::metadata(path) else { return };
        let current = metadata.permissions().mode() & 0o777;
        if current & !mode == 0 {
            return;
        }
        match std::fs::set_permissions(path, std::fs::Permissions::from_mode(current & mode)) {
            Ok(()) => tracing::warn!(
                path = %path.display(),
                was = format_args!("{current:o}"),
                now = format_args!("{:o}", current & mode),
                "tightened the mode of a Keyward file that other users could read"
            ),
            Err(err) => tracing::warn!(
                path = %path.display(),
                mode = format_args!("{current:o}"),
                error = %err,
                "a Keyward file is readable by other users and its mode could not be changed"
            ),
        }
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
}
