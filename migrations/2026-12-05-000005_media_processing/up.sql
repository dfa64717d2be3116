-- What the media worker records: why an item failed, and a voice message's waveform. Media
-- left uploaded or processing (their job lost) are found by a partial index when a worker
-- starts.

ALTER TABLE media
    ADD COLUMN failure_reason text,
    -- 64 peaks, 0-255 each.
    ADD COLUMN waveform bytea CHECK (octet_length(waveform) <= 1024);

CREATE INDEX media_unfinished_by_upload ON media (uploaded_at, id)
    WHERE status IN ('uploaded', 'processing');
