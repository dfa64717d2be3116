//! Readiness: each adapter says whether it can serve right now.

use async_trait::async_trait;

use crate::domain::error::PortError;

/// Implemented by each adapter that can tell whether it is ready to serve (`/ready`).
#[async_trait]
pub trait HealthCheck: Send + Sync {
    /// A short name for `/ready` output, e.g. "store" or "event_bus".
    fn component(&self) -> &'static str;
    /// Which adapter serves it, e.g. "memory" or "postgres".
    fn adapter(&self) -> &'static str;
    /// Whether the component can serve now; an error says why not.
    async fn check(&self) -> Result<(), PortError>;
}
