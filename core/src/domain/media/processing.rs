//! What processing an image produces and the rules it follows: local files the worker owns,
//! the limits read from a header before anything is decoded, the variants and their sizes,
//! and why an image is refused.

use std::path::{Path, PathBuf};

use super::record::Variant;

/// A file on the worker's local disk (a downloaded original, a produced variant, or the
/// directory they go in). Files cross ports as paths, never as whole byte buffers.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LocalFile(PathBuf);

impl LocalFile {
    /// A path the caller owns.
    pub fn new(path: impl Into<PathBuf>) -> LocalFile {
        LocalFile(path.into())
    }

    /// The path.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// A file named `name` inside this directory.
    pub fn join(&self, name: &str) -> LocalFile {
        LocalFile(self.0.join(name))
    }
}

/// The variant that is the whole image: upright and without metadata.
pub const FULL_VARIANT: &str = "full";

/// The thumbnails made of every image: their names and the length of their long side. A
/// smaller image is never enlarged: its thumbnails keep its own size.
pub const IMAGE_THUMBNAILS: [(&str, u32); 2] = [("thumb_1280", 1280), ("thumb_320", 320)];

/// Limits an image must fit, judged from its header before any pixel is decoded, so that a
/// small file declaring a huge image (a decompression bomb) costs nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImageLimits {
    /// The widest image accepted, in pixels.
    pub max_width: u32,
    /// The tallest image accepted, in pixels.
    pub max_height: u32,
    /// The most pixels accepted (width × height).
    pub max_pixels: u64,
    /// The most memory a decoder may allocate, in bytes.
    pub max_alloc_bytes: u64,
}

impl Default for ImageLimits {
    /// 12,000 pixels a side, 50 megapixels (a 48 MP phone photo fits), 512 MiB of decoder
    /// memory.
    fn default() -> ImageLimits {
        ImageLimits { max_width: 12_000, max_height: 12_000, max_pixels: 50_000_000, max_alloc_bytes: 512 * super::MIB }
    }
}

impl ImageLimits {
    /// Whether an image of this size fits the side and pixel limits.
    pub fn admits(&self, width: u32, height: u32) -> bool {
        width > 0
            && height > 0
            && width <= self.max_width
            && height <= self.max_height
            && u64::from(width) * u64::from(height) <= self.max_pixels
    }
}

/// The size of an image scaled so that its long side is at most `long_side`, keeping its
/// proportions (rounded, at least one pixel) and never enlarging it.
pub fn fit_long_side(width: u32, height: u32, long_side: u32) -> (u32, u32) {
    let long = width.max(height);
    if long <= long_side || long == 0 {
        return (width, height);
    }
    let scale = |side: u32| {
        let scaled = (u64::from(side) * u64::from(long_side) + u64::from(long) / 2) / u64::from(long);
        u32::try_from(scaled).unwrap_or(long_side).max(1)
    };
    (scale(width), scale(height))
}

/// A file processing produced, ready to be stored as a variant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProducedVariant {
    /// `full`, `thumb_1280` or `thumb_320`.
    pub name: String,
    /// Its content type (`image/jpeg` or `image/png`).
    pub content_type: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its width in pixels.
    pub width: u32,
    /// Its height in pixels.
    pub height: u32,
    /// Where it was written.
    pub file: LocalFile,
}

impl ProducedVariant {
    /// What the media record says about it.
    pub fn variant(&self) -> Variant {
        Variant {
            name: self.name.clone(),
            content_type: self.content_type.clone(),
            size: self.size,
            width: Some(self.width),
            height: Some(self.height),
        }
    }
}

/// A processed image: its upright size and the files made of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessedImage {
    /// The upright width in pixels (after EXIF orientation).
    pub width: u32,
    /// The upright height in pixels.
    pub height: u32,
    /// `full`, then the thumbnails, largest first.
    pub variants: Vec<ProducedVariant>,
}

/// Why an image cannot be processed; the media is marked failed with the code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageRefusal {
    /// Its header declares more pixels than the limits allow.
    TooLargeDimensions {
        /// The declared width.
        width: u32,
        /// The declared height.
        height: u32,
    },
    /// The file is truncated or not a valid image of its format.
    Corrupt,
    /// A format this server does not decode.
    UnsupportedImage,
}

impl ImageRefusal {
    /// The stable code: `too_large_dimensions`, `corrupt` or `unsupported_image`.
    pub fn code(&self) -> &'static str {
        match self {
            ImageRefusal::TooLargeDimensions { .. } => "too_large_dimensions",
            ImageRefusal::Corrupt => "corrupt",
            ImageRefusal::UnsupportedImage => "unsupported_image",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_judged_on_sides_and_pixels() {
        let limits = ImageLimits::default();
        assert!(limits.admits(8064, 6048), "a 48 MP phone photo");
        assert!(!limits.admits(60_000, 60_000));
        assert!(!limits.admits(12_001, 10));
        assert!(!limits.admits(10_000, 10_000), "100 MP is over the pixel limit");
        assert!(!limits.admits(0, 10));
    }

    #[test]
    fn thumbnails_fit_the_long_side_and_never_grow() {
        assert_eq!(fit_long_side(4000, 3000, 320), (320, 240));
        assert_eq!(fit_long_side(3000, 4000, 1280), (960, 1280));
        assert_eq!(fit_long_side(100, 80, 320), (100, 80));
        assert_eq!(fit_long_side(10_000, 3, 320), (320, 1));
        assert_eq!(fit_long_side(0, 0, 320), (0, 0));
    }

    #[test]
    fn refusals_have_stable_codes() {
        assert_eq!(ImageRefusal::TooLargeDimensions { width: 1, height: 2 }.code(), "too_large_dimensions");
        assert_eq!(ImageRefusal::Corrupt.code(), "corrupt");
        assert_eq!(ImageRefusal::UnsupportedImage.code(), "unsupported_image");
    }
}
