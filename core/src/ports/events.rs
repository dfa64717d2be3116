//! Delivery of events to live connections, on this node and every other.

use std::sync::Arc;

use async_trait::async_trait;

use crate::domain::error::PortError;
use crate::domain::event::Delivery;

/// Receives every delivery published anywhere; the gateway implements it and hands each
/// event to the local sockets of its recipients. Must not block.
pub trait EventSink: Send + Sync {
    fn deliver(&self, delivery: &Delivery);
    /// Events may have been lost (the bus reconnected after an outage): every client on
    /// this node should `sync` to catch up.
    fn resync(&self) {}
}

#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait EventBus: Send + Sync {
    /// Publishes to every subscribed sink (on all nodes). Delivery is best-effort: clients
    /// that miss events catch up with `sync`, so a failure here never undoes a stored write.
    async fn publish(&self, delivery: Delivery) -> Result<(), PortError>;
    fn subscribe(&self, sink: Arc<dyn EventSink>);
}
