//! Media: upload URLs, completion checks, authorized downloads, storage usage, cleanup, and
//! the attachments messages carry.
//!
//! The bytes never pass through here: clients upload straight to the blob store with
//! presigned URLs, and downloads are redirects to signed URLs. The use cases decide who may
//! do what, check what arrived, and keep the records.

mod attachments;
mod cleanup;
mod download;
#[cfg(test)]
mod tests;
mod upload;
pub mod worker;
pub mod worker_lease;
#[cfg(test)]
mod worker_lease_tests;
#[cfg(test)]
mod worker_tests;

pub(crate) use attachments::{AvatarRefusal, attach_to_message, check_avatar, checked_media_for_message};
pub use attachments::{with_attachments, with_attachments_one};
pub use cleanup::{CLEANUP_TASK, CleanupReport, cleanup, cleanup_if_claimed};
pub use download::{ContentRedirect, StorageView, content, media, storage};
pub use upload::{
    CompleteUpload, PartUpload, RequestUpload, UploadGrant, UploadInstructions, UploadedPart, complete, request_upload,
    resume_upload,
};
