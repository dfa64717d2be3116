//! Image processing: an uploaded image in, an upright, metadata-free full image and its
//! thumbnails out, as local files.

use async_trait::async_trait;

use crate::domain::error::PortError;
use crate::domain::media::{ImageRefusal, LocalFile, ProcessedImage};

/// Decodes an image and writes its variants (`full`, `thumb_1280`, `thumb_320`).
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait ImageProcessor: Send + Sync {
    /// Processes the image at `input` (of the declared `content_type`) and writes its
    /// variants into the directory `out_dir` under fixed names, so a retried job overwrites
    /// rather than adds. Limits are judged from the header before decoding; the EXIF
    /// orientation is applied and no metadata (EXIF, GPS, XMP, IPTC) is written. A refusal is
    /// the image's fault and final; a `PortError` (unreadable input, full disk) may be retried.
    async fn process(
        &self,
        input: &LocalFile,
        content_type: &str,
        out_dir: &LocalFile,
    ) -> Result<Result<ProcessedImage, ImageRefusal>, PortError>;
}
