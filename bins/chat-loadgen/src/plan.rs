//! What a run does; the coordinator hands it to every worker process as JSON.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::protocol::Protocol;
use crate::world::{self, LoadUser};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Users {
    /// Users and tokens from `chatctl seed-load`; `limit` takes the first ones.
    SeedFile { path: PathBuf, limit: Option<usize> },
    /// Made-up users (for a server that keeps none, like the Socket.IO reference).
    Synthetic { users: usize, group_size: usize },
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Scenario {
    /// Hold every connection, heartbeating, for `hold_secs`.
    Idle { hold_secs: u64 },
    /// Every user sends `rate` messages a second for `duration_secs`, into its group with
    /// probability `group_share`, else into its direct conversation.
    Chat { rate: f64, duration_secs: u64, group_share: f64 },
    /// Every user sends `messages` at once, each user starting at a random moment within
    /// `spread_ms` of the start.
    Burst { messages: u32, spread_ms: u64, group_share: f64 },
}

impl Scenario {
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Idle { .. } => "idle",
            Scenario::Chat { .. } => "chat",
            Scenario::Burst { .. } => "burst",
        }
    }

    /// How long after the start new messages may still be sent (or connections held).
    pub fn active_for(self) -> Duration {
        match self {
            Scenario::Idle { hold_secs } => Duration::from_secs(hold_secs),
            Scenario::Chat { duration_secs, .. } => Duration::from_secs(duration_secs),
            Scenario::Burst { spread_ms, .. } => Duration::from_millis(spread_ms),
        }
    }

    pub fn sends(self) -> bool {
        !matches!(self, Scenario::Idle { .. })
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Plan {
    pub protocol: Protocol,
    pub server: SocketAddr,
    pub users: Users,
    pub scenario: Scenario,
    /// New connections per second, over all workers.
    pub connect_rate: u32,
    /// Local addresses to connect from (127.0.0.2, ...): each pair of addresses has only
    /// ~28,000 ephemeral ports. Empty: let the kernel choose.
    pub source_addrs: Vec<Ipv4Addr>,
    pub workers: usize,
    /// Size of each message body.
    pub body_bytes: usize,
    /// After the last send, how long to wait at most for acks and deliveries to arrive.
    pub drain: Duration,
    /// A JSON file whose `sample_bodies` (strings) are sent as message text after the
    /// timestamp, instead of padding (`chatctl seed-search` writes one). Each worker reads it.
    #[serde(default)]
    pub bodies_file: Option<PathBuf>,
    /// The bodies of `bodies_file`, JSON-escaped; filled in by each worker.
    #[serde(skip)]
    pub bodies: Vec<String>,
}

impl Plan {
    pub fn load_users(&self) -> anyhow::Result<Vec<LoadUser>> {
        match &self.users {
            Users::SeedFile { path, limit } => {
                let mut users = world::from_seed_file(path)?;
                if let Some(limit) = limit {
                    users.truncate(*limit);
                }
                Ok(users)
            }
            Users::Synthetic { users, group_size } => Ok(world::synthetic(*users, *group_size)),
        }
    }

    /// The bodies of `bodies_file`, escaped for a JSON string (`send_frame` inserts them as
    /// they are); none without a file.
    pub fn load_bodies(&self) -> anyhow::Result<Vec<String>> {
        #[derive(Deserialize)]
        struct Bodies {
            sample_bodies: Vec<String>,
        }
        let Some(path) = &self.bodies_file else { return Ok(Vec::new()) };
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let file: Bodies = serde_json::from_slice(&bytes).with_context(|| format!("parsing {}", path.display()))?;
        file.sample_bodies.iter().map(|body| Ok(json_string_content(body)?)).collect()
    }

    /// The users worker `index` of `self.workers` drives: contiguous slices, so a group's
    /// members mostly share a worker.
    pub fn share(&self, total: usize, index: usize) -> std::ops::Range<usize> {
        let workers = self.workers.max(1);
        let start = total * index / workers;
        let end = total * (index + 1) / workers;
        start..end
    }
}

/// `text` as it appears between the quotes of a JSON string.
fn json_string_content(text: &str) -> serde_json::Result<String> {
    let quoted = serde_json::to_string(text)?;
    Ok(quoted[1..quoted.len() - 1].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_read_escaped_for_a_frame() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("seed.json");
        std::fs::write(&path, r#"{"users": [], "sample_bodies": ["Chào \"anh\" Đức 👍", "ok"]}"#).unwrap();
        let mut plan = plan();
        assert!(plan.load_bodies().unwrap().is_empty(), "no file, no bodies");
        plan.bodies_file = Some(path);
        let bodies = plan.load_bodies().unwrap();
        assert_eq!(bodies, [r#"Chào \"anh\" Đức 👍"#, "ok"]);
        let frame = Protocol::Chat.send_frame(1, "c", "m", &format!("123 {}", bodies[0]));
        let value: serde_json::Value = serde_json::from_str(&frame).unwrap();
        assert_eq!(value["body"], "123 Chào \"anh\" Đức 👍");
    }

    fn plan() -> Plan {
        Plan {
            protocol: Protocol::Chat,
            server: "127.0.0.1:1".parse().unwrap(),
            users: Users::Synthetic { users: 10, group_size: 10 },
            scenario: Scenario::Idle { hold_secs: 1 },
            connect_rate: 1,
            source_addrs: vec![],
            workers: 3,
            body_bytes: 10,
            drain: Duration::from_secs(1),
            bodies_file: None,
            bodies: Vec::new(),
        }
    }

    #[test]
    fn shares_cover_every_user_once() {
        let plan = plan();
        let shares: Vec<_> = (0..3).map(|i| plan.share(10, i)).collect();
        assert_eq!(shares, vec![0..3, 3..6, 6..10]);
    }
}
