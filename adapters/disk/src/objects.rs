//! Objects: reading, committing, copying, deleting and listing them.

use std::io;
use std::path::{Path, PathBuf};

use chat_core::domain::Timestamp;
use chat_core::domain::error::PortError;
use chat_core::domain::media::{BlobKey, LocalFile};
use chat_core::ports::{CopyOutcome, ListedBlob};
use chrono::Utc;
use tokio::fs::File;
use tokio::io::AsyncReadExt;
use uuid::Uuid;

use crate::blob_file::{BlobWriter, WriteError, WrittenBlob};
use crate::layout::relative_path;
use crate::meta::{self, ObjectMeta, is_absent};
use crate::store::{DiskBlobStore, internal};

/// How often a read retries when the object was replaced between reading its metadata and
/// opening its blob (the old blob is removed after the replacement).
const REPLACED_RETRIES: usize = 3;

impl DiskBlobStore {
    /// The object's metadata, `None` if there is none.
    pub(crate) async fn object(&self, key: &BlobKey) -> Result<Option<ObjectMeta>, PortError> {
        let path = self.layout.object(key).map_err(internal)?;
        meta::read(&path).await.map_err(internal)
    }

    /// The object's metadata and its open blob, `None` if there is none.
    pub(crate) async fn open_object(&self, key: &BlobKey) -> Result<Option<(ObjectMeta, File)>, PortError> {
        for _ in 0..REPLACED_RETRIES {
            let Some(object) = self.object(key).await? else { return Ok(None) };
            match File::open(self.layout.blob(object.blob)).await {
                Ok(file) => return Ok(Some((object, file))),
                // Replaced or deleted since the metadata was read: read it again.
                Err(error) if is_absent(&error) => continue,
                Err(error) => return Err(internal(error)),
            }
        }
        Err(PortError::Unavailable(format!("{key} is being rewritten too often to read")))
    }

    pub(crate) async fn read_prefix_of(&self, key: &BlobKey, len: usize) -> Result<Option<Vec<u8>>, PortError> {
        let Some((object, file)) = self.open_object(key).await? else { return Ok(None) };
        let mut bytes = Vec::with_capacity(len.min(usize::try_from(object.size).unwrap_or(usize::MAX)));
        file.take(len as u64).read_to_end(&mut bytes).await.map_err(internal)?;
        Ok(Some(bytes))
    }

    /// Copies the object into a local file (streamed); `false` if there is none.
    pub(crate) async fn download_object(&self, key: &BlobKey, to: &LocalFile) -> Result<bool, PortError> {
        let Some((_, mut file)) = self.open_object(key).await? else { return Ok(false) };
        let mut out = File::create(to.path()).await.map_err(internal)?;
        tokio::io::copy(&mut file, &mut out).await.map_err(internal)?;
        out.sync_all().await.map_err(internal)?;
        Ok(true)
    }

    /// Stores a local file as `key` (streamed through a new blob, hashed like an upload).
    pub(crate) async fn upload_file(
        &self,
        from: &LocalFile,
        key: &BlobKey,
        content_type: &str,
    ) -> Result<ObjectMeta, PortError> {
        let mut file = File::open(from.path()).await.map_err(internal)?;
        let mut writer = BlobWriter::create(&self.layout, u64::MAX).await.map_err(internal)?;
        let mut chunk = vec![0u8; 256 * 1024];
        loop {
            let read = file.read(&mut chunk).await.map_err(internal)?;
            if read == 0 {
                break;
            }
            writer.write(&chunk[..read]).await.map_err(|error| match error {
                WriteError::TooLarge => PortError::Internal("a local file passed u64::MAX bytes".into()),
                WriteError::Io(error) => internal(error),
            })?;
        }
        let written = writer.finish(&self.layout).await.map_err(internal)?;
        self.commit_written(key, written, content_type.to_owned()).await
    }

    /// Makes `written` the bytes of `key`, replacing (and freeing) what was there.
    pub(crate) async fn commit_written(
        &self,
        key: &BlobKey,
        written: WrittenBlob,
        content_type: String,
    ) -> Result<ObjectMeta, PortError> {
        let object = ObjectMeta {
            blob: written.id,
            size: written.size,
            etag: written.etag,
            content_type,
            written_at: Utc::now(),
        };
        self.commit_object(key, object).await
    }

    /// Points `key` at `object`'s blob. On failure the blob is removed: nothing that no
    /// metadata names is left behind.
    pub(crate) async fn commit_object(&self, key: &BlobKey, object: ObjectMeta) -> Result<ObjectMeta, PortError> {
        let blob = self.layout.blob(object.blob);
        let replaced = {
            let _commit = self.commits.lock().await;
            self.replace_metadata(key, &object).await
        };
        match replaced {
            Ok(old) => {
                if let Some(old) = old.filter(|old| old.blob != object.blob) {
                    meta::remove_quietly(&self.layout.blob(old.blob)).await;
                }
                Ok(object)
            }
            Err(error) => {
                meta::remove_quietly(&blob).await;
                Err(internal(error))
            }
        }
    }

    /// Writes `key`'s metadata, returning what it replaced (unreadable metadata counts as
    /// none: its blob is then left, not guessed at). Callers hold `commits`.
    async fn replace_metadata(&self, key: &BlobKey, object: &ObjectMeta) -> io::Result<Option<ObjectMeta>> {
        let path = self.layout.object(key)?;
        let old = meta::read::<ObjectMeta>(&path).await.unwrap_or_default();
        meta::write(&self.layout, &path, object).await?;
        Ok(old)
    }

    pub(crate) async fn copy_object(&self, from: &BlobKey, to: &BlobKey, etag: &str) -> Result<CopyOutcome, PortError> {
        self.layout.object(to).map_err(internal)?;
        let Some(source) = self.object(from).await? else { return Ok(CopyOutcome::SourceMissing) };
        if unquoted(&source.etag) != unquoted(etag) {
            return Ok(CopyOutcome::SourceChanged);
        }
        let id = Uuid::new_v4();
        match self.duplicate_blob(source.blob, id).await {
            Ok(()) => {}
            Err(error) if is_absent(&error) => {
                // Its blob went between the check and the copy: rewritten or deleted since.
                return Ok(match self.object(from).await? {
                    Some(_) => CopyOutcome::SourceChanged,
                    None => CopyOutcome::SourceMissing,
                });
            }
            Err(error) => return Err(internal(error)),
        }
        let copy = ObjectMeta { blob: id, written_at: Utc::now(), ..source };
        let copy = self.commit_object(to, copy).await?;
        Ok(CopyOutcome::Copied(copy.info()))
    }

    /// Blob `to` with the bytes of blob `from`: a hard link (blobs never change in place, so
    /// sharing the bytes is safe and instant), or a copy where links are not possible.
    async fn duplicate_blob(&self, from: Uuid, to: Uuid) -> io::Result<()> {
        let (source, target) = (self.layout.blob(from), self.layout.blob(to));
        match tokio::fs::hard_link(&source, &target).await {
            Err(error) if !is_absent(&error) => {
                let temp = self.layout.temp_path();
                let copied = match tokio::fs::copy(&source, &temp).await {
                    Ok(_) => tokio::fs::rename(&temp, &target).await,
                    Err(error) => Err(error),
                };
                if copied.is_err() {
                    meta::remove_quietly(&temp).await;
                }
                copied
            }
            linked => linked,
        }
    }

    pub(crate) async fn delete_object(&self, key: &BlobKey) -> Result<(), PortError> {
        let path = self.layout.object(key).map_err(internal)?;
        let old = {
            let _commit = self.commits.lock().await;
            let old = meta::read::<ObjectMeta>(&path).await.unwrap_or_default();
            meta::remove(&path).await.map_err(internal)?;
            // Under the lock: a commit creating a file in one of these directories holds it too.
            remove_empty_parents(&path, &self.layout.objects()).await;
            old
        };
        if let Some(old) = old {
            meta::remove_quietly(&self.layout.blob(old.blob)).await;
        }
        Ok(())
    }

    pub(crate) async fn list_objects(
        &self,
        prefix: &str,
        before: Timestamp,
        limit: usize,
    ) -> Result<Vec<ListedBlob>, PortError> {
        let objects = self.layout.objects();
        let directory = match prefix.rfind('/') {
            Some(end) => objects.join(relative_path(&prefix[..end]).map_err(internal)?),
            None => objects.clone(),
        };
        let prefix = prefix.to_owned();
        let mut keys = tokio::task::spawn_blocking(move || {
            let mut keys = Vec::new();
            walk(&objects, &directory, &mut keys).map(|()| keys)
        })
        .await
        .map_err(|error| PortError::Internal(format!("blob listing: {error}")))?
        .map_err(internal)?;
        keys.retain(|key| key.starts_with(&prefix));
        keys.sort();

        let mut listed = Vec::new();
        for key in keys {
            if listed.len() >= limit {
                break;
            }
            let key = BlobKey::from_stored(key);
            if let Some(object) = self.object(&key).await?
                && object.written_at < before
            {
                listed.push(ListedBlob { key, info: object.info() });
            }
        }
        Ok(listed)
    }
}

/// The keys of the metadata files under `directory` (below `objects`), depth first.
fn walk(objects: &Path, directory: &Path, keys: &mut Vec<String>) -> io::Result<()> {
    let entries = match std::fs::read_dir(directory) {
        Ok(entries) => entries,
        Err(error) if is_absent(&error) => return Ok(()),
        Err(error) => return Err(error),
    };
    for entry in entries {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            walk(objects, &path, keys)?;
        } else if let Some(key) = key_of(objects, &path) {
            keys.push(key);
        }
    }
    Ok(())
}

/// The key a metadata file stands for; `None` for a name that is not UTF-8 (no key makes one).
fn key_of(objects: &Path, path: &Path) -> Option<String> {
    let relative = path.strip_prefix(objects).ok()?;
    let components: Option<Vec<&str>> = relative.components().map(|part| part.as_os_str().to_str()).collect();
    Some(components?.join("/"))
}

/// Removes the now empty directories from `path`'s parent up to (not including) `root`.
async fn remove_empty_parents(path: &Path, root: &Path) {
    let mut directory: Option<PathBuf> = path.parent().map(Path::to_path_buf);
    while let Some(current) = directory {
        if current == root || !current.starts_with(root) {
            break;
        }
        // Fails on a directory that is not empty, which is where to stop.
        if tokio::fs::remove_dir(&current).await.is_err() {
            break;
        }
        directory = current.parent().map(Path::to_path_buf);
    }
}

/// An ETag without its quotes: S3 quotes them, callers may not.
pub(crate) fn unquoted(etag: &str) -> &str {
    etag.trim_matches('"')
}
