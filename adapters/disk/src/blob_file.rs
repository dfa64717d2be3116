//! Writing a new blob: bytes go to a temporary file while they are counted and hashed, and
//! the file becomes a blob only once it is whole. A writer dropped before that (a refused or
//! broken upload, a handler cancelled by a disconnect) removes its temporary file.

use std::fs::File;
use std::io::{self, Write as _};
use std::path::PathBuf;

use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::layout::Layout;

/// How many received bytes are gathered before they go to the file, in one trip to a
/// blocking thread. Each upload has one such buffer, reused: received chunks are copied into
/// it and dropped at once, so the connection reuses its read buffer rather than allocating
/// anew while chunks wait to be written (which made the allocator hold several times more).
const WRITE_BATCH: usize = 256 * 1024;

/// A blob made whole: its id, size and ETag.
#[derive(Clone, Debug)]
pub(crate) struct WrittenBlob {
    /// Its file under `blobs/`.
    pub id: Uuid,
    /// Its size in bytes.
    pub size: u64,
    /// `"{sha256 hex}"`.
    pub etag: String,
}

/// Why a write stopped.
#[derive(Debug)]
pub(crate) enum WriteError {
    /// More bytes came than the limit allows; the excess was not written.
    TooLarge,
    /// The disk failed.
    Io(io::Error),
}

impl From<io::Error> for WriteError {
    fn from(error: io::Error) -> Self {
        WriteError::Io(error)
    }
}

/// The file and the hash of what went into it, handed to a blocking thread for each batch.
struct Sink {
    file: File,
    hasher: Sha256,
}

/// A blob being written, at most `limit` bytes.
pub(crate) struct BlobWriter {
    /// `None` while a batch is being written, and after a failed one.
    sink: Option<Sink>,
    /// The batch being gathered.
    buffer: Vec<u8>,
    temp: TempFile,
    written: u64,
    limit: u64,
}

impl BlobWriter {
    /// Starts a blob of at most `limit` bytes in `tmp/`.
    pub(crate) async fn create(layout: &Layout, limit: u64) -> io::Result<BlobWriter> {
        let temp = TempFile(layout.temp_path());
        let path = temp.0.clone();
        let file = tokio::task::spawn_blocking(move || File::create(path)).await.map_err(io::Error::other)??;
        Ok(BlobWriter {
            sink: Some(Sink { file, hasher: Sha256::new() }),
            buffer: Vec::with_capacity(WRITE_BATCH),
            temp,
            written: 0,
            limit,
        })
    }

    /// Appends `bytes`, refusing (and writing none of them) if they pass the limit.
    pub(crate) async fn write(&mut self, mut bytes: &[u8]) -> Result<(), WriteError> {
        let after = self.written.saturating_add(bytes.len() as u64);
        if after > self.limit {
            return Err(WriteError::TooLarge);
        }
        self.written = after;
        while !bytes.is_empty() {
            let room = WRITE_BATCH.saturating_sub(self.buffer.len());
            let (now, rest) = bytes.split_at(room.min(bytes.len()));
            self.buffer.extend_from_slice(now);
            bytes = rest;
            if self.buffer.len() >= WRITE_BATCH {
                self.write_buffer().await?;
            }
        }
        Ok(())
    }

    /// How many bytes were accepted so far.
    pub(crate) fn written(&self) -> u64 {
        self.written
    }

    /// Writes and hashes the gathered batch on a blocking thread (hashing a large body is
    /// CPU work that would otherwise hold up the async workers), then takes the buffer back.
    async fn write_buffer(&mut self) -> io::Result<()> {
        let mut sink = self.sink.take().ok_or_else(|| io::Error::other("an earlier write to this blob failed"))?;
        let batch = std::mem::take(&mut self.buffer);
        let (sink, mut batch) = tokio::task::spawn_blocking(move || {
            sink.file.write_all(&batch)?;
            sink.hasher.update(&batch);
            Ok::<_, io::Error>((sink, batch))
        })
        .await
        .map_err(io::Error::other)??;
        batch.clear();
        self.buffer = batch;
        self.sink = Some(sink);
        Ok(())
    }

    /// Writes what is left, makes it durable and moves the file into `blobs/` under a fresh id.
    pub(crate) async fn finish(mut self, layout: &Layout) -> io::Result<WrittenBlob> {
        self.write_buffer().await?;
        let sink = self.sink.take().ok_or_else(|| io::Error::other("an earlier write to this blob failed"))?;
        // Durable before anything names it: a crash must not leave metadata over a hole.
        let hasher = tokio::task::spawn_blocking(move || sink.file.sync_all().map(|()| sink.hasher))
            .await
            .map_err(io::Error::other)??;
        let id = Uuid::new_v4();
        tokio::fs::rename(&self.temp.0, layout.blob(id)).await?;
        self.temp.disarm();
        let etag = format!("\"{:x}\"", hasher.finalize());
        Ok(WrittenBlob { id, size: self.written, etag })
    }
}

/// A temporary file that is removed when dropped, unless it was moved into place.
struct TempFile(PathBuf);

impl TempFile {
    fn disarm(&mut self) {
        self.0 = PathBuf::new();
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if self.0.as_os_str().is_empty() {
            return;
        }
        // Synchronous on purpose: a drop cannot await, and this must happen even when the
        // task that owned the writer is being cancelled.
        if let Err(error) = std::fs::remove_file(&self.0)
            && error.kind() != io::ErrorKind::NotFound
        {
            tracing::warn!(path = %self.0.display(), %error, "could not remove a temporary upload file");
        }
    }
}
