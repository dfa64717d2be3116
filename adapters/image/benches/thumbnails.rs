//! Thumbnails per second: a 12 MP JPEG (4000 × 3000, made here) → thumb_1280 + thumb_320,
//! on one thread and on all cores, with a breakdown (decode, resize, encode) and, in the same
//! run, sharp (libvips) on the same file when `bench/sharp-ref` has its node_modules
//! (`npm ci` there): ours and sharp take turns, `PAIRS` times, so a load that comes and goes
//! touches both, and each pair gives a ratio. Run: `cargo bench -p chat-image --bench
//! thumbnails` (`PAIRS=5` for more turns).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

// The media worker's allocator (bins/chat-worker), so its reuse of the decoder's 36 MB buffer
// is measured rather than glibc's, which maps it afresh for every image (a quarter more time
// to decode, all of it in page faults).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::{Path, PathBuf};
use std::time::Instant;

use chat_core::domain::media::{ImageLimits, LocalFile};
use chat_image::{ImageAdapter, decode, write_thumbnails};
use fast_image_resize::{FilterType, ResizeAlg, ResizeOptions, Resizer};
use image::codecs::jpeg::JpegEncoder;
use image::{DynamicImage, ImageEncoder, RgbImage};

/// Images each thread processes in one measurement.
const ROUNDS: usize = 16;

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
    let sharp_installed = sharp_script().with_file_name("node_modules/sharp").exists();
    if !sharp_installed {
        println!("sharp: not installed (cd bench/sharp-ref && npm ci), not compared");
    }
    let pairs = std::env::var("PAIRS").ok().and_then(|pairs| pairs.parse().ok()).unwrap_or(3);
    for pair in 1..=pairs {
        for workers in [1, threads] {
            let ours = per_second(&dir, workers, thumbnails);
            let line = format!(
                "ours, thumb_1280 + thumb_320, {workers} thread(s): {:.2} images/s, {:.0} CPU ms/image",
                ours.per_second, ours.cpu_ms
            );
            println!("pair {pair}: {line}");
            if !sharp_installed {
                continue;
            }
            // With one image in flight sharp may still use more than one core (libvips runs
            // each pipeline on threads of its own, and the two thumbnails are two pipelines), so
            // it is also run held to one core, as ours is by being one thread.
            let pins: &[bool] = if workers == 1 { &[false, true] } else { &[false] };
            for &pinned in pins {
                let (version, theirs) = sharp(&photo, workers, pinned);
                println!(
                    "pair {pair}: {version}{}: {:.2} images/s, {:.0} CPU ms/image; ratio ×{:.2} (per CPU second ×{:.2})",
                    if pinned { ", held to one core" } else { "" },
                    theirs.per_second,
                    theirs.cpu_ms,
                    ours.per_second / theirs.per_second,
                    theirs.cpu_ms / ours.cpu_ms
                );
            }
        }
    }
    let adapter = ImageAdapter::default();
    let full = |out: &LocalFile| drop(adapter.process_blocking(&input, "image/jpeg", out).unwrap().unwrap());
    for workers in [1, threads] {
        let rate = per_second(&dir, workers, full);
        println!(
            "ours, whole job (full + thumb_1280 + thumb_320), {workers} thread(s): {:.2} images/s, {:.0} CPU ms/image",
            rate.per_second, rate.cpu_ms
        );
    }
}

/// A measurement: images per second (wall clock) and CPU milliseconds per image.
struct Rate {
    per_second: f64,
    cpu_ms: f64,
}

/// `workers` threads each processing `ROUNDS` images.
fn per_second(dir: &Path, workers: usize, job: impl Fn(&LocalFile) + Sync) -> Rate {
    let (started, cpu_before) = (Instant::now(), process_cpu_seconds());
    std::thread::scope(|scope| {
        for worker in 0..workers {
            let (job, out) = (&job, LocalFile::new(dir.join(format!("out-{worker}"))));
            scope.spawn(move || (0..ROUNDS).for_each(|_| job(&out)));
        }
    });
    let images = (workers * ROUNDS) as f64;
    Rate {
        per_second: images / started.elapsed().as_secs_f64(),
        cpu_ms: (process_cpu_seconds() - cpu_before) * 1000.0 / images,
    }
}

/// User + system CPU time of this process, every thread (ended ones included), from
/// /proc/self/stat, in clock ticks of 10 ms.
fn process_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // The fields after the command name, which is in parentheses: utime and stime are the
    // 14th and 15th of the line.
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    let ticks: Vec<f64> = after_name.split(' ').skip(11).take(2).map(|field| field.parse().unwrap()).collect();
    (ticks[0] + ticks[1]) / 100.0
}

/// Where one image's time goes (the best of three runs of each step), and the alternatives
/// measured against each step: `image`'s own JPEG decoder wrapper, resize and encoder.
fn breakdown(photo: &Path) {
    let timed = |what: &str, f: &mut dyn FnMut()| {
        let best = (0..3)
            .map(|_| {
                let started = Instant::now();
                f();
                started.elapsed().as_secs_f64()
            })
            .fold(f64::INFINITY, f64::min);
        println!("  {what}: {:.1} ms", best * 1000.0);
    };
    let input = LocalFile::new(photo);
    let mut image = DynamicImage::new_rgb8(1, 1);
    timed("decode 12 MP JPEG (chat_image::decode: read, zune-jpeg)", &mut || {
        image = decode(&input, "image/jpeg", &ImageLimits::default()).unwrap().unwrap().image
    });
    timed("decode 12 MP JPEG (image::open)", &mut || drop(image::open(photo).unwrap()));
    let mut thumb = DynamicImage::new_rgb8(1280, 960);
    let lanczos = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3));
    let catmull_rom = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::CatmullRom));
    timed("fast_image_resize CatmullRom → 1280 (not used: softer)", &mut || {
        Resizer::new().resize(&image, &mut thumb, &catmull_rom).unwrap()
    });
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

fn sharp_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench/sharp-ref/thumbnails.mjs")
}

/// sharp on the same file with `workers` images in flight, on any core or `pinned` to the first
/// (with util-linux's `taskset`): its version and rate.
fn sharp(photo: &Path, workers: usize, pinned: bool) -> (String, Rate) {
    let mut command = if pinned {
        let mut taskset = std::process::Command::new("taskset");
        taskset.args(["--cpu-list", "0", "node"]);
        taskset
    } else {
        std::process::Command::new("node")
    };
    let output = command
        .arg(sharp_script())
        .arg(photo)
        .arg(workers.to_string())
        .arg((workers * ROUNDS).to_string())
        .env("UV_THREADPOOL_SIZE", workers.to_string())
        .output()
        .unwrap();
    eprint!("{}", String::from_utf8_lossy(&output.stderr));
    // "sharp 0.34.5 (libvips 8.17.3), 1 thread(s): 8.05 images/s (16.10 thumbnails/s), 124.0 CPU ms/image"
    let stdout = String::from_utf8_lossy(&output.stdout);
    let (version, rest) = stdout.split_once(", ").unwrap();
    let number_before = |unit: &str| {
        let before = &rest[..rest.find(unit).unwrap()];
        before.trim_end().rsplit(' ').next().unwrap().parse().unwrap()
    };
    (version.to_owned(), Rate { per_second: number_before(" images/s"), cpu_ms: number_before(" CPU ms/image") })
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
