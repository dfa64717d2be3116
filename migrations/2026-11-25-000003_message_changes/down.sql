DROP INDEX messages_changes;
ALTER TABLE messages DROP COLUMN change_seq;
ALTER TABLE conversations DROP COLUMN last_change_seq;
