//! HEIC/HEIF (iPhone photos) through Debian's `heif-convert` (package `libheif-examples`,
//! libheif 1.15): the sizes in the file's `ispe` properties are judged against the limits
//! first, then `heif-convert` writes a JPEG (a PNG when the file has an alpha plane) into a
//! private directory, with no stdin and a deadline after which it is killed, and that file
//! goes through the normal pipeline. `heif-convert` applies the `irot`/`imir` transforms but
//! copies the EXIF block with its Orientation tag unchanged, so for HEIF the EXIF orientation
//! is ignored (as the HEIF standard requires).

use std::fs::File;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chat_core::domain::error::PortError;
use chat_core::domain::media::{ImageLimits, ImageRefusal, LocalFile};

use crate::io_error;

/// The program that decodes HEIF.
const HEIF_CONVERT: &str = "heif-convert";
/// How long `heif-convert` may take (a 12 MP photo takes under a second).
const DEADLINE: Duration = Duration::from_secs(60);
/// The JPEG quality of the intermediate file (it is re-encoded afterwards).
const QUALITY: &str = "92";
/// Brands of HEIF still images; a file that also names an AVIF brand is AVIF, not HEIC.
const STILL_BRANDS: [&[u8; 4]; 5] = [b"heic", b"heix", b"heim", b"heis", b"mif1"];
const AVIF_BRANDS: [&[u8; 4]; 2] = [b"avif", b"avis"];

/// Whether `heif-convert`, which decodes HEIC/HEIF uploads, can be run here.
pub fn heif_tools_present() -> bool {
    Command::new(HEIF_CONVERT)
        .arg("--help")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// A HEIF decoded to a JPEG or PNG, in a directory removed when this is dropped.
#[derive(Debug)]
pub(crate) struct Converted {
    file: LocalFile,
    _dir: tempfile::TempDir,
}

impl Converted {
    /// The decoded file.
    pub(crate) fn file(&self) -> &LocalFile {
        &self.file
    }
}

/// Whether the bytes are an ISO-BMFF file whose `ftyp` names a HEIF still-image brand.
pub(crate) fn is_heif(bytes: &[u8]) -> bool {
    let Some((b"ftyp", ftyp, _)) = next_box(bytes) else { return false };
    // The major brand, the minor version, then the compatible brands.
    let brands: Vec<&[u8]> =
        ftyp.chunks_exact(4).enumerate().filter(|(index, _)| *index != 1).map(|(_, brand)| brand).collect();
    let named = |list: &[&[u8; 4]]| brands.iter().any(|brand| list.iter().any(|known| known.as_slice() == *brand));
    named(&STILL_BRANDS) && !named(&AVIF_BRANDS)
}

/// Decodes the HEIF at `input` (whose bytes are `bytes`) to a file, or says why it is refused.
pub(crate) fn convert(
    input: &LocalFile,
    bytes: &[u8],
    limits: &ImageLimits,
) -> Result<Result<Converted, ImageRefusal>, PortError> {
    let Some(properties) = properties(bytes) else { return Ok(Err(ImageRefusal::Corrupt)) };
    let sizes = sizes(properties);
    if sizes.is_empty() {
        return Ok(Err(ImageRefusal::Corrupt));
    }
    if let Some(&(width, height)) = sizes.iter().find(|(width, height)| !limits.admits(*width, *height)) {
        return Ok(Err(ImageRefusal::TooLargeDimensions { width, height }));
    }
    // An alpha plane is an auxiliary image of this type; PNG keeps it, JPEG would not.
    let has_alpha = [b"auxid:1".as_slice(), b"auxiliary:alpha"]
        .iter()
        .any(|urn| properties.windows(urn.len()).any(|window| window == *urn));
    let parent = input.path().parent().filter(|parent| parent.is_dir()).unwrap_or(Path::new("."));
    let dir = tempfile::Builder::new()
        .prefix("heif-")
        .tempdir_in(parent)
        .map_err(|error| io_error("making a directory for the decoded HEIF", &error))?;
    let output = dir.path().join(if has_alpha { "decoded.png" } else { "decoded.jpg" });
    let errors = File::create(dir.path().join("stderr")).map_err(|error| io_error("heif-convert's log", &error))?;
    let mut child = Command::new(HEIF_CONVERT)
        .args(["--quiet", "-q", QUALITY])
        .arg(input.path())
        .arg(&output)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(errors)
        .spawn()
        .map_err(|error| {
            PortError::Unavailable(format!("running {HEIF_CONVERT} (package libheif-examples): {error}"))
        })?;
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if started.elapsed() < DEADLINE => std::thread::sleep(Duration::from_millis(10)),
            Ok(None) => break None,
            Err(error) => return Err(PortError::Internal(format!("waiting for {HEIF_CONVERT}: {error}"))),
        }
    };
    let Some(status) = status else {
        // Killing may fail only when it has just exited; either way it is reaped.
        let _ = child.kill();
        let _ = child.wait();
        // A photo that takes this long to decode is refused rather than retried.
        return Ok(Err(ImageRefusal::Corrupt));
    };
    // libheif refuses a truncated or malformed file with exit status 1.
    if !status.success() || !output.is_file() {
        return Ok(Err(ImageRefusal::Corrupt));
    }
    Ok(Ok(Converted { file: LocalFile::new(output), _dir: dir }))
}

/// The first box of `bytes`: its type, its body and what follows it.
fn next_box(bytes: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let size = u32::from_be_bytes(bytes.get(..4)?.try_into().ok()?);
    let kind = bytes.get(4..8)?;
    let (header, size) = match size {
        0 => (8, bytes.len()),
        1 => (16, usize::try_from(u64::from_be_bytes(bytes.get(8..16)?.try_into().ok()?)).ok()?),
        size => (8, usize::try_from(size).ok()?),
    };
    let body = bytes.get(header..size)?;
    Some((kind, body, bytes.get(size..)?))
}

/// The body of the child box of type `kind`.
fn child<'a>(mut bytes: &'a [u8], kind: &[u8]) -> Option<&'a [u8]> {
    while let Some((found, body, rest)) = next_box(bytes) {
        if found == kind {
            return Some(body);
        }
        bytes = rest;
    }
    None
}

/// The item properties (`meta` → `iprp` → `ipco`) of a HEIF file.
fn properties(bytes: &[u8]) -> Option<&[u8]> {
    // `meta` is a full box: a version and flags come first.
    let meta = child(bytes, b"meta")?.get(4..)?;
    child(child(meta, b"iprp")?, b"ipco")
}

/// Every image size (`ispe`: version and flags, width, height) among the properties: the
/// primary image's, its tiles', its thumbnail's.
fn sizes(mut properties: &[u8]) -> Vec<(u32, u32)> {
    let mut sizes = Vec::new();
    while let Some((kind, body, rest)) = next_box(properties) {
        if kind == b"ispe" {
            let field =
                |at: usize| body.get(at..at + 4).and_then(|bytes| bytes.try_into().ok()).map(u32::from_be_bytes);
            if let (Some(width), Some(height)) = (field(4), field(8)) {
                sizes.push((width, height));
            }
        }
        properties = rest;
    }
    sizes
}
