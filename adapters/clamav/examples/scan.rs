//! Scans files with clamd and prints each verdict and how long it took:
//! `CLAMD_ADDR=127.0.0.1:3310 cargo run --release -p chat-clamav --example scan -- FILE...`

use std::time::Instant;

use chat_clamav::{ClamdAddr, ClamdConfig, ClamdScanner};
use chat_core::domain::media::LocalFile;
use chat_core::ports::{HealthCheck, VirusScanner};

#[tokio::main]
async fn main() -> Result<(), String> {
    let addr = std::env::var("CLAMD_ADDR").map_err(|_| "set CLAMD_ADDR (host:port or unix:/path)".to_owned())?;
    let scanner = ClamdScanner::new(ClamdConfig::new(ClamdAddr::parse(&addr)?));
    scanner.check().await.map_err(|error| error.to_string())?;
    for path in std::env::args().skip(1) {
        let started = Instant::now();
        let verdict = scanner.scan(&LocalFile::new(&path)).await;
        println!("{path}: {verdict:?} in {:.1} ms", started.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(())
}
