//! HEIC through `heif-convert`, on files made here with `heif-enc` (both from Debian's
//! `libheif-examples`, which `scripts/test` installs): sizes, metadata, the `irot` rotation,
//! truncation, a declared size over the limits.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use chat_core::domain::media::{ImageRefusal, ProcessedImage};
use common::*;
use image::{GenericImageView, Rgb, RgbImage};

/// Encodes a JPEG or PNG to HEIC with `heif-enc`, which copies its EXIF and XMP blocks.
fn heic_from(bytes: &[u8], extension: &str) -> Vec<u8> {
    assert!(
        chat_image::heif_tools_present(),
        "heif-convert is missing: run the tests through scripts/test (it installs libheif-examples)"
    );
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join(format!("source.{extension}"));
    std::fs::write(&source, bytes).unwrap();
    let target = dir.path().join("photo.heic");
    let status = std::process::Command::new("heif-enc")
        .args(["-q", "80"])
        .arg(&source)
        .arg("-o")
        .arg(&target)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap_or_else(|error| panic!("heif-enc: {error}: run the tests through scripts/test"));
    assert!(status.success(), "heif-enc failed");
    std::fs::read(target).unwrap()
}

/// The box of type `kind` in `bytes` (a box's children follow its 8-byte header, a full box's
/// its 12-byte one): its offset and size.
fn find_box(bytes: &[u8], start: usize, end: usize, kind: &[u8; 4]) -> (usize, usize) {
    let mut at = start;
    while at < end {
        let size = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        if &bytes[at + 4..at + 8] == kind {
            return (at, size);
        }
        at += size;
    }
    panic!("no {kind:?} box");
}

fn add_to_size(bytes: &mut [u8], at: usize, added: u32) {
    let size = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    bytes[at..at + 4].copy_from_slice(&(size + added).to_be_bytes());
}

/// Adds an `irot` property (`angle` × 90° anticlockwise) to item 1, the primary image of a
/// file from `heif-enc` (which writes none): the property goes at the end of `ipco`, its
/// association into `ipma`, and the `iloc` offsets into `mdat` move by the 10 bytes added.
fn with_irot(mut bytes: Vec<u8>, angle: u8) -> Vec<u8> {
    let (meta, meta_size) = find_box(&bytes, 0, bytes.len(), b"meta");
    let (iprp, iprp_size) = find_box(&bytes, meta + 12, meta + meta_size, b"iprp");
    let (iloc, _) = find_box(&bytes, meta + 12, meta + meta_size, b"iloc");
    let (ipco, ipco_size) = find_box(&bytes, iprp + 8, iprp + iprp_size, b"ipco");
    let (ipma, _) = find_box(&bytes, iprp + 8, iprp + iprp_size, b"ipma");
    let mut properties = 0;
    let mut at = ipco + 8;
    while at < ipco + ipco_size {
        properties += 1;
        at += u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
    }
    // iloc version 0 with 4-byte offsets, lengths and base offsets, as heif-enc writes it.
    assert_eq!(&bytes[iloc + 8..iloc + 14], &[0, 0, 0, 0, 0x44, 0x40], "iloc layout");
    let items = u16::from_be_bytes([bytes[iloc + 14], bytes[iloc + 15]]);
    let mut at = iloc + 16;
    for _ in 0..items {
        add_to_size(&mut bytes, at + 4, 10);
        let extents = u16::from_be_bytes([bytes[at + 8], bytes[at + 9]]) as usize;
        at += 10 + 8 * extents;
    }
    // ipma version 0: the entry count, then item 1 with its associations.
    assert_eq!(&bytes[ipma + 8..ipma + 18], &[0, 0, 0, 0, 0, 0, 0, 1, 0, 1], "ipma layout");
    let associations = bytes[ipma + 18] as usize;
    bytes[ipma + 18] += 1;
    bytes.insert(ipma + 19 + associations, 0x80 | (properties + 1));
    add_to_size(&mut bytes, ipma, 1);
    let irot = [0, 0, 0, 9, b'i', b'r', b'o', b't', angle];
    bytes.splice(ipco + ipco_size..ipco + ipco_size, irot);
    add_to_size(&mut bytes, ipco, 9);
    add_to_size(&mut bytes, iprp, 10);
    add_to_size(&mut bytes, meta, 10);
    bytes
}

fn sizes(processed: &ProcessedImage) -> Vec<(&str, u32, u32)> {
    processed.variants.iter().map(|variant| (variant.name.as_str(), variant.width, variant.height)).collect()
}

fn assert_no_metadata(processed: &ProcessedImage) {
    for variant in &processed.variants {
        assert_eq!(variant.content_type, "image/jpeg");
        let bytes = std::fs::read(variant.file.path()).unwrap();
        assert_eq!(jpeg_app_markers(&bytes), [0xE0], "{}: only the JFIF header", variant.name);
        for marker in METADATA_MARKERS.iter().chain([&GPS_LATITUDE.as_slice()]) {
            assert!(!bytes.windows(marker.len()).any(|w| w == *marker), "{} holds {marker:?}", variant.name);
        }
    }
}

#[tokio::test]
async fn a_640_by_480_heic_gives_jpeg_variants_of_the_right_sizes() {
    let photo = RgbImage::from_fn(640, 480, |x, y| Rgb([(x % 256) as u8, (y % 256) as u8, 90]));
    let heic = heic_from(&jpeg(&photo, 90), "jpg");
    assert_eq!(&heic[4..12], b"ftypheic");
    let (processed, _dir) = process(&heic, "image/heic").await;
    let processed = processed.unwrap();
    assert_eq!((processed.width, processed.height), (640, 480));
    assert_eq!(sizes(&processed), [("full", 640, 480), ("thumb_1280", 640, 480), ("thumb_320", 320, 240)]);
    assert_no_metadata(&processed);
}

/// The phone photo's EXIF (orientation 6, GPS) and XMP go into the HEIC, and heif-convert
/// copies them into its JPEG: none may reach the variants, and in HEIF the EXIF orientation
/// is not a transform (only `irot`/`imir` are), so the image stays as stored.
#[tokio::test]
async fn exif_and_xmp_in_a_heic_do_not_survive_and_its_exif_orientation_is_not_applied() {
    let heic = heic_from(&phone_photo(), "jpg");
    for marker in [b"Exif".as_slice(), b"xmpmeta", &GPS_LATITUDE] {
        assert!(heic.windows(marker.len()).any(|w| w == marker), "the HEIC carries {marker:?}");
    }
    let (processed, _dir) = process(&heic, "image/heif").await;
    let processed = processed.unwrap();
    assert_eq!(sizes(&processed), [("full", 600, 400), ("thumb_1280", 600, 400), ("thumb_320", 320, 213)]);
    assert_no_metadata(&processed);
}

/// `irot` 3 (270° anticlockwise) turns the stored 600 × 400 photo, red in its top-left
/// quarter, to 400 × 600 with red top right; its EXIF orientation 6 (which heif-convert
/// copies unchanged) must not turn it a second time.
#[tokio::test]
async fn a_heic_with_irot_comes_out_upright_once() {
    let heic = with_irot(heic_from(&phone_photo(), "jpg"), 3);
    let (processed, _dir) = process(&heic, "image/heic").await;
    let processed = processed.unwrap();
    assert_eq!(sizes(&processed), [("full", 400, 600), ("thumb_1280", 400, 600), ("thumb_320", 213, 320)]);
    assert_no_metadata(&processed);
    assert_red_top_right(&processed);
}

#[tokio::test]
async fn a_truncated_heic_is_corrupt() {
    let photo = RgbImage::from_fn(640, 480, |x, y| Rgb([(x * y % 256) as u8, (y % 256) as u8, (x % 256) as u8]));
    let heic = heic_from(&jpeg(&photo, 90), "jpg");
    for length in [heic.len() / 2, 300, 40] {
        let (processed, _dir) = process(&heic[..length], "image/heic").await;
        assert_eq!(processed, Err(ImageRefusal::Corrupt), "cut at {length}");
    }
}

/// The `ispe` property declares 40000 × 30000: refused before heif-convert runs.
#[tokio::test]
async fn a_heic_declaring_a_huge_size_is_refused_from_its_header() {
    let mut heic = heic_from(&jpeg(&RgbImage::from_pixel(64, 48, Rgb([1, 2, 3])), 90), "jpg");
    let ispe = heic.windows(4).position(|w| w == b"ispe").unwrap() + 8;
    // (heif-enc pads the coded height to a multiple of 64 and crops it back with `clap`.)
    assert_eq!(&heic[ispe..ispe + 4], &[0, 0, 0, 64]);
    heic[ispe..ispe + 4].copy_from_slice(&40_000u32.to_be_bytes());
    heic[ispe + 4..ispe + 8].copy_from_slice(&30_000u32.to_be_bytes());
    let (processed, _dir) = process(&heic, "image/heic").await;
    assert_eq!(processed, Err(ImageRefusal::TooLargeDimensions { width: 40_000, height: 30_000 }));
}

/// A HEIC with an alpha plane is decoded through PNG, so its transparency reaches the variants.
#[tokio::test]
async fn a_heic_with_alpha_keeps_its_transparency() {
    let half_transparent = image::RgbaImage::from_fn(400, 200, |x, _| {
        if x < 200 { image::Rgba([0, 0, 0, 0]) } else { image::Rgba([10, 200, 10, 255]) }
    });
    let heic = heic_from(&png(&half_transparent), "png");
    let (processed, _dir) = process(&heic, "image/heic").await;
    let processed = processed.unwrap();
    assert_eq!(sizes(&processed), [("full", 400, 200), ("thumb_1280", 400, 200), ("thumb_320", 320, 160)]);
    for variant in &processed.variants {
        assert_eq!(variant.content_type, "image/png", "{}", variant.name);
        let image = image::open(variant.file.path()).unwrap();
        assert_eq!(image.get_pixel(5, 5).0[3], 0, "{}: the left half is transparent", variant.name);
        assert_eq!(image.get_pixel(image.width() - 5, 5).0[3], 255, "{}: the right half is opaque", variant.name);
    }
}
