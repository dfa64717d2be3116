//! Decompression bombs: refused from the header, with flat memory. In its own test binary,
//! so no other test's images count in this process's memory.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use chat_core::domain::media::ImageRefusal;
use common::*;

#[tokio::test]
async fn images_declaring_60000_by_60000_pixels_are_refused_from_the_header_with_flat_memory() {
    let (rss_before, _) = rss_kib();
    let bombs = [(png_declaring(60_000, 60_000), "image/png"), (jpeg_declaring(60_000, 60_000), "image/jpeg")];
    for (bytes, content_type) in &bombs {
        assert!(bytes.len() < 1024, "a tiny file");
        let (processed, _dir) = process(bytes, content_type).await;
        assert_eq!(
            processed,
            Err(ImageRefusal::TooLargeDimensions { width: 60_000, height: 60_000 }),
            "{content_type}"
        );
    }
    let (_, peak_after) = rss_kib();
    let grown_mib = peak_after.saturating_sub(rss_before) / 1024;
    eprintln!("peak resident memory grew {grown_mib} MiB");
    // Decoding either would need 13.4 GiB (PNG, RGBA) or 10 GiB (JPEG, RGB).
    assert!(grown_mib < 50, "peak memory grew {grown_mib} MiB");
}
