-- Media: uploaded files, the messages they are attached to, and each owner's usage counters
-- (kept in the same transactions as the records they count, so quotas never scan).

CREATE TABLE media (
    id                   uuid PRIMARY KEY,
    -- No cascade: deleting an owner must delete their objects in the blob store too.
    owner_id             uuid NOT NULL REFERENCES users (id),
    kind                 text NOT NULL CHECK (kind IN ('image', 'video', 'audio', 'file')),
    status               text NOT NULL CHECK (status IN ('pending', 'uploaded', 'processing', 'ready', 'failed')),
    content_type         text NOT NULL,
    -- A display name only; object keys are made by the server.
    filename             text NOT NULL,
    -- The declared size, reserved against the owner's quota.
    size                 bigint NOT NULL CHECK (size > 0),
    width                integer CHECK (width > 0),
    height               integer CHECK (height > 0),
    duration_ms          bigint CHECK (duration_ms >= 0),
    variants             jsonb NOT NULL DEFAULT '[]',
    -- The object store's id of a multipart upload and its number of parts; both NULL for a
    -- single PUT.
    multipart_upload_id  text,
    parts                integer CHECK (parts > 0),
    -- The ETag of the object checked at completion: what was validated is what is served.
    etag                 text,
    created_at           timestamptz NOT NULL,
    upload_expires_at    timestamptz NOT NULL,
    uploaded_at          timestamptz,
    -- When it was first attached to a message; never attached media are cleaned up.
    attached_at          timestamptz,
    CHECK ((multipart_upload_id IS NULL) = (parts IS NULL))
);
CREATE INDEX media_owner_id ON media (owner_id);
-- The cleanup's two queries, each the first rows of a small partial index in the order they
-- are asked for (id breaks ties), so a backlog is never read whole to return a page. The
-- queries spell the predicates out as literals: a generic plan could not prove a partial
-- index's predicate from a parameter.
CREATE INDEX media_pending_by_expiry ON media (upload_expires_at, id) WHERE status = 'pending';
CREATE INDEX media_never_attached_by_creation ON media (created_at, id)
    WHERE attached_at IS NULL AND status <> 'pending';

-- Where each media item is attached. No cascade from media: an attached media item is never
-- deleted (the cleanup's delete refuses it), and the foreign key backs that up.
CREATE TABLE media_attachments (
    media_id         uuid NOT NULL REFERENCES media (id),
    conversation_id  uuid NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    message_id       uuid NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    attached_at      timestamptz NOT NULL,
    PRIMARY KEY (media_id, message_id)
);
CREATE INDEX media_attachments_conversation_id ON media_attachments (conversation_id);
CREATE INDEX media_attachments_message_id ON media_attachments (message_id);

-- Items and bytes per owner and kind, pending reservations included. A row stays at zero
-- once its owner's last item of that kind is gone.
CREATE TABLE media_usage (
    owner_id  uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind      text NOT NULL CHECK (kind IN ('image', 'video', 'audio', 'file')),
    count     bigint NOT NULL CHECK (count >= 0),
    bytes     bigint NOT NULL CHECK (bytes >= 0),
    PRIMARY KEY (owner_id, kind)
);

-- Media messages, and the media they carry in the sender's order. Not a foreign key: media
-- may be cleaned up later, and readers show what still exists.
ALTER TABLE messages DROP CONSTRAINT messages_kind_check;
ALTER TABLE messages ADD CONSTRAINT messages_kind_check
    CHECK (kind IN ('TEXT', 'IMAGE', 'VIDEO', 'AUDIO', 'FILE', 'SYSTEM'));
ALTER TABLE messages ADD COLUMN media_ids uuid[] NOT NULL DEFAULT '{}';
