//! `MediaRepo` on Postgres: media records, where they are attached, and usage counters that
//! change in the same transaction as the records they count.
//!
//! The quota holds under concurrent requests on any number of nodes: creating a record takes
//! a per-owner advisory lock for its transaction, then checks the counters and adds to them
//! (`usage.rs`). Attaching and deleting lock the record's row, so a cleanup's delete and a
//! message's attach of the same record never both happen: whichever comes second sees the
//! other's outcome.

mod cleanup;
mod row;
mod usage;

use async_trait::async_trait;
use chat_core::domain::Timestamp;
use chat_core::domain::error::PortError;
use chat_core::domain::ids::{ConversationId, MediaId, MessageId, UserId};
use chat_core::domain::media::{Media, MediaStatus, MediaTransition, NewMedia, StorageUsage};
use chat_core::ports::{CreateMediaOutcome, MediaRepo, TransitionOutcome, UploadedOutcome};
use diesel::dsl::{exists, not};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::PgStore;
use crate::error::{TxStop, from_diesel, settle};
use crate::schema::{media, media_attachments};
use row::{MediaRow, bytes_to_i64, status_name};

async fn media_by_id(conn: &mut AsyncPgConnection, id: MediaId) -> Result<Option<Media>, PortError> {
    let row =
        media::table.find(id.0).select(MediaRow::as_select()).first(conn).await.optional().map_err(from_diesel)?;
    row.map(MediaRow::into_media).transpose()
}

#[async_trait]
impl MediaRepo for PgStore {
    async fn create_media(&self, new: NewMedia, quota_bytes: u64) -> Result<CreateMediaOutcome, PortError> {
        let row = MediaRow::from_new(&new)?;
        let (owner, kind, size) = (new.owner_id, new.kind, row.size);
        let mut conn = self.conn().await?;
        let result = conn
            .transaction::<_, TxStop<u64>, _>(async |conn| {
                usage::lock_owner(conn, owner).await?;
                let used = usage::read(conn, owner).await?.bytes;
                if used.saturating_add(new.size) > quota_bytes {
                    return Err(TxStop::Rollback(used));
                }
                diesel::insert_into(media::table).values(&row).execute(conn).await?;
                usage::add(conn, owner, kind, size).await?;
                Ok(())
            })
            .await;
        Ok(match settle(result)? {
            Ok(()) => CreateMediaOutcome::Created(Media::new(new)),
            Err(used) => CreateMediaOutcome::OverQuota { used },
        })
    }

    async fn media(&self, id: MediaId) -> Result<Option<Media>, PortError> {
        let mut conn = self.conn().await?;
        media_by_id(&mut conn, id).await
    }

    async fn media_batch(&self, ids: &[MediaId]) -> Result<Vec<Media>, PortError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<uuid::Uuid> = ids.iter().map(|id| id.0).collect();
        let mut conn = self.conn().await?;
        let rows: Vec<MediaRow> = media::table
            .filter(media::id.eq_any(ids))
            .select(MediaRow::as_select())
            .load(&mut conn)
            .await
            .map_err(from_diesel)?;
        rows.into_iter().map(MediaRow::into_media).collect()
    }

    async fn mark_uploaded(
        &self,
        id: MediaId,
        etag: &str,
        at: Timestamp,
    ) -> Result<Option<UploadedOutcome>, PortError> {
        let mut conn = self.conn().await?;
        let pending = media::table.find(id.0).filter(media::status.eq(status_name(MediaStatus::Pending)));
        let marked: Option<MediaRow> = diesel::update(pending)
            .set((
                media::status.eq(status_name(MediaStatus::Uploaded)),
                media::etag.eq(etag),
                media::uploaded_at.eq(at),
            ))
            .returning(MediaRow::as_returning())
            .get_result(&mut conn)
            .await
            .optional()
            .map_err(from_diesel)?;
        match marked {
            Some(row) => Ok(Some(UploadedOutcome::Marked(row.into_media()?))),
            None => Ok(media_by_id(&mut conn, id).await?.map(UploadedOutcome::NotPending)),
        }
    }

    async fn attach(
        &self,
        media: &[MediaId],
        conversation: ConversationId,
        message: MessageId,
        at: Timestamp,
    ) -> Result<(), PortError> {
        if media.is_empty() {
            return Ok(());
        }
        let mut ids: Vec<uuid::Uuid> = media.iter().map(|id| id.0).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut conn = self.conn().await?;
        let result = conn
            .transaction::<_, TxStop<()>, _>(async |conn| {
                // Locked in id order (two attaches sharing records cannot deadlock), which
                // also makes a concurrent `delete_unattached` of one of them wait for this
                // commit and then find it attached; a record deleted first is left out.
                let present: Vec<uuid::Uuid> = media::table
                    .filter(media::id.eq_any(&ids))
                    .order(media::id)
                    .select(media::id)
                    .for_no_key_update()
                    .load(conn)
                    .await?;
                if present.is_empty() {
                    return Ok(());
                }
                diesel::update(media::table.filter(media::id.eq_any(&present)).filter(media::attached_at.is_null()))
                    .set(media::attached_at.eq(at))
                    .execute(conn)
                    .await?;
                let rows: Vec<_> = present
                    .iter()
                    .map(|id| {
                        (
                            media_attachments::media_id.eq(*id),
                            media_attachments::conversation_id.eq(conversation.0),
                            media_attachments::message_id.eq(message.0),
                            media_attachments::attached_at.eq(at),
                        )
                    })
                    .collect();
                diesel::insert_into(media_attachments::table)
                    .values(rows)
                    .on_conflict_do_nothing()
                    .execute(conn)
                    .await?;
                Ok(())
            })
            .await;
        settle(result)?.map_err(|()| PortError::Internal("attach rolled back".into()))
    }

    async fn transition(&self, id: MediaId, step: MediaTransition) -> Result<Option<TransitionOutcome>, PortError> {
        let mut conn = self.conn().await?;
        // One conditional statement: of two workers finishing one job, one sets `ready`.
        let from: &[&str] = match step {
            MediaTransition::Reopen => &[status_name(MediaStatus::Failed)],
            _ => &[status_name(MediaStatus::Uploaded), status_name(MediaStatus::Processing)],
        };
        let target = media::table.find(id.0).filter(media::status.eq_any(from));
        let updated = match step {
            MediaTransition::StartProcessing => {
                diesel::update(target)
                    .set(media::status.eq(status_name(MediaStatus::Processing)))
                    .returning(MediaRow::as_returning())
                    .get_result(&mut conn)
                    .await
            }
            MediaTransition::Ready(processed) => {
                let variants = serde_json::to_value(&processed.variants)
                    .map_err(|e| PortError::Internal(format!("media variants: {e}")))?;
                let pixels = |value: Option<u32>| value.map(i32::try_from).transpose();
                let (width, height) = (
                    pixels(processed.width).map_err(|e| PortError::Internal(format!("media width: {e}")))?,
                    pixels(processed.height).map_err(|e| PortError::Internal(format!("media height: {e}")))?,
                );
                let duration = processed
                    .duration_ms
                    .map(i64::try_from)
                    .transpose()
                    .map_err(|e| PortError::Internal(format!("media duration: {e}")))?;
                diesel::update(target)
                    .set((
                        media::status.eq(status_name(MediaStatus::Ready)),
                        media::width.eq(width),
                        media::height.eq(height),
                        media::duration_ms.eq(duration),
                        media::variants.eq(variants),
                        media::waveform.eq(processed.waveform),
                    ))
                    .returning(MediaRow::as_returning())
                    .get_result(&mut conn)
                    .await
            }
            MediaTransition::Failed { reason } => {
                diesel::update(target)
                    .set((media::status.eq(status_name(MediaStatus::Failed)), media::failure_reason.eq(reason)))
                    .returning(MediaRow::as_returning())
                    .get_result(&mut conn)
                    .await
            }
            MediaTransition::Reopen => {
                diesel::update(target)
                    .set((
                        media::status.eq(status_name(MediaStatus::Uploaded)),
                        media::failure_reason.eq(None::<String>),
                    ))
                    .returning(MediaRow::as_returning())
                    .get_result(&mut conn)
                    .await
            }
        };
        match updated.optional().map_err(from_diesel)? {
            Some(row) => Ok(Some(TransitionOutcome::Applied(row.into_media()?))),
            None => Ok(media_by_id(&mut conn, id).await?.map(TransitionOutcome::Refused)),
        }
    }

    async fn unfinished(&self, limit: usize) -> Result<Vec<Media>, PortError> {
        let mut conn = self.conn().await?;
        // Spelled as literals, so the partial index applies under a generic plan too.
        let rows: Vec<MediaRow> = media::table
            .filter(diesel::dsl::sql::<diesel::sql_types::Bool>("media.status IN ('uploaded', 'processing')"))
            .order((media::uploaded_at, media::id))
            .limit(i64::try_from(limit).unwrap_or(i64::MAX))
            .select(MediaRow::as_select())
            .load(&mut conn)
            .await
            .map_err(from_diesel)?;
        rows.into_iter().map(MediaRow::into_media).collect()
    }

    async fn keep(&self, id: MediaId, at: Timestamp) -> Result<Option<Media>, PortError> {
        let mut conn = self.conn().await?;
        // One statement: `delete_unattached` checks `attached_at IS NULL` on the row's latest
        // version, so a delete and a keep racing never both win.
        diesel::update(media::table.find(id.0).filter(media::attached_at.is_null()))
            .set(media::attached_at.eq(at))
            .execute(&mut conn)
            .await
            .map_err(from_diesel)?;
        media_by_id(&mut conn, id).await
    }

    async fn detach_message(&self, media: &[MediaId], message: MessageId) -> Result<(), PortError> {
        let ids: Vec<uuid::Uuid> = media.iter().map(|id| id.0).collect();
        let mut conn = self.conn().await?;
        diesel::delete(
            media_attachments::table
                .filter(media_attachments::message_id.eq(message.0))
                .filter(media_attachments::media_id.eq_any(ids)),
        )
        .execute(&mut conn)
        .await
        .map_err(from_diesel)?;
        Ok(())
    }

    async fn attached_conversations(&self, id: MediaId) -> Result<Vec<ConversationId>, PortError> {
        let mut conn = self.conn().await?;
        let conversations: Vec<uuid::Uuid> = media_attachments::table
            .filter(media_attachments::media_id.eq(id.0))
            .select(media_attachments::conversation_id)
            .distinct()
            .order(media_attachments::conversation_id)
            .load(&mut conn)
            .await
            .map_err(from_diesel)?;
        Ok(conversations.into_iter().map(ConversationId).collect())
    }

    async fn usage(&self, owner: UserId) -> Result<StorageUsage, PortError> {
        let mut conn = self.conn().await?;
        usage::read(&mut conn, owner).await
    }

    async fn expired_uploads(&self, now: Timestamp, limit: usize) -> Result<Vec<Media>, PortError> {
        let mut conn = self.conn().await?;
        let rows: Vec<MediaRow> = cleanup::expired_uploads(now, limit).load(&mut conn).await.map_err(from_diesel)?;
        rows.into_iter().map(MediaRow::into_media).collect()
    }

    async fn unattached_before(&self, cutoff: Timestamp, limit: usize) -> Result<Vec<Media>, PortError> {
        let mut conn = self.conn().await?;
        let rows: Vec<MediaRow> =
            cleanup::unattached_before(cutoff, limit).load(&mut conn).await.map_err(from_diesel)?;
        rows.into_iter().map(MediaRow::into_media).collect()
    }

    async fn delete_unattached(&self, id: MediaId) -> Result<Option<Media>, PortError> {
        let mut conn = self.conn().await?;
        let result = conn
            .transaction::<_, TxStop<()>, _>(async |conn| {
                // `attached_at IS NULL` is checked again on the latest version of the row if
                // an attach holds it: this waits for that attach and then leaves the record.
                let attachments = media_attachments::table.filter(media_attachments::media_id.eq(media::id));
                let unattached =
                    media::table.find(id.0).filter(media::attached_at.is_null()).filter(not(exists(attachments)));
                let deleted: Option<MediaRow> =
                    diesel::delete(unattached).returning(MediaRow::as_returning()).get_result(conn).await.optional()?;
                let Some(row) = deleted else { return Ok(None) };
                let media = row.into_media()?;
                usage::remove(conn, media.owner_id, media.kind, bytes_to_i64(media.size)?).await?;
                Ok(Some(media))
            })
            .await;
        settle(result)?.map_err(|()| PortError::Internal("media delete rolled back".into()))
    }
}
