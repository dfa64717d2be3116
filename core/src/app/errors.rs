//! The error of each use-case area, each with stable codes (see `DomainError`).

use thiserror::Error;

use crate::domain::error::{DomainError, ErrorKind, Invalid, PortError};

/// Adds the variants every area shares (bad input, rate limits, store failures) and the
/// `DomainError` impl, so each area lists only what is its own.
macro_rules! area_error {
    ($(#[$doc:meta])* $name:ident { $($variant:ident $({ $($field:ident : $ty:ty),* })? => ($code:literal, $kind:ident, $msg:literal)),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Error, Clone, PartialEq, Eq)]
        pub enum $name {
            #[error("{0}")]
            Invalid(Invalid),
            #[error("too many requests; retry in {retry_after_ms} ms")]
            RateLimited { retry_after_ms: u64 },
            #[error("a dependency is unavailable; retry later")]
            Unavailable,
            #[error("internal error")]
            Internal,
            $(#[error($msg)] $variant $({ $($field: $ty),* })?,)*
        }

        impl DomainError for $name {
            fn code(&self) -> &'static str {
                match self {
                    $name::Invalid(invalid) => invalid.code,
                    $name::RateLimited { .. } => "rate_limited",
                    $name::Unavailable => "unavailable",
                    $name::Internal => "internal",
                    $($name::$variant { .. } => $code,)*
                }
            }

            fn kind(&self) -> ErrorKind {
                match self {
                    $name::Invalid(_) => ErrorKind::Validation,
                    $name::RateLimited { .. } => ErrorKind::RateLimited,
                    $name::Unavailable => ErrorKind::Unavailable,
                    $name::Internal => ErrorKind::Internal,
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
            fn from(error: PortError) -> Self {
                // The store's own words go to the log; the client gets the stable code only.
                match error {
                    PortError::Unavailable(detail) => {
                        tracing::warn!(%detail, "a dependency is unavailable");
                        $name::Unavailable
                    }
                    PortError::Internal(detail) => {
                        tracing::error!(%detail, "store failure");
                        $name::Internal
                    }
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
        PhoneTaken => ("phone_taken", Conflict, "this phone number belongs to another account"),
    }
);

area_error!(
    /// Conversations, membership, receipts, typing, mute and pin.
    ConversationError {
        ConversationNotFound => ("conversation_not_found", NotFound, "no such conversation"),
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
