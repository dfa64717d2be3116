//! The media worker's local disk: a directory per job for the original and what is made of
//! it. Behind a port so that the core does no IO of its own.

use async_trait::async_trait;

use crate::domain::error::PortError;
use crate::domain::media::LocalFile;

/// Where a worker keeps the files of the jobs in hand.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait WorkArea: Send + Sync {
    /// A directory for one job, `name`, empty (a leftover of an earlier run is cleared).
    async fn create(&self, name: &str) -> Result<LocalFile, PortError>;
    /// Up to `len` leading bytes of a file.
    async fn read_prefix(&self, file: &LocalFile, len: usize) -> Result<Vec<u8>, PortError>;
    /// A file's size in bytes.
    async fn size(&self, file: &LocalFile) -> Result<u64, PortError>;
    /// Removes a job's directory and everything in it; one already gone is fine.
    async fn remove(&self, dir: &LocalFile) -> Result<(), PortError>;
}
