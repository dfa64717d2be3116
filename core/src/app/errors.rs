//! The error of each use-case area, each with stable codes (see `DomainError`).
//!
//! A port failure becomes `Unavailable` or `Internal` carrying its [`Detail`], without
//! logging: the edge that answers the client (the HTTP error response, the WebSocket error
//! frame) logs it once, with the request's context, and shows the client only the code.

use thiserror::Error;

use crate::domain::error::{DomainError, ErrorKind, Invalid, PortError};

/// What went wrong behind a port (or in a rule that should not fail), in its own words: the
/// `source()` of an `Unavailable` or `Internal` area error. It is logged by the edge and never
/// sent to a client, whose message stays generic.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("{0}")]
pub struct Detail(String);

impl Detail {
    /// A detail in words for the log.
    pub fn new(detail: impl Into<String>) -> Self {
        Detail(detail.into())
    }

    /// The detail's words.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Adds the variants every area shares (bad input, rate limits, store failures) and the
/// `DomainError` impl, so each area lists only what is its own.
macro_rules! area_error {
    ($(#[$doc:meta])* $name:ident { $($variant:ident $({ $($field:ident : $ty:ty),* })? => ($code:literal, $kind:ident, $msg:literal)),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Error, Clone, PartialEq, Eq)]
        pub enum $name {
            /// The input broke a rule; its code says which.
            #[error("{0}")]
            Invalid(Invalid),
            /// The caller's quota is spent for now.
            #[error("too many requests; retry in {retry_after_ms} ms")]
            RateLimited {
                /// How long to wait before the quota allows another.
                retry_after_ms: u64,
            },
            /// The detail is the error's `source()`: for the log, never for the client.
            #[error("a dependency is unavailable; retry later")]
            Unavailable(#[source] Detail),
            /// The detail is the error's `source()`: for the log, never for the client.
            #[error("internal error")]
            Internal(#[source] Detail),
            $(#[doc = $msg] #[error($msg)] $variant $({ $($field: $ty),* })?,)*
        }

        impl DomainError for $name {
            fn code(&self) -> &'static str {
                match self {
                    $name::Invalid(invalid) => invalid.code,
                    $name::RateLimited { .. } => "rate_limited",
                    $name::Unavailable(_) => "unavailable",
                    $name::Internal(_) => "internal",
                    $($name::$variant { .. } => $code,)*
                }
            }

            fn kind(&self) -> ErrorKind {
                match self {
                    $name::Invalid(_) => ErrorKind::Validation,
                    $name::RateLimited { .. } => ErrorKind::RateLimited,
                    $name::Unavailable(_) => ErrorKind::Unavailable,
                    $name::Internal(_) => ErrorKind::Internal,
                    $($name::$variant { .. } => ErrorKind::$kind,)*
                }
            }

            fn retry_after_ms(&self) -> Option<u64> {
                match self {
                    $name::RateLimited { retry_after_ms } => Some(*retry_after_ms),
                    _ => None,
                }
            }
        }

        impl From<PortError> for $name {
            /// Pure: the port's words are kept as the detail for the edge to log.
            fn from(error: PortError) -> Self {
                match error {
                    PortError::Unavailable(detail) => $name::Unavailable(Detail(detail)),
                    PortError::Internal(detail) => $name::Internal(Detail(detail)),
                }
            }
        }

        impl From<Invalid> for $name {
            fn from(invalid: Invalid) -> Self {
                $name::Invalid(invalid)
            }
        }
    };
}

area_error!(
    /// Registration, login, tokens and sessions.
    AuthError {
        UsernameTaken => ("username_taken", Conflict, "this username is taken"),
        PhoneTaken => ("phone_taken", Conflict, "this phone number belongs to another account"),
        InvalidCredentials => ("invalid_credentials", Unauthorized, "wrong username or password"),
        InvalidToken => ("invalid_token", Unauthorized, "the token is missing, invalid or expired"),
        SessionRevoked => ("session_revoked", Unauthorized, "this session was logged out"),
        RefreshTokenReused => ("refresh_token_reused", Unauthorized, "this refresh token was already used; the session is revoked"),
    }
);

area_error!(
    /// Profiles and settings.
    ProfileError {
        UserNotFound => ("user_not_found", NotFound, "no such user"),
        AvatarNotFound => ("media_not_found", NotFound, "no such media of yours"),
        InvalidAvatar => ("invalid_avatar", Validation, "an avatar must be an image of yours that finished uploading"),
        PhoneTaken => ("phone_taken", Conflict, "this phone number belongs to another account"),
    }
);

area_error!(
    /// Conversations, membership, receipts, typing, mute and pin.
    ConversationError {
        ConversationNotFound => ("conversation_not_found", NotFound, "no such conversation"),
        AvatarNotFound => ("media_not_found", NotFound, "no such media of yours"),
        InvalidAvatar => ("invalid_avatar", Validation, "a photo must be an image of yours that finished uploading"),
        UserNotFound => ("user_not_found", NotFound, "no such user"),
        CannotChatWithSelf => ("cannot_chat_with_self", Validation, "a direct conversation needs another user"),
        NotAGroup => ("not_a_group", Validation, "this only applies to group conversations"),
        NotPermitted => ("not_permitted", Forbidden, "your role in this group does not allow this"),
        GroupFull => ("group_full", Conflict, "a group has at most 500 members"),
        AlreadyMember => ("already_member", Conflict, "the user is already a member"),
        TooManyPinned => ("too_many_pinned", Conflict, "at most 5 conversations can be pinned"),
        NotAllowedToAdd => ("not_allowed_to_add", Forbidden, "this user does not allow you to add them to groups"),
        NotAllowedToMessage => ("not_allowed_to_message", Forbidden, "this user does not accept messages from you"),
    }
);

area_error!(
    /// Sending and changing messages.
    MessageError {
        ConversationNotFound => ("conversation_not_found", NotFound, "no such conversation"),
        MessageNotFound => ("message_not_found", NotFound, "no such message"),
        ReplyNotFound => ("reply_not_found", Validation, "the message replied to is not in this conversation"),
        NotSender => ("not_sender", Forbidden, "only the sender may change this message"),
        NotEditable => ("not_editable", Validation, "only text messages can be changed"),
        EditWindowClosed => ("edit_window_closed", Forbidden, "messages can be edited or recalled only within 24 hours"),
        Recalled => ("message_recalled", Gone, "this message was recalled"),
        Blocked => ("blocked", Forbidden, "messages between you and this user are blocked"),
        NotAllowedToMessage => ("not_allowed_to_message", Forbidden, "this user does not accept messages from you"),
        MediaNotFound => ("media_not_found", NotFound, "no such media of yours"),
        MediaNotUploaded => ("media_not_uploaded", Conflict, "a media item is not uploaded yet; complete it first"),
        MediaFailed => ("media_failed", Conflict, "a media item failed processing and cannot be sent"),
        MediaKindMismatch => ("media_kind_mismatch", Validation, "the media do not match the message kind"),
    }
);

area_error!(
    /// Media uploads, downloads and storage.
    MediaError {
        MediaNotFound => ("media_not_found", NotFound, "no such media"),
        VariantNotFound => ("variant_not_found", NotFound, "this media has no such variant"),
        UnknownKind => ("unknown_kind", Validation, "kind must be image, video, audio or file"),
        TooLarge => ("too_large", TooLarge, "a file must be 1 byte up to 10 MiB (image, audio), 50 MiB (video) or 25 MiB (file)"),
        UnsupportedType => ("unsupported_type", UnsupportedMediaType, "this content type is not accepted for this kind, or the file name's extension does not match it"),
        QuotaExceeded => ("quota_exceeded", Forbidden, "your storage quota is used up"),
        NotUploaded => ("not_uploaded", Conflict, "nothing was uploaded for this media yet"),
        AlreadyCompleted => ("already_completed", Conflict, "this upload was completed already"),
        UploadChanged => ("upload_changed", Conflict, "the upload was written again while it was being checked; complete it again"),
        InvalidParts => ("invalid_parts", Validation, "the part list does not match the parts uploaded"),
        SizeMismatch => ("size_mismatch", Unprocessable, "the uploaded object is not of the declared size; it was deleted"),
        ContentMismatch => ("content_mismatch", UnsupportedMediaType, "the uploaded bytes are not of the declared type; they were deleted"),
        UploadExpired => ("upload_expired", Gone, "the upload window of this media has closed; request a new upload"),
        MediaFailedProcessing => ("media_failed", Gone, "this media failed processing and is not served"),
        NotReady => ("not_ready", Conflict, "this media is still being processed; wait for media.ready"),
        ProcessingUnavailable => ("processing_unavailable", Unavailable, "videos and voice messages cannot be processed on this server now"),
    }
);

area_error!(
    /// Push registrations.
    DeviceError {
        DeviceNotFound => ("device_not_found", NotFound, "no such device of yours"),
    }
);

area_error!(
    /// Message search.
    SearchError {
        ConversationNotFound => ("conversation_not_found", NotFound, "no such conversation"),
    }
);

area_error!(
    /// Friends, friend requests, blocks and discovery.
    SocialError {
        UserNotFound => ("user_not_found", NotFound, "no such user"),
        RequestNotFound => ("friend_request_not_found", NotFound, "no such friend request"),
        RequestNotPending => ("request_not_pending", Conflict, "this request was already answered or cancelled"),
        CannotBefriendSelf => ("cannot_befriend_self", Validation, "you cannot send yourself a friend request"),
        CannotBlockSelf => ("cannot_block_self", Validation, "you cannot block yourself"),
        AlreadyFriends => ("already_friends", Conflict, "you are already friends"),
        NotFriends => ("not_friends", NotFound, "you are not friends"),
        TooManyPhones => ("too_many_phones", Validation, "a contact sync carries at most 1,000 numbers"),
    }
);

area_error!(
    /// Calls: placing, answering, relaying and ending them.
    CallingError {
        CallNotFound => ("call_not_found", NotFound, "no such call"),
        UserNotFound => ("user_not_found", NotFound, "no such user"),
        CannotCallSelf => ("cannot_call_self", Validation, "a call needs another user"),
        CallNotAllowed => ("call_not_allowed", Forbidden, "this user does not accept calls from you"),
        AlreadyInCall => ("already_in_call", Conflict, "you are in another call"),
        NotCallee => ("not_callee", Conflict, "only the callee answers a call"),
        AnsweredElsewhere => ("call_answered_elsewhere", Conflict, "the call was answered already"),
        NotAnswered => ("call_not_answered", Conflict, "the call has not been answered yet"),
        CallEnded => ("call_ended", Gone, "this call is over"),
        TooManyCandidates => ("too_many_ice_candidates", Validation, "at most 32 ICE candidates before the answer"),
    }
);
