//! Reading an image: the format from its bytes, the size from its header (judged before any
//! pixel is decoded), then the pixels under allocation limits, turned upright. JPEG has its
//! own module; the other formats go through `image`'s decoders here.

use std::io::{Cursor, ErrorKind};

use chat_core::domain::error::PortError;
use chat_core::domain::media::{ImageLimits, ImageRefusal, LocalFile};
use image::error::{LimitError, LimitErrorKind};
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader, Limits};

use crate::{heif, io_error, jpeg};

type Reader<'a> = ImageReader<Cursor<&'a [u8]>>;

/// A decoded image, upright, as 8-bit RGB (or RGBA when some pixel is not opaque).
#[derive(Debug)]
pub struct Decoded {
    /// The pixels.
    pub image: DynamicImage,
    /// The ICC colour profile the original carried, kept so colours stay right (it says how
    /// to read the pixels and nothing about the photographer).
    pub icc_profile: Option<Vec<u8>>,
}

/// Decodes `input`, or says why it is refused. HEIC/HEIF goes through `heif-convert` first.
/// The file is read once; every later step works on those bytes.
pub fn decode(
    input: &LocalFile,
    _content_type: &str,
    limits: &ImageLimits,
) -> Result<Result<Decoded, ImageRefusal>, PortError> {
    // The format is judged from the bytes, never from the declared type.
    let bytes = read(input)?;
    if heif::is_heif(&bytes) {
        let converted = match heif::convert(input, &bytes, limits)? {
            Ok(converted) => converted,
            Err(refusal) => return Ok(Err(refusal)),
        };
        // heif-convert has applied `irot`/`imir` and copied the EXIF orientation unchanged.
        return decode_bytes(&read(converted.file())?, limits, Orientations::Ignore);
    }
    decode_bytes(&bytes, limits, Orientations::Apply)
}

/// Whether the EXIF orientation is applied (HEIF carries its own, applied by `heif-convert`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Orientations {
    Apply,
    Ignore,
}

fn read(input: &LocalFile) -> Result<Vec<u8>, PortError> {
    std::fs::read(input.path()).map_err(|error| io_error("reading the image", &error))
}

fn decode_bytes(
    bytes: &[u8],
    limits: &ImageLimits,
    orientations: Orientations,
) -> Result<Result<Decoded, ImageRefusal>, PortError> {
    match image::guess_format(bytes) {
        Ok(ImageFormat::Jpeg) => jpeg::decode(bytes, limits, orientations),
        Ok(format @ (ImageFormat::Png | ImageFormat::Gif | ImageFormat::WebP)) => {
            decode_with_image(bytes, format, limits, orientations)
        }
        _ => Ok(Err(ImageRefusal::UnsupportedImage)),
    }
}

/// PNG, GIF and WebP through `image`'s decoders.
fn decode_with_image(
    bytes: &[u8],
    format: ImageFormat,
    limits: &ImageLimits,
    orientations: Orientations,
) -> Result<Result<Decoded, ImageRefusal>, PortError> {
    let reader = || ImageReader::with_format(Cursor::new(bytes), format);
    let mut header = reader();
    header.no_limits();
    let (width, height) = match header.into_dimensions() {
        Ok(dimensions) => dimensions,
        Err(error) => return refusal(error, (0, 0)).map(Err),
    };
    if !limits.admits(width, height) {
        return Ok(Err(ImageRefusal::TooLargeDimensions { width, height }));
    }
    match pixels(reader(), limits, orientations) {
        Ok(decoded) => Ok(Ok(decoded)),
        Err(error) => refusal(error, (width, height)).map(Err),
    }
}

fn pixels(mut reader: Reader<'_>, limits: &ImageLimits, orientations: Orientations) -> Result<Decoded, ImageError> {
    let mut decoder_limits = Limits::default();
    decoder_limits.max_image_width = Some(limits.max_width);
    decoder_limits.max_image_height = Some(limits.max_height);
    decoder_limits.max_alloc = Some(limits.max_alloc_bytes);
    reader.limits(decoder_limits);
    let mut decoder = reader.into_decoder()?;
    if decoder.total_bytes() > limits.max_alloc_bytes {
        return Err(ImageError::Limits(LimitError::from_kind(LimitErrorKind::InsufficientMemory)));
    }
    // A broken EXIF block or ICC profile loses the orientation or the profile, not the photo.
    let orientation = match orientations {
        Orientations::Apply => decoder.orientation().unwrap_or(Orientation::NoTransforms),
        Orientations::Ignore => Orientation::NoTransforms,
    };
    let icc_profile = decoder.icc_profile().ok().flatten();
    // For an animated GIF (or WebP) this is the first frame.
    let image = DynamicImage::from_decoder(decoder)?;
    Ok(upright(image, icc_profile, orientation))
}

/// The pixels as 8-bit RGB, or RGBA if any is not opaque, turned by `orientation`.
pub(crate) fn upright(image: DynamicImage, icc_profile: Option<Vec<u8>>, orientation: Orientation) -> Decoded {
    let mut image = match image {
        // What a colour JPEG decodes to: nothing to convert.
        rgb @ DynamicImage::ImageRgb8(_) => rgb,
        other if has_visible_alpha(&other) => DynamicImage::ImageRgba8(other.into_rgba8()),
        other => DynamicImage::ImageRgb8(other.into_rgb8()),
    };
    image.apply_orientation(orientation);
    Decoded { image, icc_profile }
}

/// Whether any pixel is not fully opaque (phones save many opaque screenshots as RGBA).
fn has_visible_alpha(image: &DynamicImage) -> bool {
    match image {
        DynamicImage::ImageRgba8(pixels) => pixels.pixels().any(|pixel| pixel.0[3] != u8::MAX),
        DynamicImage::ImageLumaA8(pixels) => pixels.pixels().any(|pixel| pixel.0[1] != u8::MAX),
        DynamicImage::ImageRgba16(pixels) => pixels.pixels().any(|pixel| pixel.0[3] != u16::MAX),
        DynamicImage::ImageLumaA16(pixels) => pixels.pixels().any(|pixel| pixel.0[1] != u16::MAX),
        other => other.color().has_alpha(),
    }
}

/// What a decoding error says about the image; errors of this machine are port errors.
pub(crate) fn refusal(error: ImageError, (width, height): (u32, u32)) -> Result<ImageRefusal, PortError> {
    match error {
        ImageError::Limits(_) => Ok(ImageRefusal::TooLargeDimensions { width, height }),
        ImageError::Unsupported(_) => Ok(ImageRefusal::UnsupportedImage),
        ImageError::Decoding(_) => Ok(ImageRefusal::Corrupt),
        ImageError::IoError(error) if matches!(error.kind(), ErrorKind::UnexpectedEof | ErrorKind::InvalidData) => {
            Ok(ImageRefusal::Corrupt)
        }
        ImageError::IoError(error) => Err(io_error("reading the image", &error)),
        other @ (ImageError::Parameter(_) | ImageError::Encoding(_)) => {
            Err(PortError::Internal(format!("decoding the image: {other}")))
        }
    }
}
