//! `chat-memory`: in-process adapters for every storage and delivery port.
//!
//! This is the embedded default (`cargo run -p chat-server` with no services) and the
//! reference the real adapters are held to: the same port contract tests run against it.
//! Everything lives in one mutex-guarded state so that the multi-step writes the ports
//! promise to be atomic (insert a message + bump the seq + move the read mark) are.

mod calls;
mod claims;
mod conversations;
mod devices;
mod events;
mod health;
mod jobs;
mod media;
mod messages;
mod nodes;
mod presence;
mod rate_limit;
mod search;
mod sessions;
mod social;
mod store;
mod users;

pub use calls::MemoryCalls;
pub use claims::MemoryClaims;
pub use events::MemoryEventBus;
pub use jobs::MemoryJobQueue;
pub use nodes::MemoryNodes;
pub use presence::MemoryPresence;
pub use rate_limit::MemoryRateLimiter;
pub use store::MemoryStore;
