//! Virus scanning of uploaded files that are served as they are (FILE uploads: executables,
//! archives, PDFs, anything not re-encoded), before they become `ready`.

use async_trait::async_trait;

use crate::domain::error::PortError;
use crate::domain::media::LocalFile;

/// What a scan found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScanVerdict {
    /// No signature matched.
    Clean,
    /// A signature matched: the file must not be delivered.
    Infected {
        /// The name of the matching signature, e.g. `Win.Test.EICAR_HDB-1`, for the audit log.
        signature: String,
    },
}

/// The virus scanner (clamd in production).
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait VirusScanner: Send + Sync {
    /// Scans `file`. `PortError::Unavailable` when the scanner is down, overloaded or too slow
    /// (the job retries later; nothing is delivered unscanned); `PortError::Internal` when the
    /// file cannot be scanned at all (unreadable, or larger than the scanner takes: "size limit
    /// exceeded"), which no retry mends. Neither is ever a clean verdict.
    async fn scan(&self, file: &LocalFile) -> Result<ScanVerdict, PortError>;
}
