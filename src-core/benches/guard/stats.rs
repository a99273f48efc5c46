//! Latency samples and their percentiles (nearest rank), printed as one table row.

use std::time::Duration;

/// Latencies in nanoseconds.
#[derive(Clone, Debug, Default)]
pub struct Samples(Vec<u64>);

/// The percentiles of one set of samples, in nanoseconds.
#[derive(Clone, Copy, Debug)]
pub struct Summary {
    pub n: usize,
    pub mean: f64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
}

impl Samples {
    pub fn with_capacity(n: usize) -> Self {
        Self(Vec::with_capacity(n))
    }

    pub fn push(&mut self, d: Duration) {
        self.0.push(d.as_nanos() as u64);
    }

    pub fn push_ns(&mut self, ns: u64) {
        self.0.push(ns);
    }

    pub fn extend(&mut self, other: &Samples) {
        self.0.extend_from_slice(&other.0);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// How many samples are above `limit`.
    pub fn count_over(&self, limit: Duration) -> usize {
        let l = limit.as_nanos() as u64;
        self.0.iter().filter(|&&x| x > l).count()
    }

    pub fn summary(&self) -> Summary {
        let mut v = self.0.clone();
        v.sort_unstable();
        let rank = |q: f64| -> u64 {
            if v.is_empty() {
                return 0;
            }
            // Nearest rank: the smallest sample with at least q of all samples at or below it.
            let i = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
            v[i]
        };
        Summary {
            n: v.len(),
            mean: if v.is_empty() {
                0.0
            } else {
                v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64
            },
            p50: rank(0.50),
            p90: rank(0.90),
            p99: rank(0.99),
            p999: rank(0.999),
            max: v.last().copied().unwrap_or(0),
        }
    }
}

/// A duration in nanoseconds, in µs with one decimal.
pub fn us(ns: u64) -> String {
    format!("{:.1}", ns as f64 / 1e3)
}

/// A signed difference in nanoseconds, in µs.
pub fn us_signed(ns: i64) -> String {
    format!("{:+.1}", ns as f64 / 1e3)
}

/// The header of the table `row` prints (all times in µs).
pub fn header(title: &str) {
    println!();
    println!("## {title}");
    println!();
    println!(
        "| {:<50} | {:>7} | {:>9} | {:>9} | {:>9} | {:>9} | {:>9} | {:>9} |",
        "what (µs)", "n", "mean", "p50", "p90", "p99", "p99.9", "max"
    );
    println!(
        "|{:-<52}|{:->9}|{:->11}|{:->11}|{:->11}|{:->11}|{:->11}|{:->11}|",
        "", ":", ":", ":", ":", ":", ":", ":"
    );
}

/// One table row.
pub fn row(what: &str, s: &Summary) {
    println!(
        "| {:<50} | {:>7} | {:>9} | {:>9} | {:>9} | {:>9} | {:>9} | {:>9} |",
        what,
        s.n,
        us(s.mean as u64),
        us(s.p50),
        us(s.p90),
        us(s.p99),
        us(s.p999),
        us(s.max)
    );
}
