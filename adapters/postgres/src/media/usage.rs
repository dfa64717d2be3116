//! Each owner's usage counters (`media_usage`), changed in the transactions that add and
//! delete the records they count, and the lock that makes the quota check hold across nodes.

use chat_core::domain::error::PortError;
use chat_core::domain::ids::UserId;
use chat_core::domain::media::{KindUsage, MediaKind, StorageUsage};
use diesel::prelude::*;
use diesel::sql_types::Integer;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::error::corrupt;
use crate::schema::media_usage;

/// The class of the advisory locks taken per owner ("medi" in ASCII). Two-key advisory locks
/// are a key space apart from the one-key migration lock.
const QUOTA_LOCK_CLASS: i32 = 0x6d65_6469;

/// Serialises quota checks of one owner until the transaction ends, on every node. A row lock
/// would not do: an owner's first upload of a kind has no usage row to lock yet, so two
/// concurrent first uploads of different kinds would both pass the check. Owners whose keys
/// collide (32 bits) merely take turns.
pub async fn lock_owner(conn: &mut AsyncPgConnection, owner: UserId) -> Result<(), diesel::result::Error> {
    diesel::sql_query("SELECT pg_advisory_xact_lock($1, $2)")
        .bind::<Integer, _>(QUOTA_LOCK_CLASS)
        .bind::<Integer, _>(owner_key(owner))
        .execute(conn)
        .await
        .map(drop)
}

/// The owner's uuid folded into the lock's 32-bit key.
fn owner_key(owner: UserId) -> i32 {
    let bytes = owner.0.as_bytes();
    let mut key = [0u8; 4];
    for (i, byte) in bytes.iter().enumerate() {
        key[i % 4] ^= byte;
    }
    i32::from_be_bytes(key)
}

/// Counts a new record of `bytes` in the owner's counters.
pub async fn add(
    conn: &mut AsyncPgConnection,
    owner: UserId,
    kind: MediaKind,
    bytes: i64,
) -> Result<(), diesel::result::Error> {
    diesel::insert_into(media_usage::table)
        .values((
            media_usage::owner_id.eq(owner.0),
            media_usage::kind.eq(kind.as_str()),
            media_usage::count.eq(1),
            media_usage::bytes.eq(bytes),
        ))
        .on_conflict((media_usage::owner_id, media_usage::kind))
        .do_update()
        .set((media_usage::count.eq(media_usage::count + 1), media_usage::bytes.eq(media_usage::bytes + bytes)))
        .execute(conn)
        .await
        .map(drop)
}

/// Takes a deleted record of `bytes` out of the owner's counters. A plain update: the row
/// exists since the record was counted, and an upsert would check its negative insert row
/// against the counters' constraints before finding the conflict.
pub async fn remove(conn: &mut AsyncPgConnection, owner: UserId, kind: MediaKind, bytes: i64) -> Result<(), PortError> {
    let updated = diesel::update(media_usage::table.find((owner.0, kind.as_str())))
        .set((media_usage::count.eq(media_usage::count - 1), media_usage::bytes.eq(media_usage::bytes - bytes)))
        .execute(conn)
        .await
        .map_err(crate::error::from_diesel)?;
    if updated == 1 { Ok(()) } else { Err(corrupt("usage", format!("{owner} has no {} counters", kind.as_str()))) }
}

/// The owner's counters: at most one row per kind, so no scan however many records there are.
pub async fn read(conn: &mut AsyncPgConnection, owner: UserId) -> Result<StorageUsage, PortError> {
    let rows: Vec<(String, i64, i64)> = media_usage::table
        .filter(media_usage::owner_id.eq(owner.0))
        .filter(media_usage::count.gt(0))
        .select((media_usage::kind, media_usage::count, media_usage::bytes))
        .load(conn)
        .await
        .map_err(crate::error::from_diesel)?;
    let mut usage = StorageUsage::default();
    for (kind, count, bytes) in rows {
        let kind = MediaKind::parse(&kind).ok_or_else(|| corrupt("usage kind", &kind))?;
        let count = u64::try_from(count).map_err(|e| corrupt("usage count", e))?;
        let bytes = u64::try_from(bytes).map_err(|e| corrupt("usage bytes", e))?;
        usage.bytes = usage.bytes.saturating_add(bytes);
        usage.by_kind.push(KindUsage { kind, count, bytes });
    }
    // In the domain's order of kinds, whatever order the rows came in.
    usage.by_kind.sort_by_key(|entry| MediaKind::ALL.iter().position(|kind| *kind == entry.kind));
    Ok(usage)
}
