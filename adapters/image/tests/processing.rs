//! The adapter on images made here: orientation and metadata, formats, sizes, refusals.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use chat_core::domain::error::PortError;
use chat_core::domain::media::{ImageLimits, ImageRefusal, LocalFile, ProcessedImage};
use chat_core::ports::ImageProcessor;
use chat_image::ImageAdapter;
use common::*;
use image::codecs::jpeg::JpegEncoder;
use image::{ExtendedColorType, GenericImageView, GrayImage, ImageEncoder, Luma, Rgb, RgbImage, Rgba, RgbaImage};

fn sizes(processed: &ProcessedImage) -> Vec<(&str, u32, u32)> {
    processed.variants.iter().map(|variant| (variant.name.as_str(), variant.width, variant.height)).collect()
}

#[tokio::test]
async fn a_phone_photo_with_orientation_6_and_gps_comes_out_upright_without_metadata() {
    let original = phone_photo();
    for marker in METADATA_MARKERS {
        assert!(original.windows(marker.len()).any(|w| w == marker), "the original carries {marker:?}");
    }
    let (processed, _dir) = process(&original, "image/jpeg").await;
    let processed = processed.unwrap();
    assert_eq!((processed.width, processed.height), (400, 600), "stored 600 × 400, shown turned");
    assert_eq!(sizes(&processed), [("full", 400, 600), ("thumb_1280", 400, 600), ("thumb_320", 213, 320)]);
    for variant in &processed.variants {
        assert_eq!(variant.content_type, "image/jpeg");
        let bytes = std::fs::read(variant.file.path()).unwrap();
        assert_eq!(jpeg_app_markers(&bytes), [0xE0], "{}: only the JFIF header", variant.name);
        for marker in METADATA_MARKERS.iter().chain([&GPS_LATITUDE.as_slice()]) {
            assert!(!bytes.windows(marker.len()).any(|w| w == *marker), "{} holds {marker:?}", variant.name);
        }
    }
    // The stored top-left (red) quarter is the top-right once turned clockwise.
    assert_red_top_right(&processed);
}

#[tokio::test]
async fn thumbnails_fit_the_long_side_and_small_images_are_not_enlarged() {
    let large = jpeg(&RgbImage::from_fn(2000, 1500, |x, y| Rgb([(x % 256) as u8, (y % 256) as u8, 90])), 85);
    let (processed, _dir) = process(&large, "image/jpeg").await;
    let processed = processed.unwrap();
    assert_eq!(sizes(&processed), [("full", 2000, 1500), ("thumb_1280", 1280, 960), ("thumb_320", 320, 240)]);
    processed.variants.iter().for_each(|variant| drop(open_variant(variant)));
    let names: Vec<_> = processed.variants.iter().map(|v| v.file.path().file_name().unwrap().to_owned()).collect();
    assert_eq!(names, ["full.jpg", "thumb_1280.jpg", "thumb_320.jpg"], "fixed names: a retry overwrites");

    let small = jpeg(&RgbImage::from_pixel(100, 80, Rgb([10, 200, 10])), 85);
    let (processed, _dir) = process(&small, "image/jpeg").await;
    let processed = processed.unwrap();
    assert_eq!(sizes(&processed), [("full", 100, 80), ("thumb_1280", 100, 80), ("thumb_320", 100, 80)]);
}

#[tokio::test]
async fn transparency_is_kept_in_png_and_opaque_rgba_becomes_jpeg() {
    let half_transparent =
        RgbaImage::from_fn(400, 200, |x, _| if x < 200 { Rgba([0, 0, 0, 0]) } else { Rgba([10, 200, 10, 255]) });
    let (processed, _dir) = process(&png(&half_transparent), "image/png").await;
    let processed = processed.unwrap();
    assert_eq!(sizes(&processed), [("full", 400, 200), ("thumb_1280", 400, 200), ("thumb_320", 320, 160)]);
    for variant in &processed.variants {
        assert_eq!(variant.content_type, "image/png");
        assert_eq!(variant.file.path().extension().unwrap(), "png");
        let image = open_variant(variant);
        assert!(image.color().has_alpha(), "{}", variant.name);
        let (width, height) = image.dimensions();
        assert_eq!(image.get_pixel(5, height / 2).0[3], 0, "{}: left is transparent", variant.name);
        assert_eq!(image.get_pixel(width - 5, height / 2).0[3], 255, "{}: right is opaque", variant.name);
    }

    let opaque = RgbaImage::from_pixel(50, 40, Rgba([200, 10, 10, 255]));
    let (processed, _dir) = process(&png(&opaque), "image/png").await;
    assert!(processed.unwrap().variants.iter().all(|variant| variant.content_type == "image/jpeg"));
}

#[tokio::test]
async fn an_animated_gif_gives_its_first_frame() {
    let frame = |colour| {
        image::Frame::from_parts(RgbaImage::from_pixel(64, 48, colour), 0, 0, image::Delay::from_numer_denom_ms(100, 1))
    };
    let mut gif = Vec::new();
    {
        let mut encoder = image::codecs::gif::GifEncoder::new(&mut gif);
        encoder.set_repeat(image::codecs::gif::Repeat::Infinite).unwrap();
        encoder.encode_frames([frame(Rgba([230, 10, 10, 255])), frame(Rgba([10, 10, 230, 255]))]).unwrap();
    }
    let (processed, _dir) = process(&gif, "image/gif").await;
    let processed = processed.unwrap();
    assert_eq!(sizes(&processed), [("full", 64, 48), ("thumb_1280", 64, 48), ("thumb_320", 64, 48)]);
    for variant in &processed.variants {
        assert_eq!(variant.content_type, "image/jpeg");
        assert!(is_red(open_variant(variant).get_pixel(32, 24)), "{}: the first (red) frame", variant.name);
    }
}

#[tokio::test]
async fn a_grey_jpeg_gives_grey_variants() {
    let grey = GrayImage::from_fn(640, 480, |x, _| Luma([if x < 320 { 40 } else { 200 }]));
    let mut bytes = Vec::new();
    JpegEncoder::new_with_quality(&mut bytes, 90).write_image(grey.as_raw(), 640, 480, ExtendedColorType::L8).unwrap();
    let (processed, _dir) = process(&bytes, "image/jpeg").await;
    let processed = processed.unwrap();
    assert_eq!(sizes(&processed), [("full", 640, 480), ("thumb_1280", 640, 480), ("thumb_320", 320, 240)]);
    for variant in &processed.variants {
        assert_eq!(variant.content_type, "image/jpeg");
        let image = open_variant(variant).to_rgb8();
        let (width, height) = image.dimensions();
        for (x, expected) in [(width / 8, 40), (width * 7 / 8, 200)] {
            let Rgb([red, green, blue]) = *image.get_pixel(x, height / 2);
            for channel in [red, green, blue] {
                assert!(channel.abs_diff(expected) <= 4, "{}: {red} {green} {blue} at x {x}", variant.name);
            }
        }
    }
}

#[tokio::test]
async fn a_jpegs_colour_profile_is_carried_to_every_variant() {
    // Not a valid profile, but bytes no encoder would write by itself.
    let profile: Vec<u8> = (0..600u32).map(|i| (i * 7 % 251) as u8).collect();
    let photo = RgbImage::from_fn(1600, 1200, |x, y| Rgb([(x % 256) as u8, (y % 256) as u8, 90]));
    let mut bytes = Vec::new();
    let mut encoder = JpegEncoder::new_with_quality(&mut bytes, 85);
    encoder.set_icc_profile(profile.clone()).unwrap();
    encoder.write_image(photo.as_raw(), 1600, 1200, ExtendedColorType::Rgb8).unwrap();
    let (processed, _dir) = process(&bytes, "image/jpeg").await;
    let processed = processed.unwrap();
    assert_eq!(sizes(&processed), [("full", 1600, 1200), ("thumb_1280", 1280, 960), ("thumb_320", 320, 240)]);
    for variant in &processed.variants {
        let bytes = std::fs::read(variant.file.path()).unwrap();
        assert!(bytes.windows(profile.len()).any(|w| w == profile.as_slice()), "{} lacks the profile", variant.name);
    }
}

#[tokio::test]
async fn a_truncated_or_mangled_image_is_corrupt() {
    let noisy = RgbImage::from_fn(512, 512, |x, y| Rgb([((x * 7) ^ (y * 13)) as u8, (x * y) as u8, (x + y) as u8]));
    let whole = jpeg(&noisy, 90);
    let (processed, _dir) = process(&whole[..whole.len() * 6 / 10], "image/jpeg").await;
    assert_eq!(processed, Err(ImageRefusal::Corrupt));
    let (processed, _dir) = process(&whole[..40], "image/jpeg").await;
    assert_eq!(processed, Err(ImageRefusal::Corrupt));

    let mut png_bytes = png(&RgbaImage::from_fn(64, 64, |x, y| Rgba([x as u8, y as u8, 0, 128])));
    let middle = png_bytes.len() / 2;
    png_bytes[middle..middle + 16].fill(0xAB);
    let (processed, _dir) = process(&png_bytes, "image/png").await;
    assert_eq!(processed, Err(ImageRefusal::Corrupt));
}

#[tokio::test]
async fn formats_not_served_are_unsupported_whatever_the_declared_type() {
    let bmp = b"BM\x3a\0\0\0\0\0\0\0\x36\0\0\0\x28\0\0\0\x01\0\0\0\x01\0\0\0\x01\0\x18\0\0\0\0\0\x04\0\0\0";
    let (processed, _dir) = process(bmp, "image/jpeg").await;
    assert_eq!(processed, Err(ImageRefusal::UnsupportedImage));
    let (processed, _dir) = process(b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/png").await;
    assert_eq!(processed, Err(ImageRefusal::UnsupportedImage));
    // AVIF and HEVC image sequences share HEIF's container; only HEIF still images are decoded
    // (tests/heif.rs).
    for ftyp in [b"\0\0\0\x18ftypavif\0\0\0\0mif1avif", b"\0\0\0\x18ftypmsf1\0\0\0\0msf1hevc"] {
        let (processed, _dir) = process(ftyp, "image/heic").await;
        assert_eq!(processed, Err(ImageRefusal::UnsupportedImage));
    }
}

#[tokio::test]
async fn the_decoders_allocation_limit_refuses_what_the_header_allows() {
    let limits = ImageLimits { max_alloc_bytes: 1024 * 1024, ..ImageLimits::default() };
    let photo = jpeg(&RgbImage::from_pixel(1000, 1000, Rgb([1, 2, 3])), 80);
    let (processed, _dir) = process_with(&photo, "image/jpeg", limits).await.unwrap();
    assert_eq!(processed, Err(ImageRefusal::TooLargeDimensions { width: 1000, height: 1000 }));
}

#[tokio::test]
async fn a_missing_input_is_a_port_error_not_a_refusal() {
    let dir = tempfile::tempdir().unwrap();
    let outcome = ImageAdapter::default()
        .process(&LocalFile::new(dir.path().join("gone")), "image/jpeg", &LocalFile::new(dir.path()))
        .await;
    assert!(matches!(outcome, Err(PortError::Internal(_))), "{outcome:?}");
}
