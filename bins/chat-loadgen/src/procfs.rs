//! Resident memory and CPU time of processes, read from /proc (Linux).

use std::collections::HashMap;
use std::fs;

/// Linux reports CPU times in clock ticks of `USER_HZ`, which is 100 on every architecture
/// Linux supports today (the kernel's HZ may differ; /proc converts).
const TICKS_PER_SECOND: f64 = 100.0;

#[derive(Clone, Copy, Debug, Default)]
pub struct Usage {
    pub rss_kib: u64,
    /// User plus system CPU time, in ticks.
    pub cpu_ticks: u64,
}

impl Usage {
    pub fn cpu_seconds(self) -> f64 {
        self.cpu_ticks as f64 / TICKS_PER_SECOND
    }
}

/// The usage of one process, or `None` when it is gone.
pub fn usage(pid: u32) -> Option<Usage> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss_kib = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .unwrap_or(0);
    Some(Usage { rss_kib, cpu_ticks: cpu_ticks(&stat)? })
}

/// The summed usage of several processes (those that are gone count nothing).
pub fn total(pids: &[u32]) -> Usage {
    pids.iter().filter_map(|&pid| usage(pid)).fold(Usage::default(), |sum, u| Usage {
        rss_kib: sum.rss_kib + u.rss_kib,
        cpu_ticks: sum.cpu_ticks + u.cpu_ticks,
    })
}

/// CPU ticks of every process whose command name is `comm` (e.g. all Postgres backends),
/// by pid: a backend that starts during a run counts from zero.
pub fn ticks_by_command(comm: &str) -> HashMap<u32, u64> {
    let Ok(entries) = fs::read_dir("/proc") else { return HashMap::new() };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| Some((entry.file_name().to_str()?.parse::<u32>().ok()?, entry.path())))
        .filter_map(|(pid, path)| Some((pid, fs::read_to_string(path.join("stat")).ok()?)))
        .filter(|(_, stat)| command_name(stat) == Some(comm))
        .filter_map(|(pid, stat)| Some((pid, cpu_ticks(&stat)?)))
        .collect()
}

/// Ticks spent between two readings of [`ticks_by_command`].
pub fn ticks_between(start: &HashMap<u32, u64>, end: &HashMap<u32, u64>) -> u64 {
    end.iter().map(|(pid, ticks)| ticks.saturating_sub(start.get(pid).copied().unwrap_or(0))).sum()
}

fn command_name(stat: &str) -> Option<&str> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    stat.get(open + 1..close)
}

/// utime + stime: fields 14 and 15 of /proc/<pid>/stat. The command name (field 2) may hold
/// spaces and parentheses, so count from the last ')'.
fn cpu_ticks(stat: &str) -> Option<u64> {
    let after_name = stat.get(stat.rfind(')')? + 1..)?;
    let mut fields = after_name.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some(user + system)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_lines_with_awkward_names() {
        let stat = "1234 (a (weird) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 3 0 100 1000 200";
        assert_eq!(command_name(stat), Some("a (weird) name"));
        assert_eq!(cpu_ticks(stat), Some(325));
    }

    #[test]
    fn reads_its_own_process() {
        let me = usage(std::process::id()).unwrap();
        assert!(me.rss_kib > 0);
    }
}
