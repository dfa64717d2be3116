//! Ports: the traits the use cases need from the outside world, in domain types only.

mod auth;
mod blobs;
mod calls;
mod claims;
mod clock;
mod conversations;
mod events;
mod images;
mod jobs;
mod media;
mod messages;
mod nodes;
mod presence;
mod push;
mod rate_limit;
mod scanner;
mod sessions;
mod social;
mod users;
mod video;
mod work_area;

pub use auth::{PasswordHasher, TokenIssuer};
pub use blobs::{
    BlobInfo, BlobStore, CompleteOutcome, CopyOutcome, DownloadAs, ListedBlob, PartEtag, SignedMethod, SignedRequest,
    StoredPart, content_disposition,
};
pub use calls::{CallStore, StartOutcome, StoredCall};
pub use claims::{ClaimKey, ClaimStore};
pub use clock::{Clock, IdGen};
pub use conversations::{
    ConversationCursor, ConversationRepo, DirectOutcome, DirectPeer, ListQuery, MembershipChange, MembershipOutcome,
    PinOutcome, WriteContext,
};
pub use events::{EventBus, EventSink};
pub use images::ImageProcessor;
pub use jobs::{FailOutcome, JobQueue, QueueStats};
pub use media::{CreateMediaOutcome, MediaRepo, TransitionOutcome, UploadedOutcome};
pub use messages::{HistoryPage, InsertOutcome, MessageRepo, MessageSearch, MessageUpdate, SearchHit, SearchScope};
pub use nodes::NodeRegistry;
pub use presence::{PresenceAudience, PresenceStatus, PresenceStore};
pub use push::{DeviceRepo, PushSender};
pub use rate_limit::RateLimitStore;
pub use scanner::{ScanVerdict, VirusScanner};
pub use sessions::{NewSession, RotateOutcome, SessionRepo};
pub use social::{SendRequestOutcome, SocialRepo};
pub use users::{UserConflict, UserRepo};
pub use video::{AvProcessor, AvProgress};
pub use work_area::WorkArea;

mod health;
pub use health::HealthCheck;

#[cfg(test)]
pub use self::{
    auth::{MockPasswordHasher, MockTokenIssuer},
    blobs::MockBlobStore,
    calls::MockCallStore,
    claims::MockClaimStore,
    conversations::MockConversationRepo,
    events::MockEventBus,
    images::MockImageProcessor,
    jobs::MockJobQueue,
    media::MockMediaRepo,
    messages::MockMessageRepo,
    nodes::MockNodeRegistry,
    presence::MockPresenceStore,
    push::{MockDeviceRepo, MockPushSender},
    rate_limit::MockRateLimitStore,
    scanner::MockVirusScanner,
    sessions::MockSessionRepo,
    social::MockSocialRepo,
    users::MockUserRepo,
    video::MockAvProcessor,
    work_area::MockWorkArea,
};
