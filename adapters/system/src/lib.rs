//! `chat-system`: the ports backed by the operating system and cryptography rather than a
//! service: wall clock, UUIDv7 ids, argon2id password hashing and JWT access tokens.

mod clock;
mod passwords;
mod tokens;

pub use clock::{SystemClock, UuidV7Ids};
pub use passwords::Argon2Passwords;
pub use tokens::JwtTokens;
