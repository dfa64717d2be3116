DROP INDEX media_unfinished_by_upload;
ALTER TABLE media DROP COLUMN waveform, DROP COLUMN failure_reason;
