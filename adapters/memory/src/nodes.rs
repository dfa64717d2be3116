//! `NodeRegistry` in memory: the one process of embedded mode is its only node, so nothing is
//! ever found silent in production use; the contract holds all the same.

use std::collections::HashMap;

use async_trait::async_trait;
use chat_core::domain::Timestamp;
use chat_core::domain::error::PortError;
use chat_core::domain::ids::NodeId;
use chat_core::ports::NodeRegistry;
use parking_lot::Mutex;

#[derive(Default)]
pub struct MemoryNodes {
    last_beats: Mutex<HashMap<NodeId, Timestamp>>,
}

impl MemoryNodes {
    pub fn new() -> Self {
        MemoryNodes::default()
    }
}

#[async_trait]
impl NodeRegistry for MemoryNodes {
    async fn beat(&self, node: NodeId, now: Timestamp) -> Result<bool, PortError> {
        Ok(self.last_beats.lock().insert(node, now).is_some())
    }

    async fn silent(&self, since: Timestamp) -> Result<Vec<(NodeId, Timestamp)>, PortError> {
        Ok(self
            .last_beats
            .lock()
            .iter()
            .filter(|(_, beat)| **beat < since)
            .map(|(node, beat)| (*node, *beat))
            .collect())
    }

    async fn forget(&self, node: NodeId, last_seen: Timestamp) -> Result<bool, PortError> {
        let mut last_beats = self.last_beats.lock();
        if last_beats.get(&node) == Some(&last_seen) {
            last_beats.remove(&node);
            return Ok(true);
        }
        Ok(false)
    }

    async fn leave(&self, node: NodeId) -> Result<(), PortError> {
        self.last_beats.lock().remove(&node);
        Ok(())
    }
}
