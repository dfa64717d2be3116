//! In-memory adapters are always ready; they still report, so `/ready` names them.

use async_trait::async_trait;
use chat_core::domain::error::PortError;
use chat_core::ports::HealthCheck;

use crate::{MemoryEventBus, MemoryPresence, MemoryRateLimiter, MemoryStore};

macro_rules! always_ready {
    ($type:ty, $component:literal) => {
        #[async_trait]
        impl HealthCheck for $type {
            fn component(&self) -> &'static str {
                $component
            }
            fn adapter(&self) -> &'static str {
                "memory"
            }
            async fn check(&self) -> Result<(), PortError> {
                Ok(())
            }
        }
    };
}

always_ready!(MemoryStore, "store");
always_ready!(MemoryEventBus, "event_bus");
always_ready!(MemoryRateLimiter, "rate_limiter");
always_ready!(MemoryPresence, "presence");
