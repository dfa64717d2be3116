//! The media worker's image processing (`ImageProcessor`) with the `image` crate (and
//! zune-jpeg, the JPEG decoder it wraps, called directly), `fast_image_resize` and
//! `jpeg-encoder`: the size is read from the header and judged against the limits before any
//! pixel is decoded; the decoder's allocations are capped too; the EXIF orientation is
//! applied; every output is re-encoded from pixels, so no EXIF, GPS, XMP or IPTC block
//! survives (only the ICC colour profile is carried over); thumbnails fit 1280 and 320 px on
//! the long side and are never enlarged. JPEG, PNG, WebP and GIF (first frame) are decoded;
//! HEIC/HEIF is decoded by Debian's `heif-convert` (libheif 1.15 is older than the 1.17 the
//! maintained `libheif-rs` binding needs) and its output goes through the same pipeline.

use async_trait::async_trait;
use chat_core::domain::error::PortError;
use chat_core::domain::media::{ImageLimits, ImageRefusal, LocalFile, ProcessedImage};
use chat_core::ports::ImageProcessor;

mod decode;
mod encode;
mod heif;
mod jpeg;

pub use decode::{Decoded, decode};
pub use encode::{FULL_JPEG_QUALITY, THUMB_JPEG_QUALITY, write_thumbnails, write_variants};
pub use heif::heif_tools_present;

/// The `ImageProcessor` on the `image` crate; the CPU work runs on Tokio's blocking threads.
#[derive(Clone, Debug, Default)]
pub struct ImageAdapter {
    limits: ImageLimits,
}

impl ImageAdapter {
    /// A processor that refuses images over `limits`.
    pub fn new(limits: ImageLimits) -> ImageAdapter {
        ImageAdapter { limits }
    }

    /// Processes on the calling thread (what `process` runs on a blocking thread; benchmarks
    /// and callers that manage their own threads use it directly).
    pub fn process_blocking(
        &self,
        input: &LocalFile,
        content_type: &str,
        out_dir: &LocalFile,
    ) -> Result<Result<ProcessedImage, ImageRefusal>, PortError> {
        let decoded = match decode(input, content_type, &self.limits)? {
            Ok(decoded) => decoded,
            Err(refusal) => return Ok(Err(refusal)),
        };
        write_variants(decoded, out_dir).map(Ok)
    }
}

#[async_trait]
impl ImageProcessor for ImageAdapter {
    async fn process(
        &self,
        input: &LocalFile,
        content_type: &str,
        out_dir: &LocalFile,
    ) -> Result<Result<ProcessedImage, ImageRefusal>, PortError> {
        let (processor, input, content_type, out_dir) =
            (self.clone(), input.clone(), content_type.to_owned(), out_dir.clone());
        tokio::task::spawn_blocking(move || processor.process_blocking(&input, &content_type, &out_dir))
            .await
            .map_err(|error| PortError::Internal(format!("image processing thread: {error}")))?
    }
}

/// An IO error as a port error: a missing input is a bug, anything else (a full disk) may pass.
pub(crate) fn io_error(what: &str, error: &std::io::Error) -> PortError {
    match error.kind() {
        std::io::ErrorKind::NotFound => PortError::Internal(format!("{what}: {error}")),
        _ => PortError::Unavailable(format!("{what}: {error}")),
    }
}
