//! Images made in the tests: JPEGs with EXIF (orientation, GPS), XMP and IPTC blocks written
//! by hand, PNGs that only declare a size, and the adapter run on them.

#![allow(dead_code)]

use chat_core::domain::error::PortError;
use chat_core::domain::media::{ImageLimits, ImageRefusal, LocalFile, ProcessedImage};
use chat_core::ports::ImageProcessor;
use chat_image::ImageAdapter;
use image::codecs::jpeg::JpegEncoder;
use image::{ImageEncoder, ImageFormat, RgbImage, RgbaImage};

/// The GPS latitude written into the EXIF block (21° 1' 42.42"), as its raw rationals: bytes
/// that must not appear in any output.
pub const GPS_LATITUDE: [u8; 24] = [0, 0, 0, 21, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0x10, 0x92, 0, 0, 0, 100];

/// Markers of metadata blocks: EXIF, XMP, IPTC (Photoshop IRB), a big-endian TIFF header.
pub const METADATA_MARKERS: [&[u8]; 6] =
    [b"Exif", b"http://ns.adobe.com/xap", b"xmpmeta", b"Photoshop 3.0", b"8BIM", b"MM\0\x2a"];

/// Runs the adapter with the default limits; the output directory lives as long as the guard.
pub async fn process(bytes: &[u8], content_type: &str) -> (Result<ProcessedImage, ImageRefusal>, tempfile::TempDir) {
    process_with(bytes, content_type, ImageLimits::default()).await.unwrap()
}

pub async fn process_with(
    bytes: &[u8],
    content_type: &str,
    limits: ImageLimits,
) -> Result<(Result<ProcessedImage, ImageRefusal>, tempfile::TempDir), PortError> {
    let dir = tempfile::tempdir().unwrap();
    let input = LocalFile::new(dir.path().join("original"));
    std::fs::write(input.path(), bytes).unwrap();
    let out_dir = LocalFile::new(dir.path().join("variants"));
    let result = ImageAdapter::new(limits).process(&input, content_type, &out_dir).await?;
    Ok((result, dir))
}

pub fn jpeg(image: &RgbImage, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, quality)
        .write_image(image.as_raw(), image.width(), image.height(), image::ExtendedColorType::Rgb8)
        .unwrap();
    out
}

pub fn png(image: &RgbaImage) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, ImageFormat::Png).unwrap();
    out.into_inner()
}

/// A photo as a phone takes it held upright: stored landscape, 600 × 400, red in the top-left
/// quarter and blue elsewhere, with EXIF orientation 6 (turn 90° clockwise to show), GPS,
/// XMP and IPTC blocks.
pub fn phone_photo() -> Vec<u8> {
    let pixels = RgbImage::from_fn(600, 400, |x, y| {
        if x < 300 && y < 200 { image::Rgb([220, 20, 20]) } else { image::Rgb([20, 20, 220]) }
    });
    let encoded = jpeg(&pixels, 90);
    let mut exif = b"Exif\0\0".to_vec();
    exif.extend(tiff_with_orientation_and_gps(6));
    let xmp = b"http://ns.adobe.com/xap/1.0/\0<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF><exif:GPSLatitude>21,1.707N</exif:GPSLatitude></rdf:RDF></x:xmpmeta>";
    let iptc = b"Photoshop 3.0\08BIM\x04\x04\0\0\0\0\0\x0e\x1c\x02\x5a\0\x08Hanoi VN";
    let mut out = encoded[..2].to_vec();
    for (marker, payload) in [(0xE1, exif.as_slice()), (0xE1, xmp.as_slice()), (0xED, iptc.as_slice())] {
        out.extend([0xFF, marker]);
        out.extend(u16::try_from(payload.len() + 2).unwrap().to_be_bytes());
        out.extend(payload);
    }
    out.extend(&encoded[2..]);
    out
}

/// A big-endian TIFF block: IFD0 with Orientation and a GPS IFD pointer; the GPS IFD with
/// GPSLatitudeRef `N` and GPSLatitude.
fn tiff_with_orientation_and_gps(orientation: u16) -> Vec<u8> {
    let entry = |tag: u16, kind: u16, count: u32, value: [u8; 4]| {
        let mut entry = tag.to_be_bytes().to_vec();
        entry.extend(kind.to_be_bytes());
        entry.extend(count.to_be_bytes());
        entry.extend(value);
        entry
    };
    let (ifd0, gps_ifd, rationals) = (8u32, 8u32 + 30, 8u32 + 30 + 30);
    let mut tiff = b"MM\0\x2a".to_vec();
    tiff.extend(ifd0.to_be_bytes());
    tiff.extend(2u16.to_be_bytes());
    let [high, low] = orientation.to_be_bytes();
    tiff.extend(entry(0x0112, 3, 1, [high, low, 0, 0]));
    tiff.extend(entry(0x8825, 4, 1, gps_ifd.to_be_bytes()));
    tiff.extend(0u32.to_be_bytes());
    tiff.extend(2u16.to_be_bytes());
    tiff.extend(entry(0x0001, 2, 2, *b"N\0\0\0"));
    tiff.extend(entry(0x0002, 5, 3, rationals.to_be_bytes()));
    tiff.extend(0u32.to_be_bytes());
    assert_eq!(tiff.len(), rationals as usize);
    tiff.extend(GPS_LATITUDE);
    tiff
}

/// The APPn markers of a JPEG's header segments (up to the start of scan).
pub fn jpeg_app_markers(bytes: &[u8]) -> Vec<u8> {
    assert_eq!(&bytes[..2], &[0xFF, 0xD8], "not a JPEG");
    let (mut at, mut markers) = (2, Vec::new());
    while at + 4 <= bytes.len() && bytes[at] == 0xFF && bytes[at + 1] != 0xDA {
        let marker = bytes[at + 1];
        if (0xE0..=0xEF).contains(&marker) {
            markers.push(marker);
        }
        at += 2 + usize::from(u16::from_be_bytes([bytes[at + 2], bytes[at + 3]]));
    }
    markers
}

/// A PNG that declares `width` × `height` RGBA pixels and holds a few bytes of them.
pub fn png_declaring(width: u32, height: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = width.to_be_bytes().to_vec();
    ihdr.extend(height.to_be_bytes());
    ihdr.extend([8, 6, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    // A zlib stream of a few zero bytes (stored block): what a bomb would repeat.
    chunk(&mut out, b"IDAT", &[0x78, 0x01, 0x01, 0x04, 0x00, 0xFB, 0xFF, 0, 0, 0, 0, 0x00, 0x00, 0x00, 0x01]);
    chunk(&mut out, b"IEND", &[]);
    out
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend(u32::try_from(data.len()).unwrap().to_be_bytes());
    let start = out.len();
    out.extend(kind);
    out.extend(data);
    let crc = crc32(&out[start..]);
    out.extend(crc.to_be_bytes());
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = u32::MAX;
    for byte in bytes {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// A JPEG whose frame header declares `width` × `height` (patched into a small real JPEG).
pub fn jpeg_declaring(width: u16, height: u16) -> Vec<u8> {
    let mut bytes = jpeg(&RgbImage::from_pixel(16, 16, image::Rgb([1, 2, 3])), 80);
    let sof = bytes.windows(2).position(|pair| pair == [0xFF, 0xC0]).expect("a baseline JPEG has SOF0");
    bytes[sof + 5..sof + 7].copy_from_slice(&height.to_be_bytes());
    bytes[sof + 7..sof + 9].copy_from_slice(&width.to_be_bytes());
    bytes
}

/// This process's resident and peak resident memory, in KiB, from /proc/self/status.
pub fn rss_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let field = |name: &str| {
        let line = status.lines().find(|line| line.starts_with(name)).unwrap();
        line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap()
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// A variant's image, checked against what the variant says of itself (size, bytes).
pub fn open_variant(variant: &chat_core::domain::media::ProducedVariant) -> image::DynamicImage {
    let image = image::open(variant.file.path()).unwrap();
    assert_eq!(image::GenericImageView::dimensions(&image), (variant.width, variant.height), "{}", variant.name);
    assert_eq!(std::fs::metadata(variant.file.path()).unwrap().len(), variant.size, "{}", variant.name);
    image
}

/// Every variant is upright: the stored top-left red quarter of a picture turned 90° clockwise
/// is at its top right, with blue at the top left and the bottom right.
pub fn assert_red_top_right(processed: &ProcessedImage) {
    for variant in &processed.variants {
        let image = open_variant(variant);
        let (width, height) = image::GenericImageView::dimensions(&image);
        let pixel = |x, y| image::GenericImageView::get_pixel(&image, x, y);
        assert!(is_red(pixel(width - 5, 5)), "{}: top right is red", variant.name);
        assert!(!is_red(pixel(5, 5)), "{}: top left is blue", variant.name);
        assert!(!is_red(pixel(width - 5, height - 5)), "{}: bottom right is blue", variant.name);
    }
}

/// Whether a pixel is the test pictures' red (as against their blue).
pub fn is_red(pixel: image::Rgba<u8>) -> bool {
    pixel.0[0] > 150 && pixel.0[2] < 100
}
