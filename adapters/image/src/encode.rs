//! Writing the variants: the full image and its thumbnails, re-encoded from pixels so no
//! metadata block of the original survives.

use std::fs::File;
use std::io::{BufWriter, Write};

use chat_core::domain::error::PortError;
use chat_core::domain::media::{
    FULL_VARIANT, IMAGE_THUMBNAILS, LocalFile, ProcessedImage, ProducedVariant, fit_long_side,
};
use fast_image_resize::{FilterType, ResizeAlg, ResizeOptions, Resizer};
use image::codecs::png::{CompressionType, FilterType as PngFilter, PngEncoder};
use image::{DynamicImage, ExtendedColorType, GenericImageView, ImageEncoder};

use crate::decode::Decoded;
use crate::io_error;

/// The JPEG quality of the full image.
pub const FULL_JPEG_QUALITY: u8 = 90;

/// The JPEG quality of thumbnails.
pub const THUMB_JPEG_QUALITY: u8 = 82;

/// Writes `full`, `thumb_1280` and `thumb_320` into `out_dir` (made if missing) under fixed
/// names: JPEG, or PNG when the image has transparent pixels. Each thumbnail is made from the
/// previous, larger one (Lanczos3), which costs less than starting from the full image.
pub fn write_variants(decoded: Decoded, out_dir: &LocalFile) -> Result<ProcessedImage, PortError> {
    std::fs::create_dir_all(out_dir.path()).map_err(|error| io_error("making the output directory", &error))?;
    let Decoded { image, icc_profile } = decoded;
    let (width, height) = image.dimensions();
    let profile = icc_profile.as_deref();
    let mut variants = vec![write(out_dir, FULL_VARIANT, &image, profile, FULL_JPEG_QUALITY)?];
    variants.extend(write_thumbnails(image, profile, out_dir)?);
    Ok(ProcessedImage { width, height, variants })
}

/// Writes only the thumbnails (largest first) of an upright image into an existing `out_dir`.
pub fn write_thumbnails(
    image: DynamicImage,
    icc_profile: Option<&[u8]>,
    out_dir: &LocalFile,
) -> Result<Vec<ProducedVariant>, PortError> {
    let (width, height) = image.dimensions();
    let mut resizer = Resizer::new();
    let mut previous = image;
    let mut variants = Vec::with_capacity(IMAGE_THUMBNAILS.len());
    for (name, long_side) in IMAGE_THUMBNAILS {
        let size = fit_long_side(width, height, long_side);
        if size != previous.dimensions() {
            previous = resize(&mut resizer, &previous, size)?;
        }
        variants.push(write(out_dir, name, &previous, icc_profile, THUMB_JPEG_QUALITY)?);
    }
    Ok(variants)
}

fn resize(
    resizer: &mut Resizer,
    source: &DynamicImage,
    (width, height): (u32, u32),
) -> Result<DynamicImage, PortError> {
    let mut thumbnail = DynamicImage::new(width, height, source.color());
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3));
    resizer
        .resize(source, &mut thumbnail, &options)
        .map_err(|error| PortError::Internal(format!("resizing the image: {error}")))?;
    Ok(thumbnail)
}

fn write(
    out_dir: &LocalFile,
    name: &str,
    image: &DynamicImage,
    icc_profile: Option<&[u8]>,
    quality: u8,
) -> Result<ProducedVariant, PortError> {
    let alpha = image.color().has_alpha();
    let (extension, content_type) = if alpha { ("png", "image/png") } else { ("jpg", "image/jpeg") };
    let file = out_dir.join(&format!("{name}.{extension}"));
    let writing = |error: std::io::Error| io_error("writing a variant", &error);
    let mut out = BufWriter::new(File::create(file.path()).map_err(writing)?);
    let (width, height) = image.dimensions();
    let encoded = if alpha {
        let mut encoder = PngEncoder::new_with_quality(&mut out, CompressionType::Default, PngFilter::Adaptive);
        // An encoder that cannot carry the profile writes the pixels without it.
        if let Some(profile) = icc_profile {
            encoder.set_icc_profile(profile.to_vec()).ok();
        }
        encoder
            .write_image(image.as_bytes(), width, height, ExtendedColorType::Rgba8)
            .map_err(|error| error.to_string())
    } else {
        encode_jpeg(&mut out, image, icc_profile, quality)
    };
    encoded.map_err(|error| PortError::Internal(format!("encoding {name}: {error}")))?;
    out.flush().map_err(writing)?;
    let size = std::fs::metadata(file.path()).map_err(writing)?.len();
    Ok(ProducedVariant { name: name.to_owned(), content_type: content_type.to_owned(), size, width, height, file })
}

/// Baseline JPEG, 4:2:0 (as phones save them), with the ICC profile if there is one.
fn encode_jpeg(
    out: &mut impl Write,
    image: &DynamicImage,
    icc_profile: Option<&[u8]>,
    quality: u8,
) -> Result<(), String> {
    let (width, height) = image.dimensions();
    let side = |pixels: u32| u16::try_from(pixels).map_err(|_| format!("{width} × {height} is too large for JPEG"));
    let mut encoder = jpeg_encoder::Encoder::new(out, quality);
    encoder.set_sampling_factor(jpeg_encoder::SamplingFactor::R_4_2_0);
    if let Some(profile) = icc_profile {
        // A profile too large to embed is left out; the pixels are still right in sRGB viewers.
        encoder.add_icc_profile(profile).ok();
    }
    encoder
        .encode(image.as_bytes(), side(width)?, side(height)?, jpeg_encoder::ColorType::Rgb)
        .map_err(|error| error.to_string())
}
