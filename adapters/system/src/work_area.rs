//! The media worker's job directories on the local disk, in a folder of the process's own
//! (see `process_folder` for why and how the folders of dead processes are swept).

mod process_folder;

use std::io;
use std::path::Path;

use async_trait::async_trait;
use chat_core::domain::error::PortError;
use chat_core::domain::media::LocalFile;
use chat_core::ports::WorkArea;
use tokio::io::AsyncReadExt as _;

use self::process_folder::ProcessFolder;
pub use self::process_folder::Swept;

/// Job directories in `<work_dir>/<process>/`, a folder this process alone works in, and
/// removes when it is dropped.
#[derive(Debug)]
pub struct LocalWorkArea {
    folder: ProcessFolder,
}

impl LocalWorkArea {
    /// Job directories in a folder of `process`'s own under `work_dir` (e.g.
    /// `CHAT_DATA_DIR/work`, created if missing), named after it: `process` should tell
    /// processes apart (host and pid). Removes, before it returns, the folders that processes
    /// now gone left under `work_dir`, and says which.
    pub fn new(work_dir: &Path, process: &str) -> io::Result<(LocalWorkArea, Swept)> {
        let (folder, swept) = ProcessFolder::claim(work_dir, process)?;
        Ok((LocalWorkArea { folder }, swept))
    }

    /// Where this process's job directories are.
    pub fn dir(&self) -> &Path {
        self.folder.path()
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
        let dir = LocalFile::new(self.dir().join(name));
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
        let root = tempfile::tempdir().unwrap();
        let (area, _) = LocalWorkArea::new(root.path(), "chat-worker-test-1").unwrap();
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
    }
}
