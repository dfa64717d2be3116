//! `chat-system`: the ports backed by the operating system and cryptography rather than a
//! service: wall clock, UUIDv7 ids, argon2id password hashing, JWT access tokens, and the media
//! worker's job directories on the local disk (and the sweep of those that dead processes left).

mod clock;
mod passwords;
mod tokens;
mod work_area;

pub use clock::{SystemClock, UuidV7Ids};
pub use passwords::Argon2Passwords;
pub use tokens::JwtTokens;
pub use work_area::{LocalWorkArea, Swept};
