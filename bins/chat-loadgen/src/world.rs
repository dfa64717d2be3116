//! Who connects and where they talk: read from `chatctl seed-load`'s file for our server,
//! or laid out the same way (groups of `group_size`, pairs for direct conversations) for the
//! Socket.IO reference, which keeps no users.

use std::path::Path;

use anyhow::Context;
use serde::Deserialize;

/// One simulated user: the token to connect with and up to two conversations.
#[derive(Clone, Debug)]
pub struct LoadUser {
    /// The access token (our server) or a user name (Socket.IO reference).
    pub credential: String,
    pub direct: Option<String>,
    pub group: Option<String>,
}

impl LoadUser {
    /// The conversations this user is in; index 0 is the direct one when there is one.
    pub fn conversations(&self) -> impl Iterator<Item = &str> {
        self.direct.iter().chain(self.group.iter()).map(String::as_str)
    }
}

/// The file `chatctl seed-load` writes (see bins/chatctl/src/seed_load.rs).
#[derive(Deserialize)]
struct SeedFile {
    users: Vec<SeedUser>,
}

#[derive(Deserialize)]
struct SeedUser {
    access_token: String,
    direct: Option<String>,
    group: Option<String>,
}

pub fn from_seed_file(path: &Path) -> anyhow::Result<Vec<LoadUser>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let file: SeedFile = serde_json::from_slice(&bytes).with_context(|| format!("parsing {}", path.display()))?;
    Ok(file
        .users
        .into_iter()
        .map(|user| LoadUser { credential: user.access_token, direct: user.direct, group: user.group })
        .collect())
}

/// The same shape `seed-load` gives, with made-up conversation names.
pub fn synthetic(users: usize, group_size: usize) -> Vec<LoadUser> {
    let group_size = group_size.max(2);
    let full_groups = users / group_size + usize::from(users % group_size >= 2);
    (0..users)
        .map(|n| LoadUser {
            credential: format!("u{n}"),
            direct: (n / 2 < users / 2).then(|| format!("d{}", n / 2)),
            group: (n / group_size < full_groups).then(|| format!("g{}", n / group_size)),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_world_pairs_and_groups_like_the_seed() {
        let world = synthetic(23, 10);
        assert_eq!(world[0].direct.as_deref(), Some("d0"));
        assert_eq!(world[1].direct.as_deref(), Some("d0"));
        // 23 users: 11 pairs, the last user has no partner.
        assert_eq!(world[21].direct.as_deref(), Some("d10"));
        assert_eq!(world[22].direct, None);
        // Groups of 10, 10 and 3.
        assert_eq!(world[9].group.as_deref(), Some("g0"));
        assert_eq!(world[10].group.as_deref(), Some("g1"));
        assert_eq!(world[22].group.as_deref(), Some("g2"));
        // A lone leftover user gets no group.
        assert_eq!(synthetic(21, 10)[20].group, None);
    }
}
