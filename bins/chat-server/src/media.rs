//! Where media bytes live: S3 (or compatible) when `S3_BUCKET` is set, else a directory under
//! `CHAT_DATA_DIR` served by this server's own signed blob endpoint; and the media settings.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use chat_core::ports::{BlobStore, ClaimStore, HealthCheck};
use chat_disk::{DiskBlobConfig, DiskBlobStore};
use chat_s3::{CdnConfig, S3BlobStore, S3Config, Timeouts};
use clap::Args;
use sha2::{Digest, Sha256};

/// Media storage and limits.
#[derive(Clone, Debug, Args)]
pub struct MediaSettings {
    /// The address clients reach this server at, for the blob URLs of embedded mode (e.g.
    /// https://chat.example.vn). Unset: http://{listen address}.
    #[arg(long, env = "CHAT_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Bytes each user may store, in MiB (uploads in progress count).
    #[arg(long, env = "CHAT_MEDIA_QUOTA_MIB", default_value_t = 2048, value_parser = clap::value_parser!(u64).range(1..=1_048_576))]
    pub media_quota_mib: u64,

    /// How often expired uploads and media never attached are cleaned up, in seconds (one node
    /// does it per interval).
    #[arg(long, env = "CHAT_MEDIA_CLEANUP_INTERVAL_SECS", default_value_t = 3600, value_parser = clap::value_parser!(u64).range(10..=86_400))]
    pub media_cleanup_interval_secs: u64,

    /// The S3 bucket for media. Set: media live in S3 (or a compatible server); unset: under
    /// CHAT_DATA_DIR/blobs.
    #[arg(long, env = "S3_BUCKET")]
    pub s3_bucket: Option<String>,

    /// An S3-compatible endpoint (MinIO, R2, ...). Unset: AWS S3 in S3_REGION.
    #[arg(long, env = "S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,

    /// The region requests are signed for.
    #[arg(long, env = "S3_REGION", default_value = "us-east-1")]
    pub s3_region: String,

    /// The access key id.
    #[arg(long, env = "S3_ACCESS_KEY_ID", hide_env_values = true)]
    pub s3_access_key_id: Option<String>,

    /// The secret access key.
    #[arg(long, env = "S3_SECRET_ACCESS_KEY", hide_env_values = true)]
    pub s3_secret_access_key: Option<String>,

    /// Path-style URLs ({endpoint}/{bucket}/{key}), which most S3-compatible servers need.
    #[arg(
        long,
        env = "S3_PATH_STYLE",
        action = clap::ArgAction::Set,
        value_parser = clap::builder::BoolishValueParser::new(),
        num_args = 0..=1,
        default_value = "false",
        default_missing_value = "true"
    )]
    pub s3_path_style: bool,

    /// A CloudFront domain in front of the bucket: downloads get CloudFront signed URLs.
    #[arg(long, env = "CDN_DOMAIN")]
    pub cdn_domain: Option<String>,

    /// The CloudFront public key id the signing key belongs to.
    #[arg(long, env = "CDN_KEY_PAIR_ID")]
    pub cdn_key_pair_id: Option<String>,

    /// The PEM file of the CloudFront signing key.
    #[arg(long, env = "CDN_PRIVATE_KEY_FILE")]
    pub cdn_private_key_file: Option<PathBuf>,
}

/// The blob store, and for embedded mode the routes that serve its signed URLs.
pub struct BlobWiring {
    /// The store behind the `BlobStore` port.
    pub blobs: Arc<dyn BlobStore>,
    /// `/blobs/{token}` when the store is the local directory.
    pub routes: Option<axum::Router>,
    /// The local directory store, for what only its serving process may do at start.
    pub disk: Option<Arc<DiskBlobStore>>,
    /// Its readiness check, for `/ready` (S3: the bucket answers).
    pub health: Option<Arc<dyn HealthCheck>>,
    /// `s3` or `disk`, for the start-up log.
    pub name: &'static str,
}

impl MediaSettings {
    /// Checks what clap cannot.
    pub fn validate(&self) -> anyhow::Result<()> {
        if let Some(url) = &self.public_url
            && (!(url.starts_with("http://") || url.starts_with("https://")) || url.ends_with('/'))
        {
            bail!("CHAT_PUBLIC_URL must be an http(s) URL without a trailing slash, like https://chat.example.vn");
        }
        if self.s3_bucket.is_some() && (self.s3_access_key_id.is_none() || self.s3_secret_access_key.is_none()) {
            bail!("S3_BUCKET needs S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY");
        }
        let cdn = [self.cdn_domain.is_some(), self.cdn_key_pair_id.is_some(), self.cdn_private_key_file.is_some()];
        if cdn.iter().any(|set| *set) && !cdn.iter().all(|set| *set) {
            bail!("CDN_DOMAIN, CDN_KEY_PAIR_ID and CDN_PRIVATE_KEY_FILE go together");
        }
        if cdn[0] && self.s3_bucket.is_none() {
            bail!("CDN_DOMAIN needs S3_BUCKET: the CDN serves the bucket");
        }
        if let Some(domain) = &self.cdn_domain
            && (domain.contains("://") || domain.contains('/'))
        {
            bail!("CDN_DOMAIN is a host name like d111111abcdef8.cloudfront.net, without https:// or a path");
        }
        Ok(())
    }

    /// The S3 configuration, when `S3_BUCKET` is set.
    fn s3_config(&self) -> Option<S3Config> {
        let bucket = self.s3_bucket.clone()?;
        let cdn = match (&self.cdn_domain, &self.cdn_key_pair_id, &self.cdn_private_key_file) {
            (Some(domain), Some(key_pair_id), Some(file)) => Some(CdnConfig {
                domain: domain.clone(),
                key_pair_id: key_pair_id.clone(),
                private_key_file: file.clone(),
            }),
            _ => None,
        };
        Some(S3Config {
            endpoint: self.s3_endpoint.clone(),
            region: self.s3_region.clone(),
            bucket,
            access_key: self.s3_access_key_id.clone().unwrap_or_default(),
            secret_key: self.s3_secret_access_key.clone().unwrap_or_default(),
            path_style: self.s3_path_style,
            cdn,
            timeouts: Timeouts::default(),
        })
    }

    /// The blob store these settings name: S3, or the local directory under `data_dir` whose
    /// URLs start with `public_url`.
    pub fn blob_wiring(
        &self,
        data_dir: &Path,
        public_url: &str,
        secret: &[u8],
        claims: Arc<dyn ClaimStore>,
    ) -> anyhow::Result<BlobWiring> {
        if let Some(config) = self.s3_config() {
            let store = Arc::new(S3BlobStore::new(config).context("S3 settings")?);
            return Ok(BlobWiring { blobs: store.clone(), routes: None, disk: None, health: Some(store), name: "s3" });
        }
        disk_blobs(&data_dir.join("blobs"), public_url, secret, claims)
    }
}

/// The embedded blob store under `root`, with URLs under `public_url`, signed with a key
/// derived from the server's secret (so URLs survive a restart when the secret does).
pub fn disk_blobs(
    root: &Path,
    public_url: &str,
    secret: &[u8],
    claims: Arc<dyn ClaimStore>,
) -> anyhow::Result<BlobWiring> {
    let signing_key = Sha256::new().chain_update(b"chat blob URLs v1\0").chain_update(secret).finalize().to_vec();
    let config = DiskBlobConfig { root: root.to_owned(), public_base_url: public_url.to_owned(), signing_key };
    let store = Arc::new(
        DiskBlobStore::open(config, claims)
            .with_context(|| format!("opening the blob directory {}", root.display()))?,
    );
    Ok(BlobWiring {
        blobs: store.clone(),
        routes: Some(chat_disk::router(store.clone())),
        disk: Some(store),
        health: None,
        name: "disk",
    })
}

/// A blob store under `root` for a single process that signs its URLs with a fresh random key
/// and keeps its one-time claims in memory: for tools, benchmarks and tests that embed the
/// server without a configured data directory.
pub fn standalone_disk_blobs(root: &Path, public_url: &str) -> anyhow::Result<BlobWiring> {
    let mut secret = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut secret);
    disk_blobs(root, public_url, &secret, Arc::new(chat_memory::MemoryClaims::new()))
}

/// Deletes the embedded blob directory of an earlier run: an in-memory store starts with no
/// media records, so nothing refers to those bytes any more.
pub fn forget_embedded_blobs(data_dir: &Path) -> anyhow::Result<()> {
    let root = data_dir.join("blobs");
    match std::fs::remove_dir_all(&root) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(error).with_context(|| format!("removing the previous run's media in {}", root.display())),
    }
}
