-- The social graph: friend requests, friendships, blocks; and a folded name for user search.

CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS unaccent;

-- Username and display name, lower case without Vietnamese marks ("nguyen duc" for
-- "Nguyễn Đức"); written by the application, searched through a trigram index.
ALTER TABLE users ADD COLUMN search_text text NOT NULL DEFAULT '';
UPDATE users SET search_text = lower(unaccent(username || ' ' || display_name));
CREATE INDEX users_search_text_trgm ON users USING gin (search_text gin_trgm_ops);

CREATE TABLE friend_requests (
    id           uuid PRIMARY KEY,
    from_user    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    to_user      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    message      text NOT NULL,
    status       text NOT NULL CHECK (status IN ('pending', 'accepted', 'declined', 'cancelled')),
    created_at   timestamptz NOT NULL,
    answered_at  timestamptz,
    CHECK (from_user <> to_user)
);
-- At most one pending request per pair, whichever way it goes.
CREATE UNIQUE INDEX friend_requests_one_pending_per_pair
    ON friend_requests (LEAST(from_user, to_user), GREATEST(from_user, to_user)) WHERE status = 'pending';
CREATE INDEX friend_requests_from_user ON friend_requests (from_user, created_at DESC);
CREATE INDEX friend_requests_to_user ON friend_requests (to_user, created_at DESC);

-- Each friendship is stored twice, once per side, so "my friends" is one index range.
CREATE TABLE friendships (
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    friend_id  uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    since      timestamptz NOT NULL,
    PRIMARY KEY (user_id, friend_id)
);
CREATE INDEX friendships_friend_id ON friendships (friend_id);

CREATE TABLE blocks (
    blocker_id  uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    blocked_id  uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    blocked_at  timestamptz NOT NULL,
    PRIMARY KEY (blocker_id, blocked_id)
);
CREATE INDEX blocks_blocked_id ON blocks (blocked_id);
