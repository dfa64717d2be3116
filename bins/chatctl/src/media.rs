//! `chatctl media cleanup`: the servers' periodic media cleanup, run by hand.

use chat_core::app::media;
use chat_core::domain::Utc;

use crate::wiring::{MediaPlace, connect};

/// Runs one cleanup pass now (or, dry, lists what it would delete) and prints what it did.
pub async fn cleanup(url: &str, place: &MediaPlace, dry_run: bool) -> anyhow::Result<()> {
    let (_store, deps) = connect(url, chat_core::app::Limits::default(), place).await?;
    let report = media::cleanup(&deps, Utc::now(), dry_run).await?;
    let verb = if dry_run { "would delete" } else { "deleted" };
    for item in &report.expired_uploads {
        println!("{verb} expired upload {} ({} bytes, owner {})", item.id, item.size, item.owner_id);
    }
    for item in &report.unattached {
        println!("{verb} unattached media {} ({} bytes, owner {})", item.id, item.size, item.owner_id);
    }
    for key in &report.stray_uploads {
        println!("{verb} stray upload object {key}");
    }
    for id in &report.requeued {
        println!("queued again for processing: {id}");
    }
    println!(
        "{} expired uploads, {} unattached media, {} stray upload objects, {} queued again",
        report.expired_uploads.len(),
        report.unattached.len(),
        report.stray_uploads.len(),
        report.requeued.len()
    );
    Ok(())
}
