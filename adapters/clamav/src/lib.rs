//! `chat-clamav`: the [`VirusScanner`] port on clamd, the ClamAV daemon.
//!
//! Each scan opens a connection to clamd (TCP, or a unix socket) and streams the file with
//! `zINSTREAM` in chunks (4-byte big-endian lengths, a zero-length terminator) through the
//! `clamav-client` crate, so a file is never held whole in memory. Every call has a deadline.
//! A file larger than clamd's `StreamMaxLength` (given here as `max_stream_bytes`, the two must
//! match) is refused before it is sent: "size limit exceeded" is an error, never a clean verdict.
//! clamd down, silent or too slow is `PortError::Unavailable`: the job retries later.

mod reply;

use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use chat_core::domain::error::PortError;
use chat_core::domain::media::LocalFile;
use chat_core::ports::{HealthCheck, ScanVerdict, VirusScanner};
use clamav_client::tokio as clamd;

/// Where clamd listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClamdAddr {
    /// `host:port`, e.g. `127.0.0.1:3310` (clamd's `TCPSocket` and `TCPAddr`).
    Tcp(String),
    /// A unix socket path (clamd's `LocalSocket`).
    Unix(PathBuf),
}

impl ClamdAddr {
    /// Reads `CLAMD_ADDR`'s forms: `unix:/run/clamav/clamd.ctl` or an absolute path for a unix
    /// socket, `tcp://host:port` or `host:port` for TCP.
    pub fn parse(addr: &str) -> Result<ClamdAddr, String> {
        let addr = addr.trim();
        if let Some(path) = addr.strip_prefix("unix:") {
            return Ok(ClamdAddr::Unix(PathBuf::from(path.trim_start_matches("//"))));
        }
        if addr.starts_with('/') {
            return Ok(ClamdAddr::Unix(PathBuf::from(addr)));
        }
        let hostport = addr.strip_prefix("tcp://").unwrap_or(addr);
        match hostport.rsplit_once(':') {
            Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {
                Ok(ClamdAddr::Tcp(hostport.to_owned()))
            }
            _ => Err(format!("CLAMD_ADDR must be host:port or unix:/path, not {addr:?}")),
        }
    }
}

/// How the scanner talks to clamd.
#[derive(Clone, Debug)]
pub struct ClamdConfig {
    /// Where clamd listens.
    pub addr: ClamdAddr,
    /// The deadline of one call (connect, stream, verdict). clamd's own limit per scan is
    /// `MaxScanTime` (2 minutes by default); a slower answer is treated as clamd unavailable.
    pub timeout: Duration,
    /// clamd's `StreamMaxLength`: larger files are refused with "size limit exceeded".
    pub max_stream_bytes: u64,
    /// The size of each INSTREAM chunk.
    pub chunk_bytes: usize,
}

impl ClamdConfig {
    /// The defaults for `addr`: a 2-minute deadline, 30 MiB (the project's clamd.conf
    /// `StreamMaxLength 30M`, above the 25 MiB file limit), 64 KiB chunks.
    pub fn new(addr: ClamdAddr) -> ClamdConfig {
        ClamdConfig { addr, timeout: Duration::from_secs(120), max_stream_bytes: 30 << 20, chunk_bytes: 64 << 10 }
    }
}

/// The [`VirusScanner`] (and its [`HealthCheck`]) on clamd.
#[derive(Clone, Debug)]
pub struct ClamdScanner {
    config: ClamdConfig,
}

impl ClamdScanner {
    /// A scanner talking to clamd as `config` says. It connects per call; nothing is opened here.
    pub fn new(config: ClamdConfig) -> ClamdScanner {
        ClamdScanner { config }
    }

    /// clamd's reply to `zPING`, within the deadline.
    async fn ping(&self) -> Result<Vec<u8>, PortError> {
        let call = async {
            match &self.config.addr {
                ClamdAddr::Tcp(host_address) => clamd::ping(clamd::Tcp { host_address: host_address.as_str() }).await,
                ClamdAddr::Unix(socket_path) => clamd::ping(clamd::Socket { socket_path }).await,
            }
        };
        self.within_deadline(call).await
    }

    /// Runs a call to clamd within the deadline; its IO errors (refused, reset, no such socket)
    /// mean clamd is unavailable.
    async fn within_deadline(
        &self,
        call: impl Future<Output = std::io::Result<Vec<u8>>>,
    ) -> Result<Vec<u8>, PortError> {
        match tokio::time::timeout(self.config.timeout, call).await {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(error)) => Err(PortError::Unavailable(format!("clamd at {}: {error}", self.describe()))),
            Err(_) => Err(PortError::Unavailable(format!(
                "clamd at {} did not answer within {:?}",
                self.describe(),
                self.config.timeout
            ))),
        }
    }

    fn describe(&self) -> String {
        match &self.config.addr {
            ClamdAddr::Tcp(addr) => addr.clone(),
            ClamdAddr::Unix(path) => format!("unix:{}", path.display()),
        }
    }
}

#[async_trait]
impl VirusScanner for ClamdScanner {
    async fn scan(&self, file: &LocalFile) -> Result<ScanVerdict, PortError> {
        let path = file.path();
        // The file is ours (the worker's copy): failing to read it is a bug, not clamd's state.
        let metadata = tokio::fs::metadata(path)
            .await
            .map_err(|error| PortError::Internal(format!("cannot read {} to scan it: {error}", path.display())))?;
        if !metadata.is_file() {
            return Err(PortError::Internal(format!("{} is not a file", path.display())));
        }
        if metadata.len() > self.config.max_stream_bytes {
            return Err(PortError::Internal(format!(
                "clamd refused the file: size limit exceeded ({} bytes, clamd takes at most {})",
                metadata.len(),
                self.config.max_stream_bytes
            )));
        }
        let chunk = Some(self.config.chunk_bytes);
        let call = async {
            match &self.config.addr {
                ClamdAddr::Tcp(host_address) => {
                    clamd::scan_file(path, clamd::Tcp { host_address: host_address.as_str() }, chunk).await
                }
                ClamdAddr::Unix(socket_path) => clamd::scan_file(path, clamd::Socket { socket_path }, chunk).await,
            }
        };
        let verdict = reply::verdict(&self.within_deadline(call).await?);
        if let Ok(ScanVerdict::Infected { signature }) = &verdict {
            tracing::warn!(file = %path.display(), %signature, "clamd found malware");
        }
        verdict
    }
}

#[async_trait]
impl HealthCheck for ClamdScanner {
    fn component(&self) -> &'static str {
        "virus_scanner"
    }

    fn adapter(&self) -> &'static str {
        "clamd"
    }

    async fn check(&self) -> Result<(), PortError> {
        let reply = self.ping().await?;
        if reply::is_pong(&reply) {
            Ok(())
        } else {
            Err(PortError::Unavailable(format!(
                "clamd at {} answered PING with {:?}",
                self.describe(),
                String::from_utf8_lossy(&reply)
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(ClamdAddr::parse("127.0.0.1:3310").unwrap(), ClamdAddr::Tcp("127.0.0.1:3310".into()));
        assert_eq!(ClamdAddr::parse("tcp://clamd:3310").unwrap(), ClamdAddr::Tcp("clamd:3310".into()));
        assert_eq!(ClamdAddr::parse("[::1]:3310").unwrap(), ClamdAddr::Tcp("[::1]:3310".into()));
        assert_eq!(
            ClamdAddr::parse("unix:/run/clamav/clamd.ctl").unwrap(),
            ClamdAddr::Unix("/run/clamav/clamd.ctl".into())
        );
        assert_eq!(ClamdAddr::parse("/run/clamav/clamd.ctl").unwrap(), ClamdAddr::Unix("/run/clamav/clamd.ctl".into()));
        assert!(ClamdAddr::parse("clamd").is_err());
        assert!(ClamdAddr::parse(":3310").is_err());
        assert!(ClamdAddr::parse("clamd:port").is_err());
    }
}
