//! Thumbnails per second: a 12 MP JPEG (4000 × 3000, made here) → thumb_1280 + thumb_320,
//! on one thread and on all cores, with a breakdown (decode, resize, encode) and, in the same
//! run, sharp (libvips) on the same file when `bench/sharp-ref` has its node_modules
//! (`npm install` there). Run: `cargo bench -p chat-image --bench thumbnails`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::time::Instant;

use chat_core::domain::media::{ImageLimits, LocalFile};
use chat_image::{ImageAdapter, decode, write_thumbnails};
use fast_image_resize::{FilterType, ResizeAlg, ResizeOptions, Resizer};
use image::codecs::jpeg::JpegEncoder;
use image::{DynamicImage, ImageEncoder, RgbImage};

const ROUNDS: usize = 8;

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-thumbnails");
    std::fs::create_dir_all(&dir).unwrap();
    let photo = dir.join("photo-4000x3000.jpg");
    std::fs::write(&photo, photo_like(4000, 3000)).unwrap();
    let size_mib = std::fs::metadata(&photo).unwrap().len() as f64 / 1048576.0;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("input: {} ({size_mib:.1} MiB), {threads} cores, {ROUNDS} images per thread", photo.display());

    breakdown(&photo);
    let input = LocalFile::new(&photo);
    let thumbnails = |out: &LocalFile| {
        let decoded = decode(&input, "image/jpeg", &ImageLimits::default()).unwrap().unwrap();
        std::fs::create_dir_all(out.path()).unwrap();
        write_thumbnails(decoded.image, decoded.icc_profile.as_deref(), out).unwrap();
    };
    for workers in [1, threads] {
        let rate = per_second(&dir, workers, thumbnails);
        println!(
            "ours, thumb_1280 + thumb_320, {workers} thread(s): {rate:.2} images/s ({:.2} thumbnails/s)",
            rate * 2.0
        );
    }
    let adapter = ImageAdapter::default();
    let full = |out: &LocalFile| drop(adapter.process_blocking(&input, "image/jpeg", out).unwrap().unwrap());
    for workers in [1, threads] {
        let rate = per_second(&dir, workers, full);
        println!("ours, whole job (full + thumb_1280 + thumb_320), {workers} thread(s): {rate:.2} images/s");
    }
    sharp(&photo, threads);
}

/// Images per second with `workers` threads each processing `ROUNDS` images.
fn per_second(dir: &Path, workers: usize, job: impl Fn(&LocalFile) + Sync) -> f64 {
    let started = Instant::now();
    std::thread::scope(|scope| {
        for worker in 0..workers {
            let (job, out) = (&job, LocalFile::new(dir.join(format!("out-{worker}"))));
            scope.spawn(move || (0..ROUNDS).for_each(|_| job(&out)));
        }
    });
    (workers * ROUNDS) as f64 / started.elapsed().as_secs_f64()
}

/// Where one image's time goes, and fast_image_resize against `image`'s own resize.
fn breakdown(photo: &Path) {
    let timed = |what: &str, f: &mut dyn FnMut()| {
        let started = Instant::now();
        f();
        println!("  {what}: {:.0} ms", started.elapsed().as_secs_f64() * 1000.0);
    };
    let mut image = DynamicImage::new_rgb8(1, 1);
    timed("decode 12 MP JPEG", &mut || image = image::open(photo).unwrap());
    let mut thumb = DynamicImage::new_rgb8(1280, 960);
    let lanczos = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3));
    timed("fast_image_resize Lanczos3 → 1280", &mut || Resizer::new().resize(&image, &mut thumb, &lanczos).unwrap());
    timed("image::imageops Lanczos3 → 1280", &mut || {
        drop(image.resize_exact(1280, 960, image::imageops::FilterType::Lanczos3))
    });
    let mut small = DynamicImage::new_rgb8(320, 240);
    timed("fast_image_resize Lanczos3 1280 → 320", &mut || {
        Resizer::new().resize(&thumb, &mut small, &lanczos).unwrap()
    });
    timed("image's encoder 1280 JPEG q82", &mut || {
        let mut out = Vec::new();
        JpegEncoder::new_with_quality(&mut out, 82)
            .write_image(thumb.as_bytes(), 1280, 960, image::ExtendedColorType::Rgb8)
            .unwrap();
    });
    timed("jpeg-encoder (AVX2) 1280 q82", &mut || {
        let mut out = Vec::new();
        jpeg_encoder::Encoder::new(&mut out, 82)
            .encode(thumb.as_bytes(), 1280, 960, jpeg_encoder::ColorType::Rgb)
            .unwrap();
    });
    timed("jpeg-encoder (AVX2) 12 MP q90 4:2:0 (the full variant)", &mut || {
        let mut out = Vec::new();
        let mut encoder = jpeg_encoder::Encoder::new(&mut out, 90);
        encoder.set_sampling_factor(jpeg_encoder::SamplingFactor::R_4_2_0);
        encoder.encode(image.as_bytes(), 4000, 3000, jpeg_encoder::ColorType::Rgb).unwrap();
    });
    timed("image's encoder 12 MP JPEG q90", &mut || {
        let mut out = Vec::new();
        JpegEncoder::new_with_quality(&mut out, 90)
            .write_image(image.as_bytes(), 4000, 3000, image::ExtendedColorType::Rgb8)
            .unwrap();
    });
}

/// sharp on the same file, one thread then all cores, if it is installed.
fn sharp(photo: &Path, threads: usize) {
    let script: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench/sharp-ref/thumbnails.mjs");
    if !script.with_file_name("node_modules/sharp").exists() {
        println!("sharp: not installed (cd bench/sharp-ref && npm install), not compared");
        return;
    }
    for workers in [1, threads] {
        let output = std::process::Command::new("node")
            .arg(&script)
            .arg(photo)
            .arg(workers.to_string())
            .arg((workers * ROUNDS).to_string())
            .env("UV_THREADPOOL_SIZE", workers.to_string())
            .output()
            .unwrap();
        print!("{}", String::from_utf8_lossy(&output.stdout));
        eprint!("{}", String::from_utf8_lossy(&output.stderr));
    }
}

/// A photo-like picture: smooth gradients with fine noise, so it compresses like a photo.
fn photo_like(width: u32, height: u32) -> Vec<u8> {
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let image = RgbImage::from_fn(width, height, |x, y| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let noise = (seed % 24) as u32;
        let r = (x * 255 / width + noise) as u8;
        let g = (y * 255 / height + noise / 2) as u8;
        let b = (((x / 40 + y / 40) % 2) * 90 + 60 + noise) as u8;
        image::Rgb([r, g, b])
    });
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, 90)
        .write_image(image.as_raw(), width, height, image::ExtendedColorType::Rgb8)
        .unwrap();
    out
}
