DROP TABLE message_hides;
DROP TABLE message_reactions;
DROP TABLE messages;
DROP TABLE conversation_members;
DROP TABLE conversations;
DROP TABLE rotated_refresh_tokens;
DROP TABLE sessions;
DROP TABLE users;
