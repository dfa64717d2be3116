//! What the search benchmark measured, per query shape, and how it is printed.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::client::Outcome;
use crate::coordinator::RunReport;
use crate::stats::latency_histogram;

/// The target for every query shape.
pub const TARGET_P95_MS: f64 = 50.0;

/// One query shape being measured.
pub struct ShapeStats {
    pub shape: String,
    pub q: String,
    /// The cursor of the page asked for (the second page of a query), if any.
    pub cursor: Option<String>,
    /// Matches the seed counted for the benchmark user.
    pub expected: Option<usize>,
    /// Results of the check before the run.
    pub first_results: usize,
    latencies: Histogram<u64>,
    results: Vec<usize>,
    errors: BTreeMap<String, u64>,
}

impl ShapeStats {
    pub fn new(
        shape: String,
        q: String,
        cursor: Option<String>,
        expected: Option<usize>,
        first_results: usize,
    ) -> Self {
        ShapeStats {
            shape,
            q,
            cursor,
            expected,
            first_results,
            latencies: latency_histogram(),
            results: Vec::new(),
            errors: BTreeMap::new(),
        }
    }

    /// Counts one search: its latency if it was answered with results, else its error.
    pub fn record(&mut self, outcome: anyhow::Result<(Duration, Outcome)>) {
        match outcome {
            Ok((took, Outcome::Found { results, .. })) => {
                let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX).max(1);
                self.latencies.saturating_record(micros);
                self.results.push(results);
            }
            Ok((_, Outcome::Refused { status, code })) => {
                *self.errors.entry(format!("{status} {code}")).or_default() += 1
            }
            Err(error) => *self.errors.entry(format!("{error:#}")).or_default() += 1,
        }
    }

    pub fn report(&self) -> ShapeReport {
        let ms = |quantile: f64| self.latencies.value_at_quantile(quantile) as f64 / 1000.0;
        let answered = self.latencies.len();
        ShapeReport {
            shape: self.shape.clone(),
            q: self.q.clone(),
            second_page: self.cursor.is_some(),
            expected: self.expected,
            first_results: self.first_results,
            searches: answered + self.errors.values().sum::<u64>(),
            answered,
            errors: self.errors.clone(),
            results_min: self.results.iter().copied().min().unwrap_or(0),
            results_max: self.results.iter().copied().max().unwrap_or(0),
            p50_ms: ms(0.5),
            p95_ms: ms(0.95),
            p99_ms: ms(0.99),
            max_ms: self.latencies.max() as f64 / 1000.0,
        }
    }
}

/// One shape's figures, as printed and written.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ShapeReport {
    pub shape: String,
    pub q: String,
    pub second_page: bool,
    pub expected: Option<usize>,
    pub first_results: usize,
    pub searches: u64,
    pub answered: u64,
    pub errors: BTreeMap<String, u64>,
    pub results_min: usize,
    pub results_max: usize,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl ShapeReport {
    /// The shape as printed: "common word", "common word, page 2".
    pub fn name(&self) -> String {
        if self.second_page { format!("{}, page 2", self.shape) } else { self.shape.clone() }
    }

    pub fn meets_target(&self) -> bool {
        self.answered > 0 && self.errors.is_empty() && self.p95_ms <= TARGET_P95_MS
    }
}

/// The whole run.
#[derive(Serialize, Deserialize)]
pub struct SearchReport {
    pub label: String,
    pub duration_secs: u64,
    /// Searches per second asked for, over all shapes.
    pub search_rate: f64,
    /// Messages per second asked for.
    pub send_rate: f64,
    pub limit: u32,
    pub shapes: Vec<ShapeReport>,
    /// The send load's own report (ack latency, server CPU), when messages were sent.
    pub sends: Option<RunReport>,
}

pub fn print(report: &SearchReport) {
    println!(
        "{}: {} s, {} searches/s over {} shapes (limit {}), {} messages/s sent meanwhile",
        report.label,
        report.duration_secs,
        report.search_rate,
        report.shapes.len(),
        report.limit,
        report.send_rate
    );
    if !report.shapes.is_empty() {
        println!(
            "{:<24} {:<18} {:>8} {:>9} {:>8} {:>6} {:>8} {:>8} {:>8} {:>8}",
            "shape", "query", "expected", "results", "searches", "errors", "p50 ms", "p95 ms", "p99 ms", "max ms"
        );
    }
    for shape in &report.shapes {
        let results = if shape.results_min == shape.results_max {
            shape.results_min.to_string()
        } else {
            format!("{}-{}", shape.results_min, shape.results_max)
        };
        let latencies = if shape.answered == 0 {
            format!("{:>8} {:>8} {:>8} {:>8}", "-", "-", "-", "-")
        } else {
            format!("{:>8.2} {:>8.2} {:>8.2} {:>8.1}", shape.p50_ms, shape.p95_ms, shape.p99_ms, shape.max_ms)
        };
        println!(
            "{:<24} {:<18} {:>8} {:>9} {:>8} {:>6} {latencies}",
            shape.name(),
            format!("{:?}", shape.q),
            shape.expected.map_or("-".to_owned(), |n| n.to_string()),
            if shape.answered == 0 { "-".to_owned() } else { results },
            shape.searches,
            shape.errors.values().sum::<u64>(),
        );
    }
    for shape in report.shapes.iter().filter(|s| !s.errors.is_empty()) {
        println!("errors of {}: {:?}", shape.name(), shape.errors);
    }
    if let Some(sends) = &report.sends {
        // CPU-ms per acknowledged message: what a send costs each process, the search load
        // included when there was one.
        let per_message = |percent: f64| percent / 100.0 * sends.window_secs * 1000.0 / sends.acked.max(1) as f64;
        let mut other: Vec<String> = sends
            .watched_cpu_percent
            .iter()
            .map(|(n, p)| format!("{n} {p:.1}% ({:.3} CPU-ms a message)", per_message(*p)))
            .collect();
        other.sort();
        println!(
            "sends: {} acked ({:.0}/s), {} refused, {} unanswered; send→ack p50 {:.2} / p99 {:.2} ms; server CPU {:.1}% ({:.3} CPU-ms a message), {}",
            sends.acked,
            sends.acked_per_sec,
            sends.refused.values().sum::<u64>(),
            sends.unanswered,
            sends.ack_latency.p50_ms,
            sends.ack_latency.p99_ms,
            sends.server_cpu_percent,
            per_message(sends.server_cpu_percent),
            if other.is_empty() { "other processes not watched".to_owned() } else { other.join(", ") }
        );
    }
    if report.shapes.is_empty() {
        return;
    }
    let unmeasured: Vec<String> = report.shapes.iter().filter(|s| s.answered == 0).map(ShapeReport::name).collect();
    if !unmeasured.is_empty() {
        println!("not measured (no search answered; a longer run or a higher rate): {unmeasured:?}");
    }
    let missed: Vec<String> =
        report.shapes.iter().filter(|s| s.answered > 0 && !s.meets_target()).map(ShapeReport::name).collect();
    if missed.is_empty() {
        println!("target p95 <= {TARGET_P95_MS} ms: met by every shape measured");
    } else {
        println!("target p95 <= {TARGET_P95_MS} ms: MISSED by {missed:?}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_errors_per_shape() {
        let mut stats = ShapeStats::new("common word".into(), "khong".into(), None, Some(100), 20);
        for ms in 1..=100u64 {
            let outcome = Outcome::Found { results: 20, next_cursor: None };
            stats.record(Ok((Duration::from_millis(ms), outcome)));
        }
        stats.record(Ok((Duration::from_millis(1), Outcome::Refused { status: 429, code: "rate_limited".into() })));
        let report = stats.report();
        assert_eq!((report.searches, report.answered), (101, 100));
        assert_eq!(report.errors.get("429 rate_limited"), Some(&1));
        assert!((report.p50_ms - 50.0).abs() < 0.1 && (report.p95_ms - 95.0).abs() < 0.1, "{report:?}");
        assert!((report.max_ms - 100.0).abs() < 0.1);
        assert!(!report.meets_target(), "errors and a p95 over 50 ms");
        let mut fast = ShapeStats::new("no hit".into(), "kangaroo".into(), None, Some(0), 0);
        fast.record(Ok((Duration::from_millis(3), Outcome::Found { results: 0, next_cursor: None })));
        assert!(fast.report().meets_target());
    }
}
