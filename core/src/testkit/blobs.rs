//! The blob-store contract: every `BlobStore` (local disk, S3) behaves so.
