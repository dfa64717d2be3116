//! `NodeRegistry` on Redis: one sorted set `nodes`, each node scored by its last beat in
//! milliseconds (the beat's own time, from the node's clock, like presence). The set has no
//! expiry: a dead node stays in it until a live one forgets it, which is the point.

use async_trait::async_trait;
use chat_core::domain::Timestamp;
use chat_core::domain::error::PortError;
use chat_core::domain::ids::NodeId;
use chat_core::ports::NodeRegistry;
use redis::Script;

use crate::RedisConnection;

/// KEYS: nodes. ARGV: node, last beat ms. Removes the node only if its score is still that
/// beat (a node that beat since is alive). Returns 1 when removed.
const FORGET: &str = r"
local beat = redis.call('ZSCORE', KEYS[1], ARGV[1])
if beat and tonumber(beat) == tonumber(ARGV[2]) then
  return redis.call('ZREM', KEYS[1], ARGV[1])
end
return 0
";

pub struct RedisNodes {
    redis: RedisConnection,
    forget: Script,
}

impl RedisNodes {
    pub fn new(redis: RedisConnection) -> Self {
        RedisNodes { redis, forget: Script::new(FORGET) }
    }

    fn key(&self) -> String {
        self.redis.key("nodes")
    }
}

fn parse_node(member: &str) -> Result<NodeId, PortError> {
    member.parse().map_err(|_| PortError::Internal(format!("bad node id {member:?} in the node registry")))
}

fn from_millis(ms: i64) -> Result<Timestamp, PortError> {
    Timestamp::from_timestamp_millis(ms).ok_or_else(|| PortError::Internal(format!("bad beat time {ms}")))
}

#[async_trait]
impl NodeRegistry for RedisNodes {
    async fn beat(&self, node: NodeId, now: Timestamp) -> Result<bool, PortError> {
        let mut conn = self.redis.conn().await?;
        // ZADD answers how many members it added: 1 when the node was not listed.
        let added: i64 = redis::cmd("ZADD")
            .arg(self.key())
            .arg(now.timestamp_millis())
            .arg(node.to_string())
            .query_async(&mut conn)
            .await
            .map_err(|e| self.redis.failed(e))?;
        Ok(added == 0)
    }

    async fn silent(&self, since: Timestamp) -> Result<Vec<(NodeId, Timestamp)>, PortError> {
        let mut conn = self.redis.conn().await?;
        let silent: Vec<(String, i64)> = redis::cmd("ZRANGE")
            .arg(self.key())
            .arg("-inf")
            .arg(format!("({}", since.timestamp_millis()))
            .arg("BYSCORE")
            .arg("WITHSCORES")
            .query_async(&mut conn)
            .await
            .map_err(|e| self.redis.failed(e))?;
        silent.into_iter().map(|(node, beat)| Ok((parse_node(&node)?, from_millis(beat)?))).collect()
    }

    async fn forget(&self, node: NodeId, last_seen: Timestamp) -> Result<bool, PortError> {
        let mut conn = self.redis.conn().await?;
        let removed: i64 = self
            .forget
            .key(self.key())
            .arg(node.to_string())
            .arg(last_seen.timestamp_millis())
            .invoke_async(&mut conn)
            .await
            .map_err(|e| self.redis.failed(e))?;
        Ok(removed == 1)
    }

    async fn leave(&self, node: NodeId) -> Result<(), PortError> {
        let mut conn = self.redis.conn().await?;
        let _: i64 = redis::cmd("ZREM")
            .arg(self.key())
            .arg(node.to_string())
            .query_async(&mut conn)
            .await
            .map_err(|e| self.redis.failed(e))?;
        Ok(())
    }
}
