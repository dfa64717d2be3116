//! Delivery of events to live connections, on this node and every other.

use std::sync::Arc;

use async_trait::async_trait;

use crate::domain::error::PortError;
use crate::domain::event::Delivery;

/// Receives every delivery published anywhere; the gateway implements it and hands each
/// event to the local sockets of its recipients. Must not block.
pub trait EventSink: Send + Sync {
    /// Hands one delivery to the live connections of its recipients on this node.
    fn deliver(&self, delivery: &Delivery);
    /// Events may have been lost (the bus reconnected after an outage): every client on
    /// this node should `sync` to catch up.
    fn resync(&self) {}
}

/// Fans events out to every node: in-process in embedded mode, Redis pub/sub for several
/// nodes. Use cases publish after a write is stored; gateways subscribe a sink.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait EventBus: Send + Sync {
    /// Publishes to every subscribed sink (on all nodes). Delivery is best-effort: clients
    /// that miss events catch up with `sync`, so a failure here never undoes a stored write.
    async fn publish(&self, delivery: Delivery) -> Result<(), PortError>;
    /// Adds a sink that receives every delivery published from now on, on any node.
    fn subscribe(&self, sink: Arc<dyn EventSink>);
}
