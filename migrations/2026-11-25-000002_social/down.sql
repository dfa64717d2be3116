DROP TABLE blocks;
DROP TABLE friendships;
DROP TABLE friend_requests;
DROP INDEX users_search_text_trgm;
ALTER TABLE users DROP COLUMN search_text;
