//! JPEG decoding with zune-jpeg, the decoder `image` itself wraps, called directly: `image`'s
//! wrapper copies the whole file into a buffer of its own for the header and again for the
//! pixels, and a 12 MP photo is about 5 MB. Here the bytes read once are decoded in place.

use chat_core::domain::error::PortError;
use chat_core::domain::media::{ImageLimits, ImageRefusal};
use image::metadata::Orientation;
use image::{DynamicImage, ImageBuffer};
use zune_jpeg::JpegDecoder;
use zune_jpeg::errors::DecodeErrors;
use zune_jpeg::zune_core::bytestream::ZCursor;
use zune_jpeg::zune_core::colorspace::ColorSpace;
use zune_jpeg::zune_core::options::DecoderOptions;

use crate::decode::{Decoded, Orientations, upright};

/// Decodes the JPEG in `bytes`, or says why it is refused: the size is judged from the header
/// before any pixel is decoded.
pub(crate) fn decode(
    bytes: &[u8],
    limits: &ImageLimits,
    orientations: Orientations,
) -> Result<Result<Decoded, ImageRefusal>, PortError> {
    let mut header = decoder(bytes, None);
    if let Err(error) = header.decode_headers() {
        return Ok(Err(refusal(&error)));
    }
    let (Some((width, height)), Some(colour)) = (header.dimensions(), header.input_colorspace()) else {
        return Ok(Err(ImageRefusal::Corrupt));
    };
    // zune-jpeg reads sizes as 16-bit fields, so these always fit.
    let (Ok(width), Ok(height)) = (u32::try_from(width), u32::try_from(height)) else {
        return Ok(Err(ImageRefusal::Corrupt));
    };
    if !limits.admits(width, height) {
        return Ok(Err(ImageRefusal::TooLargeDimensions { width, height }));
    }
    // The decoder fills a truncated scan with grey rather than failing.
    if !has_end(bytes) {
        return Ok(Err(ImageRefusal::Corrupt));
    }
    // Grey stays grey (one byte a pixel); CMYK and YCbCr become RGB, as `image` would have it.
    let output = match colour {
        ColorSpace::RGB | ColorSpace::RGBA | ColorSpace::Luma | ColorSpace::LumaA => colour,
        _ => ColorSpace::RGB,
    };
    // At most 65,535² pixels of 4 bytes: no overflow.
    let length = u64::from(width) * u64::from(height) * output.num_components() as u64;
    let Some(length) = usize::try_from(length).ok().filter(|_| length <= limits.max_alloc_bytes) else {
        return Ok(Err(ImageRefusal::TooLargeDimensions { width, height }));
    };
    // A broken EXIF block loses the orientation, not the photo.
    let orientation = match orientations {
        Orientations::Apply => header.exif().and_then(|exif| Orientation::from_exif_chunk(exif)),
        Orientations::Ignore => None,
    };
    let icc_profile = header.icc_profile();

    let mut pixels = vec![0; length];
    if let Err(error) = decoder(bytes, Some(output)).decode_into(&mut pixels) {
        return Ok(Err(refusal(&error)));
    }
    let image = match output {
        ColorSpace::RGB => buffer(pixels, width, height).map(DynamicImage::ImageRgb8),
        ColorSpace::RGBA => buffer(pixels, width, height).map(DynamicImage::ImageRgba8),
        ColorSpace::Luma => buffer(pixels, width, height).map(DynamicImage::ImageLuma8),
        _ => buffer(pixels, width, height).map(DynamicImage::ImageLumaA8),
    };
    let image = image.ok_or_else(|| PortError::Internal(format!("a {width} × {height} JPEG decoded short")))?;
    Ok(Ok(upright(image, icc_profile, orientation.unwrap_or(Orientation::NoTransforms))))
}

/// A decoder over `bytes` that checks no size (the limits are judged here) and, like `image`,
/// is lenient with the small format errors cameras make; `output` is the colour space to
/// decode to (none when only the header is read).
fn decoder(bytes: &[u8], output: Option<ColorSpace>) -> JpegDecoder<ZCursor<&[u8]>> {
    let mut options =
        DecoderOptions::default().set_strict_mode(false).set_max_width(usize::MAX).set_max_height(usize::MAX);
    if let Some(output) = output {
        options = options.jpeg_set_out_colorspace(output);
    }
    JpegDecoder::new_with_options(ZCursor::new(bytes), options)
}

fn buffer<P: image::Pixel<Subpixel = u8>>(pixels: Vec<u8>, width: u32, height: u32) -> Option<ImageBuffer<P, Vec<u8>>> {
    ImageBuffer::from_raw(width, height, pixels)
}

/// What a decoding error says about the file: a feature the decoder lacks (arithmetic coding,
/// 12-bit samples) makes it unsupported, anything else corrupt.
fn refusal(error: &DecodeErrors) -> ImageRefusal {
    match error {
        DecodeErrors::Unsupported(_) => ImageRefusal::UnsupportedImage,
        _ => ImageRefusal::Corrupt,
    }
}

/// Whether a JPEG's end-of-image marker follows its first scan. Entropy-coded data never holds
/// `FF D9` (a data `FF` is followed by `00`), and the segments before the scan, which may hold
/// a whole embedded thumbnail, are skipped by their lengths. The search runs from the end,
/// where the marker is in a whole file, rather than through megabytes of scan.
fn has_end(bytes: &[u8]) -> bool {
    let mut at = 2;
    while let (Some(0xFF), Some(&marker)) = (bytes.get(at), bytes.get(at + 1)) {
        match marker {
            0xDA => return bytes[at..].windows(2).rev().any(|pair| pair == [0xFF, 0xD9]),
            // Fill bytes before a marker.
            0xFF => at += 1,
            _ => {
                let length =
                    bytes.get(at + 2..at + 4).map_or(0, |len| usize::from(u16::from_be_bytes([len[0], len[1]])));
                at += 2 + length;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::has_end;

    #[test]
    fn the_end_marker_counts_only_after_the_first_scan() {
        let start = [0xFF, 0xD8];
        // An APP1 segment of 6 bytes whose body holds FF D9 (an embedded thumbnail's end).
        let app1 = [0xFF, 0xE1, 0x00, 0x06, 0xFF, 0xD9, 0x00, 0x00];
        let scan = [0xFF, 0xDA, 0x00, 0x02, 0x12, 0xFF, 0x00, 0x34];
        let whole: Vec<u8> = [&start[..], &app1, &scan, &[0xFF, 0xD9]].concat();
        assert!(has_end(&whole));
        assert!(!has_end(&whole[..whole.len() - 2]), "cut before the end marker");
        assert!(!has_end(&[&start[..], &app1, &scan].concat()), "only the thumbnail's end marker");
        // Data after the end marker (some phones append a second image) does not hide it.
        assert!(has_end(&[&whole[..], &[0x00, 0x11, 0x22]].concat()));
    }
}
