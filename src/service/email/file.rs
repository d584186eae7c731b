//! The file transport, the default when no SMTP relay is configured: each message becomes
//! `<outbox id>.eml` in a directory (written to a temporary name, then renamed, so a reader
//! never sees half a message) and its link is logged, so sign-in mail works on a laptop with no
//! setup. For development: the link in the log is as good as the mail.

use std::path::{Path, PathBuf};

use crate::service::outbox::DeliveryFailure;

/// Writes `formatted` as `<dir>/<id>.eml`.
pub(super) async fn write(dir: &Path, id: &str, formatted: Vec<u8>) -> Result<PathBuf, DeliveryFailure> {
    // The id is ours (a UUID), but a file name is built from it: keep it to a safe alphabet.
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(DeliveryFailure::permanent("outbox id is not a file name"));
    }
    let path = dir.join(format!("{id}.eml"));
    let partial = dir.join(format!(".{id}.eml.partial"));
    let failed = |err: std::io::Error| DeliveryFailure::transient(format!("writing {}: {err}", path.display()));
    tokio::fs::create_dir_all(dir).await.map_err(failed)?;
    tokio::fs::write(&partial, formatted).await.map_err(failed)?;
    tokio::fs::rename(&partial, &path).await.map_err(failed)?;
    Ok(path)
}
