//! The file transport, the default when no SMTP relay is configured: each message becomes
//! `<outbox id>.eml` in a directory (written to a temporary name, then renamed, so a reader
//! never sees half a message) and its path is logged, so sign-in mail works on a laptop with no
//! setup. A mail carries a live sign-in link and code, so the directory is created 0700 and
//! every file 0600 (OWASP ASVS 5 V13.3), and neither the link nor the code is ever logged.

use std::path::{Path, PathBuf};

use crate::service::outbox::DeliveryFailure;

/// Writes `formatted` as `<dir>/<id>.eml`, readable by this user only.
pub(super) async fn write(dir: &Path, id: &str, formatted: Vec<u8>) -> Result<PathBuf, DeliveryFailure> {
    use tokio::io::AsyncWriteExt;
    // The id is ours (a UUID), but a file name is built from it: keep it to a safe alphabet.
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(DeliveryFailure::permanent("outbox id is not a file name"));
    }
    let path = dir.join(format!("{id}.eml"));
    let partial = dir.join(format!(".{id}.eml.partial"));
    let failed = |err: std::io::Error| DeliveryFailure::transient(format!("writing {}: {err}", path.display()));
    let mut builder = tokio::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    builder.mode(0o700);
    builder.create(dir).await.map_err(failed)?;
    // A partial file left by an interrupted write may have been made with another mode: start
    // afresh, so the mode below is the one the file gets.
    let _ = tokio::fs::remove_file(&partial).await;
    let mut options = tokio::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options.open(&partial).await.map_err(failed)?;
    file.write_all(&formatted).await.map_err(failed)?;
    file.flush().await.map_err(failed)?;
    drop(file);
    tokio::fs::rename(&partial, &path).await.map_err(failed)?;
    Ok(path)
}
