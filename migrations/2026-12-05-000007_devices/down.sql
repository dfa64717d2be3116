DROP TABLE devices;
DROP FUNCTION chat_token_digest(text);
