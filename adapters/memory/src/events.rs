//! `EventBus` in process: every publish goes straight to the subscribed sinks.

use std::sync::Arc;

use async_trait::async_trait;
use chat_core::domain::error::PortError;
use chat_core::domain::event::Delivery;
use chat_core::ports::{EventBus, EventSink};
use parking_lot::RwLock;

#[derive(Default)]
pub struct MemoryEventBus {
    sinks: RwLock<Vec<Arc<dyn EventSink>>>,
}

impl MemoryEventBus {
    pub fn new() -> Self {
        MemoryEventBus::default()
    }
}

#[async_trait]
impl EventBus for MemoryEventBus {
    async fn publish(&self, delivery: Delivery) -> Result<(), PortError> {
        for sink in self.sinks.read().iter() {
            sink.deliver(&delivery);
        }
        Ok(())
    }

    fn subscribe(&self, sink: Arc<dyn EventSink>) {
        self.sinks.write().push(sink);
    }
}
