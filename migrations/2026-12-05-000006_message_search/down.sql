DROP FUNCTION chat_search_estimate(tsquery, text);
DROP INDEX messages_conversation_time;
DROP INDEX messages_search_text_trgm;
DROP INDEX messages_search_vector;
ALTER TABLE messages DROP COLUMN search_vector, DROP COLUMN search_text;
DROP FUNCTION chat_search_vector(text);
