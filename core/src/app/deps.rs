//! The ports and settings every use case runs with.

use std::sync::Arc;

use crate::domain::Duration;
use crate::domain::ids::{NodeId, SessionId, UserId};
use crate::domain::rate_limit::Quota;
use crate::domain::turn::IceSettings;
use crate::ports::{
    BlobStore, CallStore, ClaimStore, Clock, ConversationRepo, DeviceRepo, EventBus, HealthCheck, IdGen, JobQueue,
    MediaRepo, MessageRepo, NodeRegistry, PasswordHasher, PresenceAudience, PresenceStore, RateLimitStore, SessionRepo,
    SocialRepo, TokenIssuer, UserRepo,
};

/// Limits and lifetimes, configurable by the operator.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Messages per user (all devices, all nodes): the seed's 60 per minute.
    pub chat: Quota,
    /// Login attempts per account.
    pub login_per_account: Quota,
    /// Login attempts per client IP.
    pub login_per_ip: Quota,
    /// Friend requests per user (30 a day).
    pub friend_requests: Quota,
    /// User searches and phone lookups per user.
    pub searches: Quota,
    /// Typing indicators per user and conversation (clients send one every few seconds).
    pub typing: Quota,
    /// Contact syncs per user: few, since each may carry 1,000 numbers (anti-enumeration).
    pub contact_syncs: Quota,
    /// Registrations per client IP.
    pub register_per_ip: Quota,
    /// Upload URLs per user (the seed's 10 a minute).
    pub upload_requests: Quota,
    /// Completed uploads per user (the seed's 10 a minute).
    pub upload_completions: Quota,
    /// Bytes each user may store, pending uploads included (2 GiB unless configured).
    pub media_quota_bytes: u64,
    /// Whether videos and voice messages can be processed here (ffmpeg is installed); when
    /// not, their uploads are refused at once rather than left to fail.
    pub av_processing: bool,
    /// Calls placed per user (`call.invite`), all devices.
    pub call_invites: Quota,
    /// How long a call rings and how long an answered call waits for a dropped device.
    pub call_policy: crate::domain::call::CallPolicy,
    /// A session counts as online this long after its last heartbeat (clients beat every 30 s).
    pub presence_ttl: Duration,
    /// How long an access token is accepted; clients refresh before it runs out.
    pub access_token_ttl: Duration,
    /// How long a session lasts without use; each refresh extends it by this much.
    pub refresh_token_ttl: Duration,
    /// The STUN and TURN servers handed to callers, and how long TURN credentials last; none
    /// by default (calls then use direct connections only).
    pub ice: IceSettings,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            chat: Quota::per_minute(60),
            login_per_account: Quota::per_window(10, 15 * 60_000),
            login_per_ip: Quota::per_minute(30),
            register_per_ip: Quota::per_window(10, 60 * 60_000),
            friend_requests: Quota::per_window(crate::domain::social::FRIEND_REQUESTS_PER_DAY, 24 * 60 * 60_000),
            searches: Quota::per_minute(60),
            contact_syncs: Quota::per_window(5, 24 * 60 * 60_000),
            typing: Quota::per_window(10, 10_000),
            upload_requests: Quota::per_minute(10),
            upload_completions: Quota::per_minute(10),
            media_quota_bytes: 2 * 1024 * 1024 * 1024,
            av_processing: true,
            call_invites: Quota::per_minute(10),
            call_policy: crate::domain::call::CallPolicy::production(),
            presence_ttl: Duration::seconds(40),
            access_token_ttl: Duration::minutes(15),
            refresh_token_ttl: Duration::days(30),
            ice: IceSettings::default(),
        }
    }
}

/// The adapters behind every port, shared by all use cases.
#[derive(Clone)]
pub struct Deps {
    /// Accounts, profiles and password hashes.
    pub users: Arc<dyn UserRepo>,
    /// Login sessions and refresh tokens.
    pub sessions: Arc<dyn SessionRepo>,
    /// Conversations, memberships and each member's state.
    pub conversations: Arc<dyn ConversationRepo>,
    /// Messages, history and changes.
    pub messages: Arc<dyn MessageRepo>,
    /// Friendships, friend requests and blocks.
    pub social: Arc<dyn SocialRepo>,
    /// Media records, attachments and usage counters.
    pub media: Arc<dyn MediaRepo>,
    /// Devices registered for push notifications.
    pub devices: Arc<dyn DeviceRepo>,
    /// Object storage for media bytes (S3, or a local directory embedded).
    pub blobs: Arc<dyn BlobStore>,
    /// One-time tokens and the locks of periodic tasks, shared by all nodes.
    pub claims: Arc<dyn ClaimStore>,
    /// The media worker's jobs: completed uploads wait here to be processed.
    pub jobs: Arc<dyn JobQueue>,
    /// The push jobs (notifications to send), when push is configured; `None` queues none.
    pub push_jobs: Option<Arc<dyn JobQueue>>,
    /// Rate-limit state, shared by all nodes.
    pub rate_limits: Arc<dyn RateLimitStore>,
    /// Live calls, their users' current call and their timers, shared by all nodes.
    pub calls: Arc<dyn CallStore>,
    /// This process: the node whose sockets its use cases serve.
    pub node: NodeId,
    /// The deployment's nodes and their heartbeats.
    pub nodes: Arc<dyn NodeRegistry>,
    /// Delivery of events to live connections on every node.
    pub events: Arc<dyn EventBus>,
    /// Live connections per user, for online status.
    pub presence: Arc<dyn PresenceStore>,
    /// Who may see whose presence (friends, per each user's privacy setting).
    pub presence_audience: Arc<dyn PresenceAudience>,
    /// Password hashing and verification.
    pub passwords: Arc<dyn PasswordHasher>,
    /// Access and refresh tokens.
    pub tokens: Arc<dyn TokenIssuer>,
    /// The time every rule is judged at.
    pub clock: Arc<dyn Clock>,
    /// New ids for everything the use cases create.
    pub ids: Arc<dyn IdGen>,
    /// Every adapter that can report its readiness.
    pub health: Vec<Arc<dyn HealthCheck>>,
    /// Rate limits and lifetimes.
    pub limits: Limits,
}

/// Who is acting: an authenticated user on one of their sessions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Actor {
    /// The user.
    pub user_id: UserId,
    /// The session (logged-in device) the request came on.
    pub session_id: SessionId,
}
