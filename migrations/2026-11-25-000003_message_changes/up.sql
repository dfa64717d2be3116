-- Edits, recalls and reactions get a per-conversation change number, so a client coming
-- back online can replay the changes it missed (sync), not only the new messages.
ALTER TABLE conversations ADD COLUMN last_change_seq bigint NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN change_seq bigint NOT NULL DEFAULT 0;
-- Only changed messages are indexed: most messages never change.
CREATE INDEX messages_changes ON messages (conversation_id, change_seq) WHERE change_seq > 0;
