-- Push registrations (docs/database.md, "Push devices"): one row per token, tied to the
-- session that registered it. Deleting a user or a session deletes its devices; a revoked
-- session (revoked_at set, the row kept) has its devices removed by the application.

-- The key a token is unique by: its SHA-256. A B-tree entry holds at most a third of a
-- page (2,704 bytes), and a token may be 4,096 characters (up to 16 KiB), so the text
-- itself cannot be indexed. `convert_to` is only STABLE because it looks up encoding
-- conversions, but to UTF-8 in a UTF-8 database (or from any one database's fixed
-- encoding) it always gives the same bytes, so the function is IMMUTABLE, as a generated
-- column needs.
CREATE FUNCTION chat_token_digest(token text) RETURNS bytea
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN sha256(convert_to(token, 'UTF8'));

CREATE TABLE devices (
    id             uuid PRIMARY KEY,
    user_id        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session_id     uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    platform       text NOT NULL CHECK (platform IN ('android', 'ios', 'web')),
    token          text NOT NULL CHECK (char_length(token) BETWEEN 1 AND 4096),
    -- Registering a token that exists moves its row (INSERT ... ON CONFLICT (token_digest)).
    token_digest   bytea NOT NULL GENERATED ALWAYS AS (chat_token_digest(token)) STORED
                   CONSTRAINT devices_token_digest_key UNIQUE,
    -- NULL: the user's own language setting applies.
    locale         text CHECK (locale IN ('vi', 'en')),
    registered_at  timestamptz NOT NULL
);
-- A user's devices oldest first (and the foreign key's index); a message's recipients.
CREATE INDEX devices_user_id ON devices (user_id, registered_at, id);
-- Logout and revocation remove a session's devices.
CREATE INDEX devices_session_id ON devices (session_id);
