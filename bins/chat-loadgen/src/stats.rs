//! Latency histograms and counters that worker processes fill and the coordinator merges.

use std::collections::HashMap;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Latencies in microseconds, up to 10 minutes, 3 significant digits.
#[allow(clippy::expect_used)] // constant bounds that hdrhistogram accepts
pub fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds")
}

/// A histogram as the (value, count) pairs it holds, to cross a process boundary.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Recorded(pub Vec<(u64, u64)>);

impl Recorded {
    pub fn of(histogram: &Histogram<u64>) -> Self {
        Recorded(histogram.iter_recorded().map(|v| (v.value_iterated_to(), v.count_at_value())).collect())
    }

    pub fn add_to(&self, histogram: &mut Histogram<u64>) {
        for &(value, count) in &self.0 {
            // Values came from a histogram with the same bounds.
            let _ = histogram.record_n(value, count);
        }
    }
}

/// Percentiles of one latency, in milliseconds.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Percentiles {
    pub count: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

impl Percentiles {
    pub fn of(histogram: &Histogram<u64>) -> Self {
        let ms = |micros: u64| micros as f64 / 1000.0;
        Percentiles {
            count: histogram.len(),
            p50_ms: ms(histogram.value_at_quantile(0.5)),
            p99_ms: ms(histogram.value_at_quantile(0.99)),
            p999_ms: ms(histogram.value_at_quantile(0.999)),
            max_ms: ms(histogram.max()),
        }
    }
}

/// For one conversation, what its members on one worker saw: the coordinator adds these up
/// across workers to count lost messages.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub struct SeqTally {
    /// Messages the server acknowledged to senders on this worker.
    pub acked: u64,
    /// Members connected on this worker.
    pub members: u64,
    /// Distinct seqs the members saw, counting their own acks (summed over members).
    pub seen: u64,
}

impl SeqTally {
    pub fn add(&mut self, other: SeqTally) {
        self.acked += other.acked;
        self.members += other.members;
        self.seen += other.seen;
    }
}

/// Everything one worker process measured.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct WorkerReport {
    pub connected: u64,
    pub connect_failed: u64,
    /// Sockets the server closed (or that broke) before the run ended, by close code.
    pub dropped: HashMap<String, u64>,
    pub sent: u64,
    pub acked: u64,
    /// Sends the server refused, by error code.
    pub refused: HashMap<String, u64>,
    /// Sends with neither ack nor error when the run ended.
    pub unanswered: u64,
    pub delivered: u64,
    pub duplicates: u64,
    pub heartbeats: u64,
    /// When the last ack or delivery arrived (µs since the epoch).
    pub last_activity_unix_micros: u64,
    pub connect_latency: Recorded,
    pub ack_latency: Recorded,
    pub deliver_latency: Recorded,
    pub tallies: HashMap<String, SeqTally>,
}

impl WorkerReport {
    pub fn merge(&mut self, other: WorkerReport) {
        self.connected += other.connected;
        self.connect_failed += other.connect_failed;
        for (code, count) in other.dropped {
            *self.dropped.entry(code).or_default() += count;
        }
        self.sent += other.sent;
        self.acked += other.acked;
        for (code, count) in other.refused {
            *self.refused.entry(code).or_default() += count;
        }
        self.unanswered += other.unanswered;
        self.delivered += other.delivered;
        self.duplicates += other.duplicates;
        self.heartbeats += other.heartbeats;
        self.last_activity_unix_micros = self.last_activity_unix_micros.max(other.last_activity_unix_micros);
        self.connect_latency.0.extend(other.connect_latency.0);
        self.ack_latency.0.extend(other.ack_latency.0);
        self.deliver_latency.0.extend(other.deliver_latency.0);
        for (conversation, tally) in other.tallies {
            self.tallies.entry(conversation).or_default().add(tally);
        }
    }

    /// Deliveries that should have happened and did not: every member of a conversation
    /// should have seen every acknowledged message of the run once (its own by ack).
    pub fn lost(&self) -> u64 {
        self.tallies.values().map(|t| (t.members * t.acked).saturating_sub(t.seen)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_survive_the_trip_between_processes() {
        let mut a = latency_histogram();
        for micros in [100, 200, 300, 40_000] {
            a.record(micros).unwrap();
        }
        let json = serde_json::to_string(&Recorded::of(&a)).unwrap();
        let back: Recorded = serde_json::from_str(&json).unwrap();
        let mut merged = latency_histogram();
        back.add_to(&mut merged);
        back.add_to(&mut merged);
        assert_eq!(merged.len(), 8);
        assert_eq!(merged.max(), a.max());
    }

    #[test]
    fn loss_counts_what_members_did_not_see() {
        let mut report = WorkerReport::default();
        // Two workers share a group of 3: 10 messages acked in all; one member missed two.
        let mut first = WorkerReport::default();
        first.tallies.insert("g".into(), SeqTally { acked: 6, members: 2, seen: 20 });
        let mut second = WorkerReport::default();
        second.tallies.insert("g".into(), SeqTally { acked: 4, members: 1, seen: 8 });
        report.merge(first);
        report.merge(second);
        assert_eq!(report.lost(), 2);
    }
}
