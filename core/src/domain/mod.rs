//! Domain types and pure rules: validated values, records and decisions that take `now`.

pub mod account;
pub mod call;
pub mod conversation;
pub mod error;
pub mod event;
pub mod ids;
pub mod job;
pub mod media;
pub mod message;
pub mod notification;
pub mod page;
pub mod phone;
pub mod push;
pub mod rate_limit;
pub mod search;
pub mod social;
pub mod text;
pub mod turn;

pub use chrono::{DateTime, Duration, Utc};

/// The one timestamp type of the domain: UTC, serialised as RFC 3339.
pub type Timestamp = DateTime<Utc>;
