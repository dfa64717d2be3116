//! The JWT secret when none is configured: generated once and kept in the data dir, so
//! access tokens survive a restart.

use std::path::Path;

use anyhow::{Context, bail};
use rand::RngCore as _;

/// The JWT secret kept under the data dir, created (owner-only) on first start.
pub fn load_or_create_secret(data_dir: &Path) -> anyhow::Result<Vec<u8>> {
    let path = data_dir.join("jwt_secret");
    if let Ok(secret) = std::fs::read(&path) {
        if secret.len() >= 32 {
            return Ok(secret);
        }
        bail!("{} is shorter than 32 bytes; delete it to generate a new one", path.display());
    }
    std::fs::create_dir_all(data_dir).with_context(|| format!("creating CHAT_DATA_DIR {}", data_dir.display()))?;
    let mut secret = vec![0u8; 64];
    rand::rng().fill_bytes(&mut secret);
    write_private(&path, &secret).with_context(|| format!("writing {}", path.display()))?;
    tracing::info!(path = %path.display(), "generated a JWT secret");
    Ok(secret)
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(bytes)
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}
