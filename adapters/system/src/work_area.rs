//! The media worker's job directories on the local disk.

use std::io;
use std::path::PathBuf;

use async_trait::async_trait;
use chat_core::domain::error::PortError;
use chat_core::domain::media::LocalFile;
use chat_core::ports::WorkArea;
use tokio::io::AsyncReadExt as _;

/// Job directories under one root (e.g. `CHAT_DATA_DIR/work`).
pub struct LocalWorkArea {
    root: PathBuf,
}

impl LocalWorkArea {
    /// Job directories under `root`, which is created if missing.
    pub fn new(root: impl Into<PathBuf>) -> io::Result<LocalWorkArea> {
        let root = root.into();
        std::fs::create_dir_all(&root)?;
        Ok(LocalWorkArea { root })
    }
}

fn failed(what: &str, file: &LocalFile, error: &io::Error) -> PortError {
    PortError::Internal(format!("{what} {}: {error}", file.path().display()))
}

async fn remove_dir(dir: &LocalFile) -> Result<(), PortError> {
    match tokio::fs::remove_dir_all(dir.path()).await {
        Err(error) if error.kind() != io::ErrorKind::NotFound => Err(failed("removing", dir, &error)),
        _ => Ok(()),
    }
}

#[async_trait]
impl WorkArea for LocalWorkArea {
    async fn create(&self, name: &str) -> Result<LocalFile, PortError> {
        let dir = LocalFile::new(self.root.join(name));
        remove_dir(&dir).await?;
        tokio::fs::create_dir_all(dir.path()).await.map_err(|e| failed("creating", &dir, &e))?;
        Ok(dir)
    }

    async fn read_prefix(&self, file: &LocalFile, len: usize) -> Result<Vec<u8>, PortError> {
        let opened = tokio::fs::File::open(file.path()).await.map_err(|e| failed("opening", file, &e))?;
        let mut head = Vec::with_capacity(len);
        opened.take(len as u64).read_to_end(&mut head).await.map_err(|e| failed("reading", file, &e))?;
        Ok(head)
    }

    async fn size(&self, file: &LocalFile) -> Result<u64, PortError> {
        Ok(tokio::fs::metadata(file.path()).await.map_err(|e| failed("reading", file, &e))?.len())
    }

    async fn remove(&self, dir: &LocalFile) -> Result<(), PortError> {
        remove_dir(dir).await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[tokio::test]
    async fn a_job_directory_is_made_empty_read_and_removed() {
        let root = std::env::temp_dir().join(format!("chat-work-area-{}", uuid::Uuid::now_v7()));
        let area = LocalWorkArea::new(&root).unwrap();
        let dir = area.create("job-1").await.unwrap();
        std::fs::write(dir.join("original").path(), b"\xFF\xD8\xFF\xE0rest").unwrap();
        assert_eq!(area.read_prefix(&dir.join("original"), 3).await.unwrap(), b"\xFF\xD8\xFF");
        assert_eq!(area.size(&dir.join("original")).await.unwrap(), 8);
        // A second run of the job starts from an empty directory.
        let again = area.create("job-1").await.unwrap();
        assert!(std::fs::read_dir(again.path()).unwrap().next().is_none());
        area.remove(&again).await.unwrap();
        area.remove(&again).await.unwrap();
        assert!(!again.path().exists());
        std::fs::remove_dir_all(&root).unwrap();
    }
}
