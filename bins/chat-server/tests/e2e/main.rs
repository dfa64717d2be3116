//! End-to-end tests: a real server on an ephemeral port, real HTTP and WebSocket clients.

// A failed expectation in a test should stop it with a message: that is what these are for.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod accounts;
mod architecture;
mod gateway;
mod groups;
mod messaging;
mod process;
mod support;
