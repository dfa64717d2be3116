//! What the S3 store needs to know, as plain values: the binary reads them from its
//! environment or command line and hands them over; [`S3BlobStore::new`](crate::S3BlobStore::new)
//! checks them.

use std::path::PathBuf;
use std::time::Duration;

/// Where the bucket is and how to sign for it.
#[derive(Clone)]
pub struct S3Config {
    /// The S3 endpoint (`S3_ENDPOINT`), e.g. `http://127.0.0.1:9000` for a local server;
    /// `None` for AWS itself, `https://s3.{region}.amazonaws.com`.
    pub endpoint: Option<String>,
    /// The region the requests are signed for, e.g. `eu-west-1` (any value a local server
    /// accepts, usually `us-east-1`).
    pub region: String,
    /// The bucket holding every object.
    pub bucket: String,
    /// The access key id.
    pub access_key: String,
    /// The secret access key.
    pub secret_key: String,
    /// Path-style URLs (`{endpoint}/{bucket}/{key}`), which local servers need; otherwise
    /// virtual-hosted (`{bucket}.{host}/{key}`), which AWS prefers.
    pub path_style: bool,
    /// Downloads through a CloudFront distribution with signed URLs, when configured.
    pub cdn: Option<CdnConfig>,
    /// How long a request the server makes itself may take.
    pub timeouts: Timeouts,
}

impl std::fmt::Debug for S3Config {
    // Hand-written so that the secret key never reaches a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("bucket", &self.bucket)
            .field("access_key", &self.access_key)
            .field("secret_key", &"<redacted>")
            .field("path_style", &self.path_style)
            .field("cdn", &self.cdn)
            .field("timeouts", &self.timeouts)
            .finish()
    }
}

/// A CloudFront distribution in front of the bucket, signing download URLs with a key pair
/// of a trusted key group.
#[derive(Clone, Debug)]
pub struct CdnConfig {
    /// The distribution's domain (`CDN_DOMAIN`), e.g. `d111111abcdef8.cloudfront.net`.
    pub domain: String,
    /// The id of the public key CloudFront knows (`CDN_KEY_PAIR_ID`).
    pub key_pair_id: String,
    /// The RSA private key of that pair, PEM (PKCS#1 or PKCS#8) (`CDN_PRIVATE_KEY_FILE`).
    pub private_key_file: PathBuf,
}

/// Limits on the requests the server makes to S3 itself (presigned URLs are used by clients
/// and are not bound by them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// For opening a connection.
    pub connect: Duration,
    /// For a whole request, answer included.
    pub request: Duration,
}

impl Default for Timeouts {
    /// 5 s to connect, 30 s in all: a copy of a large object inside S3 can take seconds.
    fn default() -> Self {
        Timeouts { connect: Duration::from_secs(5), request: Duration::from_secs(30) }
    }
}

/// Why a configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The endpoint is not an http(s) URL with a host.
    #[error("S3_ENDPOINT {0:?} is not an http(s) URL with a host")]
    Endpoint(String),
    /// The bucket name cannot be used in a URL.
    #[error("S3 bucket {0:?} cannot be used in a URL")]
    Bucket(String),
    /// A required value is empty.
    #[error("{0} must not be empty")]
    Empty(&'static str),
    /// The CloudFront private key cannot be read.
    #[error("CDN_PRIVATE_KEY_FILE {path}: {reason}")]
    CdnKey {
        /// The file named.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The HTTP client cannot be built (no TLS backend).
    #[error("HTTP client: {0}")]
    Client(String),
}
