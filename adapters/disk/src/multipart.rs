//! Multipart uploads: a directory per upload with a metadata file per received part, each
//! naming its blob; completion joins the blobs into a new one, streaming.

use std::io;
use std::path::Path;

use chat_core::domain::error::PortError;
use chat_core::domain::media::{BlobKey, MultipartId};
use chat_core::ports::{CompleteOutcome, PartEtag, StoredPart};
use chrono::Utc;
use tokio::fs::File;
use tokio::io::AsyncReadExt;
use uuid::Uuid;

use crate::blob_file::{BlobWriter, WriteError, WrittenBlob};
use crate::layout::{part_file, upload_file};
use crate::meta::{self, ObjectMeta, PartMeta, UploadMeta, is_absent};
use crate::objects::unquoted;
use crate::store::{DiskBlobStore, internal};

/// The smallest part S3 accepts for any part but the last; the same here, so that a plan that
/// works in embedded mode works on S3.
pub(crate) const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;

/// How much of a part is read at a time while joining.
const JOIN_CHUNK: usize = 256 * 1024;

/// Why a part could not be stored.
#[derive(Debug)]
pub(crate) enum PartRefusal {
    /// No such upload for this key (completed, aborted, never made).
    NoSuchUpload,
    /// The disk failed.
    Failed(PortError),
}

impl DiskBlobStore {
    pub(crate) async fn create_upload(&self, key: &BlobKey, content_type: &str) -> Result<MultipartId, PortError> {
        let id = MultipartId::from_stored(Uuid::new_v4().to_string());
        let directory = self.layout.upload(&id).ok_or_else(|| PortError::Internal("upload id".into()))?;
        tokio::fs::create_dir_all(&directory).await.map_err(internal)?;
        let upload = UploadMeta { key: key.as_str().to_owned(), content_type: content_type.to_owned() };
        meta::write(&self.layout, &upload_file(&directory), &upload).await.map_err(internal)?;
        Ok(id)
    }

    /// The upload's directory and metadata, if it is an upload to `key` in progress.
    async fn upload(
        &self,
        key: &BlobKey,
        upload: &MultipartId,
    ) -> io::Result<Option<(std::path::PathBuf, UploadMeta)>> {
        let Some(directory) = self.layout.upload(upload) else { return Ok(None) };
        let found = meta::read::<UploadMeta>(&upload_file(&directory)).await?;
        Ok(found.filter(|found| found.key == key.as_str()).map(|found| (directory, found)))
    }

    /// Whether `upload` is an upload to `key` in progress.
    pub(crate) async fn upload_in_progress(&self, key: &BlobKey, upload: &MultipartId) -> Result<bool, PortError> {
        Ok(self.upload(key, upload).await.map_err(internal)?.is_some())
    }

    pub(crate) async fn parts_of(
        &self,
        key: &BlobKey,
        upload: &MultipartId,
    ) -> Result<Option<Vec<StoredPart>>, PortError> {
        let Some((directory, _)) = self.upload(key, upload).await.map_err(internal)? else { return Ok(None) };
        let parts = match read_parts(&directory).await {
            Ok(parts) => parts,
            // Completed or aborted while listing.
            Err(error) if is_absent(&error) => return Ok(None),
            Err(error) => return Err(internal(error)),
        };
        let stored = parts.into_iter().map(|(number, part)| StoredPart { number, etag: part.etag, size: part.size });
        Ok(Some(stored.collect()))
    }

    /// Makes `written` part `number` of the upload, replacing (and freeing) an earlier one.
    pub(crate) async fn commit_part(
        &self,
        key: &BlobKey,
        upload: &MultipartId,
        number: u32,
        written: WrittenBlob,
    ) -> Result<PartMeta, PartRefusal> {
        let part = PartMeta { blob: written.id, size: written.size, etag: written.etag };
        let committed = {
            let _commit = self.commits.lock().await;
            self.replace_part(key, upload, number, &part).await
        };
        match committed {
            Ok(Some(old)) => {
                if let Some(old) = old {
                    meta::remove_quietly(&self.layout.blob(old.blob)).await;
                }
                Ok(part)
            }
            refused => {
                meta::remove_quietly(&self.layout.blob(part.blob)).await;
                match refused {
                    Err(error) => Err(PartRefusal::Failed(internal(error))),
                    _ => Err(PartRefusal::NoSuchUpload),
                }
            }
        }
    }

    /// Writes the part's metadata if the upload is in progress: `None` if it is not, else the
    /// part it replaced. Callers hold `commits`.
    async fn replace_part(
        &self,
        key: &BlobKey,
        upload: &MultipartId,
        number: u32,
        part: &PartMeta,
    ) -> io::Result<Option<Option<PartMeta>>> {
        let Some((directory, _)) = self.upload(key, upload).await? else { return Ok(None) };
        let path = part_file(&directory, number);
        let old = meta::read::<PartMeta>(&path).await.unwrap_or_default();
        meta::write(&self.layout, &path, part).await?;
        Ok(Some(old))
    }

    pub(crate) async fn complete_upload(
        &self,
        key: &BlobKey,
        upload: &MultipartId,
        parts: &[PartEtag],
    ) -> Result<CompleteOutcome, PortError> {
        let refused = |why: String| Ok(CompleteOutcome::Refused(why));
        let Some((directory, found)) = self.upload(key, upload).await.map_err(internal)? else {
            return refused("there is no such upload in progress".into());
        };
        if parts.is_empty() {
            return refused("the part list is empty".into());
        }
        if parts.windows(2).any(|pair| pair[0].number >= pair[1].number) {
            return refused("the parts must be listed in ascending order of number, each once".into());
        }
        let mut chosen = Vec::with_capacity(parts.len());
        for (index, given) in parts.iter().enumerate() {
            let path = part_file(&directory, given.number);
            let Some(part) = meta::read::<PartMeta>(&path).await.map_err(internal)? else {
                return refused(format!("part {} was not uploaded", given.number));
            };
            if unquoted(&part.etag) != unquoted(&given.etag) {
                return refused(format!("part {} has another ETag than {}", given.number, given.etag));
            }
            if index + 1 < parts.len() && part.size < MIN_PART_SIZE {
                return refused(format!("part {} is smaller than 5 MiB and not the last", given.number));
            }
            chosen.push(part);
        }
        let Some(joined) = self.join(&chosen).await? else {
            return refused("the upload was aborted while completing".into());
        };
        let object = ObjectMeta {
            blob: joined.id,
            size: joined.size,
            etag: joined.etag,
            content_type: found.content_type,
            written_at: Utc::now(),
        };
        let finished = {
            let _commit = self.commits.lock().await;
            self.finish_upload(key, upload, &object).await
        };
        match finished {
            Ok(Some((old, parts))) => {
                let blobs = old.map(|old| old.blob).into_iter().chain(parts.into_iter().map(|part| part.blob));
                for blob in blobs.filter(|blob| *blob != object.blob) {
                    meta::remove_quietly(&self.layout.blob(blob)).await;
                }
                Ok(CompleteOutcome::Completed)
            }
            unfinished => {
                meta::remove_quietly(&self.layout.blob(object.blob)).await;
                match unfinished {
                    Err(error) => Err(internal(error)),
                    _ => refused("the upload was completed or aborted meanwhile".into()),
                }
            }
        }
    }

    /// The parts' bytes in order as one new blob; `None` if a part's blob went (aborted).
    async fn join(&self, parts: &[PartMeta]) -> Result<Option<WrittenBlob>, PortError> {
        let total = parts.iter().map(|part| part.size).sum();
        let mut writer = BlobWriter::create(&self.layout, total).await.map_err(internal)?;
        let mut buffer = vec![0; JOIN_CHUNK];
        for part in parts {
            let mut file = match File::open(self.layout.blob(part.blob)).await {
                Ok(file) => file,
                Err(error) if is_absent(&error) => return Ok(None),
                Err(error) => return Err(internal(error)),
            };
            loop {
                let read = file.read(&mut buffer).await.map_err(internal)?;
                if read == 0 {
                    break;
                }
                writer.write(&buffer[..read]).await.map_err(|error| match error {
                    WriteError::TooLarge => PortError::Internal("a part grew while it was joined".into()),
                    WriteError::Io(error) => internal(error),
                })?;
            }
        }
        writer.finish(&self.layout).await.map(Some).map_err(internal)
    }

    /// Points `key` at the joined object and forgets the upload, if it is still in progress:
    /// the object it replaced and every part it held. Callers hold `commits`.
    async fn finish_upload(
        &self,
        key: &BlobKey,
        upload: &MultipartId,
        object: &ObjectMeta,
    ) -> io::Result<Option<(Option<ObjectMeta>, Vec<PartMeta>)>> {
        let Some((directory, _)) = self.upload(key, upload).await? else { return Ok(None) };
        let parts = read_parts(&directory).await?;
        let object_path = self.layout.object(key)?;
        let old = meta::read::<ObjectMeta>(&object_path).await.unwrap_or_default();
        meta::write(&self.layout, &object_path, object).await?;
        tokio::fs::remove_dir_all(&directory).await?;
        Ok(Some((old, parts.into_iter().map(|(_, part)| part).collect())))
    }

    pub(crate) async fn abort_upload(&self, key: &BlobKey, upload: &MultipartId) -> Result<(), PortError> {
        let parts = {
            let _commit = self.commits.lock().await;
            let Some((directory, _)) = self.upload(key, upload).await.map_err(internal)? else { return Ok(()) };
            let parts = read_parts(&directory).await.map_err(internal)?;
            tokio::fs::remove_dir_all(&directory).await.map_err(internal)?;
            parts
        };
        for (_, part) in parts {
            meta::remove_quietly(&self.layout.blob(part.blob)).await;
        }
        Ok(())
    }
}

/// The parts in an upload's directory, by number.
async fn read_parts(directory: &Path) -> io::Result<Vec<(u32, PartMeta)>> {
    let mut entries = tokio::fs::read_dir(directory).await?;
    let mut parts = Vec::new();
    while let Some(entry) = entries.next_entry().await? {
        let name = entry.file_name();
        let number =
            name.to_str().and_then(|name| name.strip_prefix("part-")?.strip_suffix(".json")?.parse::<u32>().ok());
        let Some(number) = number else { continue };
        if let Some(part) = meta::read::<PartMeta>(&entry.path()).await? {
            parts.push((number, part));
        }
    }
    parts.sort_by_key(|(number, _)| *number);
    Ok(parts)
}
