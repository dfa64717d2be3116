//! `chat-core`: the rules of the chat product, its use cases and the ports they need.
//!
//! This crate does no IO. Storage, delivery, time, ids, hashing and tokens all come in through
//! the traits in [`ports`]; adapters implement them and binaries wire them together. Other
//! services embed the product by building a [`app::Deps`] from the adapters they choose and
//! calling the use-case functions in [`app`].

pub mod app;
pub mod domain;
pub mod ports;
#[cfg(any(test, feature = "testkit"))]
pub mod testkit;
