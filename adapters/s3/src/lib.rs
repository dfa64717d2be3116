//! S3 blob store (work in progress).
