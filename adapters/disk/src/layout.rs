//! Where everything lives under the store's root, and the mapping of keys to paths.
//!
//! ```text
//! {root}/objects/{key}              the object's metadata (JSON): which blob, size, ETag, type, time
//! {root}/blobs/{uuid}               bytes, written once under a fresh name and never changed
//! {root}/uploads/{upload id}/upload.json      a multipart upload: its key and content type
//! {root}/uploads/{upload id}/part-{n}.json    a part's metadata (which blob, size, ETag)
//! {root}/tmp/                       bodies being received, metadata being written
//! ```
//!
//! Renaming a metadata file into place is the one step that makes a write visible, so a write
//! is either whole or absent; the blob it names is complete before that.

use std::io;
use std::path::{Path, PathBuf};

use chat_core::domain::media::{BlobKey, MultipartId};
use uuid::Uuid;

/// The directories of one store.
#[derive(Clone, Debug)]
pub(crate) struct Layout {
    root: PathBuf,
}

impl Layout {
    /// The layout under `root`, creating its directories.
    pub(crate) fn create(root: PathBuf) -> io::Result<Layout> {
        let layout = Layout { root };
        for directory in [layout.objects(), layout.blobs(), layout.uploads(), layout.tmp()] {
            std::fs::create_dir_all(directory)?;
        }
        Ok(layout)
    }

    /// Empties `tmp/`: what a crash left there is referenced by nothing. Only for the one
    /// process that serves the directory, before it serves: another's writes in progress
    /// live there too.
    pub(crate) fn clear_tmp(&self) -> io::Result<()> {
        match std::fs::remove_dir_all(self.tmp()) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => return Err(error),
        }
        std::fs::create_dir_all(self.tmp())
    }

    /// Object metadata, one file per key.
    pub(crate) fn objects(&self) -> PathBuf {
        self.root.join("objects")
    }

    /// Where received and joined bytes live.
    pub(crate) fn blobs(&self) -> PathBuf {
        self.root.join("blobs")
    }

    /// Multipart uploads in progress.
    pub(crate) fn uploads(&self) -> PathBuf {
        self.root.join("uploads")
    }

    /// Writes in progress.
    pub(crate) fn tmp(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// A fresh name in `tmp/`.
    pub(crate) fn temp_path(&self) -> PathBuf {
        self.tmp().join(Uuid::new_v4().to_string())
    }

    /// The bytes of blob `id`.
    pub(crate) fn blob(&self, id: Uuid) -> PathBuf {
        self.blobs().join(id.to_string())
    }

    /// The metadata file of `key`.
    pub(crate) fn object(&self, key: &BlobKey) -> io::Result<PathBuf> {
        Ok(self.objects().join(relative_path(key.as_str())?))
    }

    /// The directory of a multipart upload; `None` for an id this store never makes.
    pub(crate) fn upload(&self, upload: &MultipartId) -> Option<PathBuf> {
        let id = Uuid::parse_str(upload.as_str()).ok()?;
        Some(self.uploads().join(id.to_string()))
    }
}

/// The metadata file of a multipart upload, in its directory.
pub(crate) fn upload_file(directory: &Path) -> PathBuf {
    directory.join("upload.json")
}

/// The metadata file of part `number`, in its upload's directory.
pub(crate) fn part_file(directory: &Path, number: u32) -> PathBuf {
    directory.join(format!("part-{number:05}.json"))
}

/// `key` (or a prefix's directory part) as a relative path: `/`-separated components, none
/// empty, `.` or `..`, none holding a backslash or NUL. Keys come from the server alone, but a
/// key that could climb out of the store's directory is refused all the same.
pub(crate) fn relative_path(key: &str) -> io::Result<PathBuf> {
    let mut path = PathBuf::new();
    for component in key.split('/') {
        let unsafe_component =
            component.is_empty() || component == "." || component == ".." || component.contains(['\\', '\0']);
        if unsafe_component {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("unsafe blob key {key:?}")));
        }
        path.push(component);
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_map_below_the_root_and_climbing_keys_are_refused() {
        assert_eq!(relative_path("incoming/u/m").unwrap(), PathBuf::from("incoming").join("u").join("m"));
        for key in ["", "/etc/passwd", "a/../../b", "a//b", "./a", "a/..", "a\\..\\b", "a/b/", "a\0b"] {
            assert!(relative_path(key).is_err(), "{key:?} was accepted");
        }
    }
}
