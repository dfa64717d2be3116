//! Reading an image: the format from its bytes, the size from its header (judged before any
//! pixel is decoded), then the pixels under allocation limits, turned upright.

use std::fs::File;
use std::io::{BufReader, ErrorKind};

use chat_core::domain::error::PortError;
use chat_core::domain::media::{ImageLimits, ImageRefusal, LocalFile};
use image::error::{LimitError, LimitErrorKind};
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader, Limits};

use crate::{heif, io_error};

/// A decoded image, upright, as 8-bit RGB (or RGBA when some pixel is not opaque).
#[derive(Debug)]
pub struct Decoded {
    /// The pixels.
    pub image: DynamicImage,
    /// The ICC colour profile the original carried, kept so colours stay right (it says how
    /// to read the pixels and nothing about the photographer).
    pub icc_profile: Option<Vec<u8>>,
}

type Reader = ImageReader<BufReader<File>>;

/// Decodes `input`, or says why it is refused. HEIC/HEIF goes through `heif-convert` first.
pub fn decode(
    input: &LocalFile,
    _content_type: &str,
    limits: &ImageLimits,
) -> Result<Result<Decoded, ImageRefusal>, PortError> {
    // The format is judged from the bytes, never from the declared type.
    let bytes = std::fs::read(input.path()).map_err(|error| io_error("reading the image", &error))?;
    if heif::is_heif(&bytes) {
        let converted = match heif::convert(input, &bytes, limits)? {
            Ok(converted) => converted,
            Err(refusal) => return Ok(Err(refusal)),
        };
        // heif-convert has applied `irot`/`imir` and copied the EXIF orientation unchanged.
        return decode_file(converted.file(), limits, Orientations::Ignore);
    }
    decode_file(input, limits, Orientations::Apply)
}

/// Whether the EXIF orientation is applied (HEIF carries its own, applied by `heif-convert`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Orientations {
    Apply,
    Ignore,
}

fn decode_file(
    input: &LocalFile,
    limits: &ImageLimits,
    orientations: Orientations,
) -> Result<Result<Decoded, ImageRefusal>, PortError> {
    let mut header = open(input)?;
    let header_format = header.format();
    if !matches!(header_format, Some(ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::Gif | ImageFormat::WebP)) {
        return Ok(Err(ImageRefusal::UnsupportedImage));
    }
    header.no_limits();
    let (width, height) = match header.into_dimensions() {
        Ok(dimensions) => dimensions,
        Err(error) => return refusal(error, (0, 0)).map(Err),
    };
    if !limits.admits(width, height) {
        return Ok(Err(ImageRefusal::TooLargeDimensions { width, height }));
    }
    // The JPEG decoder fills a truncated scan with grey rather than failing.
    if header_format == Some(ImageFormat::Jpeg) && !jpeg_has_end(input)? {
        return Ok(Err(ImageRefusal::Corrupt));
    }
    match pixels(open(input)?, limits, orientations) {
        Ok(decoded) => Ok(Ok(decoded)),
        Err(error) => refusal(error, (width, height)).map(Err),
    }
}

/// Whether a JPEG's end-of-image marker follows its first scan. Entropy-coded data never holds
/// `FF D9` (a data `FF` is followed by `00`), and the segments before the scan, which may hold
/// a whole embedded thumbnail, are skipped by their lengths.
fn jpeg_has_end(input: &LocalFile) -> Result<bool, PortError> {
    let bytes = std::fs::read(input.path()).map_err(|error| io_error("reading the image", &error))?;
    let mut at = 2;
    while let (Some(0xFF), Some(&marker)) = (bytes.get(at), bytes.get(at + 1)) {
        match marker {
            0xDA => return Ok(bytes[at..].windows(2).any(|pair| pair == [0xFF, 0xD9])),
            // Fill bytes before a marker.
            0xFF => at += 1,
            _ => {
                let length =
                    bytes.get(at + 2..at + 4).map_or(0, |len| usize::from(u16::from_be_bytes([len[0], len[1]])));
                at += 2 + length;
            }
        }
    }
    Ok(false)
}

fn open(input: &LocalFile) -> Result<Reader, PortError> {
    let file = File::open(input.path()).map_err(|error| io_error("opening the image", &error))?;
    ImageReader::new(BufReader::new(file)).with_guessed_format().map_err(|error| io_error("reading the image", &error))
}

fn pixels(mut reader: Reader, limits: &ImageLimits, orientations: Orientations) -> Result<Decoded, ImageError> {
    let mut decoder_limits = Limits::default();
    decoder_limits.max_image_width = Some(limits.max_width);
    decoder_limits.max_image_height = Some(limits.max_height);
    decoder_limits.max_alloc = Some(limits.max_alloc_bytes);
    reader.limits(decoder_limits);
    let mut decoder = reader.into_decoder()?;
    // Not every decoder (JPEG) counts its output buffer against `max_alloc`.
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
    let mut image = if has_visible_alpha(&image) {
        DynamicImage::ImageRgba8(image.into_rgba8())
    } else {
        DynamicImage::ImageRgb8(image.into_rgb8())
    };
    image.apply_orientation(orientation);
    Ok(Decoded { image, icc_profile })
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
fn refusal(error: ImageError, (width, height): (u32, u32)) -> Result<ImageRefusal, PortError> {
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
