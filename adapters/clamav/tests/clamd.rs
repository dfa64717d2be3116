//! The scanner against a real clamd (started by `scripts/test`, with the project's own
//! signature database for the EICAR test file): clean, infected plain and inside a zip,
//! streamed in many chunks, the size limit, clamd unreachable, and PING for `/ready`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::time::Duration;

use chat_clamav::{ClamdAddr, ClamdConfig, ClamdScanner};
use chat_core::domain::error::PortError;
use chat_core::domain::media::LocalFile;
use chat_core::ports::{HealthCheck, ScanVerdict, VirusScanner};

/// clamd as `scripts/test` exports it; without it every test fails, saying how to get one.
fn clamd_addr() -> ClamdAddr {
    let addr = std::env::var("CLAMD_ADDR")
        .unwrap_or_else(|_| panic!("CLAMD_ADDR is not set: run the tests with scripts/test, which starts clamd"));
    ClamdAddr::parse(&addr).unwrap()
}

async fn scanner() -> ClamdScanner {
    let scanner = ClamdScanner::new(ClamdConfig::new(clamd_addr()));
    if let Err(error) = scanner.check().await {
        panic!("clamd does not answer PING ({error}): run the tests with scripts/test, which starts clamd");
    }
    scanner
}

/// The EICAR test file, made from two halves so no file in the repository holds it whole
/// (virus scanners on developers' machines would flag the repository).
fn eicar() -> Vec<u8> {
    let first = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR";
    let second = "-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";
    format!("{first}{second}").into_bytes()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> LocalFile {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    LocalFile::new(path)
}

/// A zip archive of stored (uncompressed) entries, built by hand.
fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut zip = Vec::new();
    let mut central = Vec::new();
    for (name, content) in entries {
        let offset = u32::try_from(zip.len()).unwrap();
        let crc = crc32(content);
        let size = u32::try_from(content.len()).unwrap();
        let name_len = u16::try_from(name.len()).unwrap();
        // Local file header: version 1.0, no flags, stored, no time.
        zip.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        zip.extend_from_slice(&[10, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        for field in [crc, size, size] {
            zip.extend_from_slice(&field.to_le_bytes());
        }
        zip.extend_from_slice(&name_len.to_le_bytes());
        zip.extend_from_slice(&0u16.to_le_bytes());
        zip.extend_from_slice(name.as_bytes());
        zip.extend_from_slice(content);
        // Its central directory entry.
        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        central.extend_from_slice(&[20, 0, 10, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        for field in [crc, size, size] {
            central.extend_from_slice(&field.to_le_bytes());
        }
        central.extend_from_slice(&name_len.to_le_bytes());
        central.extend_from_slice(&[0; 12]); // extra, comment, disk, internal and external attributes
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
    }
    let central_at = u32::try_from(zip.len()).unwrap();
    let count = u16::try_from(entries.len()).unwrap();
    zip.extend_from_slice(&central);
    // End of central directory.
    zip.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    zip.extend_from_slice(&[0; 4]);
    zip.extend_from_slice(&count.to_le_bytes());
    zip.extend_from_slice(&count.to_le_bytes());
    zip.extend_from_slice(&u32::try_from(central.len()).unwrap().to_le_bytes());
    zip.extend_from_slice(&central_at.to_le_bytes());
    zip.extend_from_slice(&0u16.to_le_bytes());
    zip
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

fn assert_eicar(verdict: ScanVerdict) {
    match verdict {
        ScanVerdict::Infected { signature } => assert!(signature.contains("EICAR"), "{signature}"),
        ScanVerdict::Clean => panic!("EICAR passed as clean"),
    }
}

#[tokio::test]
async fn a_clean_file_is_clean() {
    let scanner = scanner().await;
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "notes.txt", b"Meeting at 10, bring the slides.\n");
    assert_eq!(scanner.scan(&file).await.unwrap(), ScanVerdict::Clean);
}

#[tokio::test]
async fn eicar_is_infected_with_a_signature_name() {
    let scanner = scanner().await;
    let dir = tempfile::tempdir().unwrap();
    assert_eicar(scanner.scan(&write(dir.path(), "eicar.com", &eicar())).await.unwrap());
}

#[tokio::test]
async fn eicar_inside_a_zip_is_infected() {
    let scanner = scanner().await;
    let dir = tempfile::tempdir().unwrap();
    let zip = zip_of(&[("docs/readme.com", &eicar())]);
    // The test signature matches only at the start of a file, so a match means clamd unpacked it.
    assert!(!zip.starts_with(&eicar()));
    assert_eicar(scanner.scan(&write(dir.path(), "archive.zip", &zip)).await.unwrap());
}

#[tokio::test]
async fn the_test_zip_builder_makes_a_zip_that_clamd_reads_clean_when_harmless() {
    let scanner = scanner().await;
    let dir = tempfile::tempdir().unwrap();
    let zip = zip_of(&[("readme.txt", b"harmless")]);
    assert_eq!(scanner.scan(&write(dir.path(), "archive.zip", &zip)).await.unwrap(), ScanVerdict::Clean);
}

#[tokio::test]
async fn a_file_of_many_chunks_is_streamed_and_scanned_to_the_end() {
    let _ = scanner().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = ClamdConfig::new(clamd_addr());
    config.chunk_bytes = 4096;
    let scanner = ClamdScanner::new(config);
    // 5 MiB of text: 1,280 chunks of 4 KiB.
    let large: Vec<u8> = (0..5u32 << 20).map(|i| b"abcdefghijklmnopqrstuvwxyz\n"[(i % 27) as usize]).collect();
    assert_eq!(scanner.scan(&write(dir.path(), "large.txt", &large)).await.unwrap(), ScanVerdict::Clean);
    // EICAR as the last entry of a zip after those 5 MiB: found only if clamd got the end of
    // the stream (the entry and the central directory that lists it).
    let zip = zip_of(&[("padding.txt", &large), ("eicar.com", &eicar())]);
    assert_eicar(scanner.scan(&write(dir.path(), "padded.zip", &zip)).await.unwrap());
}

#[tokio::test]
async fn a_file_over_the_size_limit_is_an_error_not_clean() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = ClamdConfig::new(clamd_addr());
    config.max_stream_bytes = 1 << 20;
    let scanner = ClamdScanner::new(config);
    let file = write(dir.path(), "big.bin", &vec![b'a'; (1 << 20) + 1]);
    match scanner.scan(&file).await {
        Err(PortError::Internal(message)) => assert!(message.contains("size limit exceeded"), "{message}"),
        other => panic!("expected a size-limit error, got {other:?}"),
    }
}

#[tokio::test]
async fn clamd_s_own_stream_limit_is_never_clean() {
    // Our limit set above clamd's StreamMaxLength (30M in the project's clamd.conf): clamd
    // answers "size limit exceeded" and closes. Usually it reads on to the terminator first and
    // the answer arrives; sometimes it closes while we are still writing, and the write fails
    // with a broken pipe or a reset (seen once in CI), which is Unavailable. Either way the
    // file is never judged clean; in production `max_stream_bytes` matches clamd's limit, so
    // such a file is refused before it is sent (the test above).
    let _ = scanner().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = ClamdConfig::new(clamd_addr());
    config.max_stream_bytes = u64::MAX;
    let scanner = ClamdScanner::new(config);
    let path = dir.path().join("huge.bin");
    let file = std::fs::File::create(&path).unwrap();
    file.set_len(31 << 20).unwrap();
    match scanner.scan(&LocalFile::new(path)).await {
        Err(PortError::Internal(message)) => assert!(message.contains("size limit exceeded"), "{message}"),
        Err(PortError::Unavailable(message)) => assert!(
            ["Broken pipe", "Connection reset"].iter().any(|cut| message.contains(cut)),
            "only clamd cutting the stream short may make it unavailable here: {message}"
        ),
        other => panic!("a stream over clamd's limit was judged {other:?}"),
    }
}

#[tokio::test]
async fn a_missing_file_is_an_internal_error() {
    let scanner = scanner().await;
    let dir = tempfile::tempdir().unwrap();
    let missing = LocalFile::new(dir.path().join("gone.bin"));
    assert!(matches!(scanner.scan(&missing).await, Err(PortError::Internal(_))));
}

/// A loopback port nothing listens on: bound, then released.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test]
async fn clamd_unreachable_is_unavailable_for_scans_and_readiness() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "notes.txt", b"hello");
    let down = ClamdScanner::new(ClamdConfig::new(ClamdAddr::Tcp(format!("127.0.0.1:{}", closed_port()))));
    assert!(matches!(down.scan(&file).await, Err(PortError::Unavailable(_))));
    assert!(matches!(down.check().await, Err(PortError::Unavailable(_))));

    let no_socket = ClamdScanner::new(ClamdConfig::new(ClamdAddr::Unix(dir.path().join("clamd.sock"))));
    assert!(matches!(no_socket.scan(&file).await, Err(PortError::Unavailable(_))));
    assert!(matches!(no_socket.check().await, Err(PortError::Unavailable(_))));
}

#[tokio::test]
async fn a_silent_clamd_is_unavailable_at_the_deadline() {
    // A listener that accepts and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let held = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "notes.txt", b"hello");
    let mut config = ClamdConfig::new(ClamdAddr::Tcp(addr.to_string()));
    config.timeout = Duration::from_millis(200);
    let silent = ClamdScanner::new(config);
    assert!(matches!(silent.scan(&file).await, Err(PortError::Unavailable(m)) if m.contains("did not answer")));
    assert!(matches!(silent.check().await, Err(PortError::Unavailable(_))));
    held.abort();
}

#[tokio::test]
async fn readiness_is_clamd_s_pong() {
    let scanner = scanner().await;
    scanner.check().await.unwrap();
    assert_eq!((scanner.component(), scanner.adapter()), ("virus_scanner", "clamd"));
}

#[tokio::test]
async fn the_unix_socket_works_too() {
    // scripts/services.sh's clamd.conf also listens on a LocalSocket (CLAMD_TEST_SOCKET).
    let _ = scanner().await;
    let socket = std::env::var("CLAMD_TEST_SOCKET").unwrap_or_else(|_| {
        panic!("CLAMD_TEST_SOCKET is not set: run the tests with scripts/test, which starts clamd")
    });
    let socket = std::path::PathBuf::from(socket);
    let scanner = ClamdScanner::new(ClamdConfig::new(ClamdAddr::Unix(socket)));
    scanner.check().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    assert_eicar(scanner.scan(&write(dir.path(), "eicar.com", &eicar())).await.unwrap());
}
