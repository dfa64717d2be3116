//! Diesel's view of the tables in `/migrations` (kept by hand, checked by the contract tests).

diesel::table! {
    users (id) {
        id -> Uuid,
        username -> Text,
        display_name -> Text,
        phone -> Nullable<Text>,
        avatar_media_id -> Nullable<Uuid>,
        bio -> Text,
        settings -> Jsonb,
        password_hash -> Text,
        role -> Text,
        search_text -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    sessions (id) {
        id -> Uuid,
        user_id -> Uuid,
        device_name -> Text,
        refresh_hash -> Text,
        created_at -> Timestamptz,
        refresh_expires_at -> Timestamptz,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    rotated_refresh_tokens (refresh_hash) {
        refresh_hash -> Text,
        session_id -> Uuid,
        rotated_at -> Timestamptz,
    }
}

diesel::table! {
    conversations (id) {
        id -> Uuid,
        kind -> Text,
        title -> Nullable<Text>,
        avatar_media_id -> Nullable<Uuid>,
        created_by -> Uuid,
        created_at -> Timestamptz,
        last_seq -> Int8,
        last_activity_at -> Timestamptz,
        member_count -> Int4,
        direct_key -> Nullable<Text>,
        last_change_seq -> Int8,
    }
}

diesel::table! {
    conversation_members (conversation_id, user_id) {
        conversation_id -> Uuid,
        user_id -> Uuid,
        role -> Text,
        joined_at -> Timestamptz,
        read_seq -> Int8,
        delivered_seq -> Int8,
        muted -> Bool,
        muted_until -> Nullable<Timestamptz>,
        pinned_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    messages (conversation_id, seq) {
        conversation_id -> Uuid,
        seq -> Int8,
        id -> Uuid,
        sender_id -> Uuid,
        kind -> Text,
        body -> Nullable<Text>,
        reply_to -> Nullable<Uuid>,
        client_msg_id -> Nullable<Uuid>,
        system -> Nullable<Jsonb>,
        created_at -> Timestamptz,
        edited_at -> Nullable<Timestamptz>,
        recalled_at -> Nullable<Timestamptz>,
        change_seq -> Int8,
        media_ids -> Array<Uuid>,
    }
}

diesel::table! {
    message_reactions (message_id, user_id) {
        message_id -> Uuid,
        user_id -> Uuid,
        emoji -> Text,
        reacted_at -> Timestamptz,
    }
}

diesel::table! {
    message_hides (user_id, message_id) {
        user_id -> Uuid,
        message_id -> Uuid,
    }
}

diesel::table! {
    friend_requests (id) {
        id -> Uuid,
        from_user -> Uuid,
        to_user -> Uuid,
        message -> Text,
        status -> Text,
        created_at -> Timestamptz,
        answered_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    friendships (user_id, friend_id) {
        user_id -> Uuid,
        friend_id -> Uuid,
        since -> Timestamptz,
    }
}

diesel::table! {
    blocks (blocker_id, blocked_id) {
        blocker_id -> Uuid,
        blocked_id -> Uuid,
        blocked_at -> Timestamptz,
    }
}

diesel::table! {
    media (id) {
        id -> Uuid,
        owner_id -> Uuid,
        kind -> Text,
        status -> Text,
        content_type -> Text,
        filename -> Text,
        size -> Int8,
        width -> Nullable<Int4>,
        height -> Nullable<Int4>,
        duration_ms -> Nullable<Int8>,
        variants -> Jsonb,
        multipart_upload_id -> Nullable<Text>,
        parts -> Nullable<Int4>,
        etag -> Nullable<Text>,
        created_at -> Timestamptz,
        upload_expires_at -> Timestamptz,
        uploaded_at -> Nullable<Timestamptz>,
        attached_at -> Nullable<Timestamptz>,
        failure_reason -> Nullable<Text>,
        waveform -> Nullable<Bytea>,
    }
}

diesel::table! {
    media_attachments (media_id, message_id) {
        media_id -> Uuid,
        conversation_id -> Uuid,
        message_id -> Uuid,
        attached_at -> Timestamptz,
    }
}

diesel::table! {
    media_usage (owner_id, kind) {
        owner_id -> Uuid,
        kind -> Text,
        count -> Int8,
        bytes -> Int8,
    }
}

diesel::joinable!(conversation_members -> conversations (conversation_id));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    sessions,
    rotated_refresh_tokens,
    conversations,
    conversation_members,
    messages,
    message_reactions,
    message_hides,
    friend_requests,
    friendships,
    blocks,
    media,
    media_attachments,
    media_usage,
);
