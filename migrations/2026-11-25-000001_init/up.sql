-- The chat schema: accounts, sessions, conversations, members, messages.
-- Designed for a messages table of tens of millions of rows: every hot read is an index
-- range scan on (conversation_id, seq); see docs/database.md for the partitioning plan.

CREATE TABLE users (
    id               uuid PRIMARY KEY,
    username         text NOT NULL UNIQUE,
    display_name     text NOT NULL,
    phone            text UNIQUE,
    avatar_media_id  uuid,
    bio              text NOT NULL DEFAULT '',
    settings         jsonb NOT NULL,
    password_hash    text NOT NULL,
    role             text NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL
);

CREATE TABLE sessions (
    id                  uuid PRIMARY KEY,
    user_id             uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    device_name         text NOT NULL,
    -- SHA-256 of the current refresh token; the token itself is never stored.
    refresh_hash        text NOT NULL UNIQUE,
    created_at          timestamptz NOT NULL,
    refresh_expires_at  timestamptz NOT NULL,
    revoked_at          timestamptz
);
CREATE INDEX sessions_user_id ON sessions (user_id);

-- Refresh tokens already exchanged: presenting one again revokes its session.
CREATE TABLE rotated_refresh_tokens (
    refresh_hash  text PRIMARY KEY,
    session_id    uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    rotated_at    timestamptz NOT NULL
);
CREATE INDEX rotated_refresh_tokens_session_id ON rotated_refresh_tokens (session_id);

CREATE TABLE conversations (
    id                uuid PRIMARY KEY,
    kind              text NOT NULL CHECK (kind IN ('direct', 'group')),
    title             text,
    avatar_media_id   uuid,
    created_by        uuid NOT NULL REFERENCES users (id),
    created_at        timestamptz NOT NULL,
    -- The seq of the newest message. The row is locked by the UPDATE that allocates the next
    -- seq, which serialises senders of one conversation across all nodes.
    last_seq          bigint NOT NULL DEFAULT 0 CHECK (last_seq >= 0),
    last_activity_at  timestamptz NOT NULL,
    member_count      integer NOT NULL DEFAULT 0,
    -- 'smaller-uuid:larger-uuid' for direct conversations: at most one per pair.
    direct_key        text UNIQUE,
    CHECK ((kind = 'direct') = (direct_key IS NOT NULL))
);
CREATE INDEX conversations_created_by ON conversations (created_by);

CREATE TABLE conversation_members (
    conversation_id  uuid NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    user_id          uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role             text NOT NULL CHECK (role IN ('member', 'admin', 'owner')),
    joined_at        timestamptz NOT NULL,
    read_seq         bigint NOT NULL DEFAULT 0,
    delivered_seq    bigint NOT NULL DEFAULT 0,
    -- muted with no end = muted until unmuted.
    muted            boolean NOT NULL DEFAULT false,
    muted_until      timestamptz,
    pinned_at        timestamptz,
    PRIMARY KEY (conversation_id, user_id)
);
-- A user's conversation list and membership checks by user: index-only for the list's
-- first step.
CREATE INDEX conversation_members_by_user ON conversation_members (user_id, conversation_id) INCLUDE (pinned_at, read_seq);

CREATE TABLE messages (
    conversation_id  uuid NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    seq              bigint NOT NULL CHECK (seq > 0),
    id               uuid NOT NULL UNIQUE,
    sender_id        uuid NOT NULL REFERENCES users (id),
    kind             text NOT NULL CHECK (kind IN ('TEXT', 'SYSTEM')),
    body             text,
    -- Not a foreign key on purpose: it stays valid when messages is partitioned.
    reply_to         uuid,
    client_msg_id    uuid,
    system           jsonb,
    created_at       timestamptz NOT NULL,
    edited_at        timestamptz,
    recalled_at      timestamptz,
    PRIMARY KEY (conversation_id, seq),
    -- A retry on any node returns the original message.
    UNIQUE (sender_id, client_msg_id)
);

CREATE TABLE message_reactions (
    message_id  uuid NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    emoji       text NOT NULL,
    reacted_at  timestamptz NOT NULL,
    PRIMARY KEY (message_id, user_id)
);
CREATE INDEX message_reactions_user_id ON message_reactions (user_id);

-- "Delete for me": messages hidden from one user's history.
CREATE TABLE message_hides (
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    message_id  uuid NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, message_id)
);
CREATE INDEX message_hides_message_id ON message_hides (message_id);
