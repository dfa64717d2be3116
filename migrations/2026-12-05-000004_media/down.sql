ALTER TABLE messages DROP COLUMN media_ids;
-- Fails while media messages exist: going back would otherwise drop them silently.
ALTER TABLE messages DROP CONSTRAINT messages_kind_check;
ALTER TABLE messages ADD CONSTRAINT messages_kind_check CHECK (kind IN ('TEXT', 'SYSTEM'));
DROP TABLE media_usage;
DROP TABLE media_attachments;
DROP TABLE media;
