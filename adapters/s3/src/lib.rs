//! `chat-s3`: the blob store on S3 or an S3-compatible server. Requests are signed with
//! rusty-s3 (SigV4, no IO of its own) and sent with reqwest: the server's own calls (HEAD,
//! copy, list, multipart) use URLs it signs for a few minutes, the clients' uploads and
//! downloads use presigned URLs that bind what they may send. Downloads go through a
//! CloudFront distribution with signed URLs when one is configured.

mod cloudfront;
mod config;
mod error;
mod multipart;
mod objects;
mod presign;
mod request;
mod transfer;
mod xml;

#[cfg(feature = "testing")]
pub mod testing;

use async_trait::async_trait;
use chat_core::domain::error::PortError;
use chat_core::domain::media::{BlobKey, LocalFile, MultipartId};
use chat_core::domain::{Duration, Timestamp};
use chat_core::ports::{
    BlobInfo, BlobStore, CompleteOutcome, CopyOutcome, DownloadAs, HealthCheck, ListedBlob, PartEtag, SignedRequest,
    StoredPart,
};
use rusty_s3::{Bucket, Credentials, UrlStyle};

pub use config::{CdnConfig, ConfigError, S3Config, Timeouts};

use cloudfront::CloudFrontSigner;

/// The blob store on one S3 bucket.
pub struct S3BlobStore {
    bucket: Bucket,
    credentials: Credentials,
    http: reqwest::Client,
    cdn: Option<CloudFrontSigner>,
}

impl S3BlobStore {
    /// Checks `config` (URL, bucket name, the CloudFront key if any) and prepares the HTTP
    /// client; makes no request (see [`HealthCheck`] for one).
    pub fn new(config: S3Config) -> Result<S3BlobStore, ConfigError> {
        for (name, value) in [
            ("S3 region", &config.region),
            ("S3 bucket", &config.bucket),
            ("S3 access key", &config.access_key),
            ("S3 secret key", &config.secret_key),
        ] {
            if value.is_empty() {
                return Err(ConfigError::Empty(name));
            }
        }
        let endpoint = config.endpoint.clone().unwrap_or_else(|| format!("https://s3.{}.amazonaws.com", config.region));
        let url: url::Url = endpoint.parse().map_err(|_| ConfigError::Endpoint(endpoint.clone()))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(ConfigError::Endpoint(endpoint));
        }
        let style = if config.path_style { UrlStyle::Path } else { UrlStyle::VirtualHost };
        let bucket = Bucket::new(url, style, config.bucket.clone(), config.region.clone())
            .map_err(|_| ConfigError::Bucket(config.bucket.clone()))?;
        let http = reqwest::Client::builder()
            .connect_timeout(config.timeouts.connect)
            .timeout(config.timeouts.request)
            .build()
            .map_err(|e| ConfigError::Client(e.to_string()))?;
        let cdn = config.cdn.as_ref().map(CloudFrontSigner::from_config).transpose()?;
        Ok(S3BlobStore { bucket, credentials: Credentials::new(config.access_key, config.secret_key), http, cdn })
    }

    /// The bucket's name.
    pub fn bucket_name(&self) -> &str {
        self.bucket.name()
    }
}

#[async_trait]
impl BlobStore for S3BlobStore {
    fn presign_put(
        &self,
        key: &BlobKey,
        content_type: &str,
        size: u64,
        now: Timestamp,
        ttl: Duration,
    ) -> Result<SignedRequest, PortError> {
        presign::put(self, key, content_type, size, now, ttl)
    }

    fn presign_part(
        &self,
        key: &BlobKey,
        upload: &MultipartId,
        number: u32,
        size: u64,
        now: Timestamp,
        ttl: Duration,
    ) -> Result<SignedRequest, PortError> {
        presign::part(self, key, upload, number, size, now, ttl)
    }

    fn presign_get(
        &self,
        key: &BlobKey,
        download: &DownloadAs,
        now: Timestamp,
        ttl: Duration,
    ) -> Result<SignedRequest, PortError> {
        presign::get(self, key, download, now, ttl)
    }

    async fn head(&self, key: &BlobKey) -> Result<Option<BlobInfo>, PortError> {
        objects::head(self, key).await
    }

    async fn read_prefix(&self, key: &BlobKey, len: usize) -> Result<Option<Vec<u8>>, PortError> {
        objects::read_prefix(self, key, len).await
    }

    async fn copy_if_match(&self, from: &BlobKey, to: &BlobKey, etag: &str) -> Result<CopyOutcome, PortError> {
        objects::copy_if_match(self, from, to, etag).await
    }

    async fn delete(&self, key: &BlobKey) -> Result<(), PortError> {
        objects::delete(self, key).await
    }

    async fn list_older_than(
        &self,
        prefix: &str,
        before: Timestamp,
        limit: usize,
    ) -> Result<Vec<ListedBlob>, PortError> {
        objects::list_older_than(self, prefix, before, limit).await
    }

    async fn download_to(&self, key: &BlobKey, to: &LocalFile) -> Result<bool, PortError> {
        transfer::download_to(self, key, to).await
    }

    async fn upload_from(&self, from: &LocalFile, key: &BlobKey, content_type: &str) -> Result<BlobInfo, PortError> {
        transfer::upload_from(self, from, key, content_type).await
    }

    async fn create_multipart(&self, key: &BlobKey, content_type: &str) -> Result<MultipartId, PortError> {
        multipart::create(self, key, content_type).await
    }

    async fn list_parts(&self, key: &BlobKey, upload: &MultipartId) -> Result<Option<Vec<StoredPart>>, PortError> {
        multipart::list_parts(self, key, upload).await
    }

    async fn complete_multipart(
        &self,
        key: &BlobKey,
        upload: &MultipartId,
        parts: &[PartEtag],
    ) -> Result<CompleteOutcome, PortError> {
        multipart::complete(self, key, upload, parts).await
    }

    async fn abort_multipart(&self, key: &BlobKey, upload: &MultipartId) -> Result<(), PortError> {
        multipart::abort(self, key, upload).await
    }
}

#[async_trait]
impl HealthCheck for S3BlobStore {
    fn component(&self) -> &'static str {
        "blob_store"
    }
    fn adapter(&self) -> &'static str {
        "s3"
    }
    /// HeadBucket: the bucket is there and the credentials may use it.
    async fn check(&self) -> Result<(), PortError> {
        objects::head_bucket(self).await
    }
}
