//! What the rules compare against: the aggregates of the baseline period
//! (the `baseline_hours` before the window). That period lies in the past,
//! so it is read before an evaluation's write transaction: a day of history
//! takes tens of milliseconds to aggregate (measured: `alerts` benchmark),
//! and every writer (each call's budget take and history row) would wait
//! for it. What can still change, the window, is read inside.

use std::collections::BTreeMap;

use crate::clock::UnixMillis;
use crate::config::AlertsConfig;
use crate::store::{AuthFailures, HistoryReads, Store, StoreError, ToolStats};

use super::rules;

/// The baseline period's aggregates, for one evaluation at `now`.
#[derive(Clone, Debug, Default)]
pub struct Baseline {
    /// Per tool: calls that ran and failed.
    pub tools: Vec<ToolStats>,
    /// Per tool with a baseline and enough calls in the window when read:
    /// its p99 latency in µs (none: no completed calls).
    pub p99: BTreeMap<String, Option<i64>>,
    /// Auth failures per source and reason.
    pub auth: Vec<AuthFailures>,
}

/// The window of an evaluation at `now`: `[start, end)`, and the baseline's start.
pub struct Periods {
    /// Where the window starts (and the baseline ends).
    pub window_start: UnixMillis,
    /// Just after `now`.
    pub window_end: UnixMillis,
    /// Where the baseline starts.
    pub baseline_start: UnixMillis,
}

impl Periods {
    /// The periods of an evaluation at `now`.
    pub fn at(now: UnixMillis, cfg: &AlertsConfig) -> Self {
        let window_start = now.plus(-(cfg.window.as_millis() as i64));
        Self {
            window_start,
            window_end: now.plus(1),
            baseline_start: window_start.plus(-(cfg.baseline.as_millis() as i64)),
        }
    }
}

impl Baseline {
    /// Reads the baseline with plain reads (no write lock), one statement
    /// at a time so this process's calls can use the connection between them.
    pub fn read(store: &Store, cfg: &AlertsConfig, now: UnixMillis) -> Result<Self, StoreError> {
        let p = Periods::at(now, cfg);
        let tools = store.read_history(|r| r.tool_stats(p.baseline_start, p.window_start))?;
        let window = store.read_history(|r| r.tool_stats(p.window_start, p.window_end))?;
        let mut p99 = BTreeMap::new();
        for w in &window {
            let b = tools.iter().find(|b| b.tool == w.tool);
            if needs_p99(w, b, p.window_start, cfg) {
                let q = store.read_history(|r| base_p99(r, &w.tool, &p))?;
                p99.insert(w.tool.clone(), q);
            }
        }
        let auth = store.read_history(|r| r.auth_failures(p.baseline_start, p.window_start))?;
        Ok(Self { tools, p99, auth })
    }

    /// The tool's baseline p99, read now (inside the transaction) when it was
    /// not read before: the tool crossed `latency_min_calls` meanwhile.
    pub fn p99(
        &self,
        reads: &HistoryReads<'_>,
        tool: &str,
        p: &Periods,
    ) -> Result<Option<i64>, StoreError> {
        match self.p99.get(tool) {
            Some(q) => Ok(*q),
            None => base_p99(reads, tool, p),
        }
    }
}

/// Whether the latency rule needs the tool's baseline p99: enough calls in
/// the window, and a baseline to compare with.
pub fn needs_p99(
    window: &ToolStats,
    base: Option<&ToolStats>,
    window_start: UnixMillis,
    cfg: &AlertsConfig,
) -> bool {
    window.calls >= u64::from(cfg.latency_min_calls) && rules::has_baseline(base, window_start, cfg)
}

fn base_p99(reads: &HistoryReads<'_>, tool: &str, p: &Periods) -> Result<Option<i64>, StoreError> {
    Ok(reads
        .latency_quantile(tool, p.baseline_start, p.window_start, 0.99)?
        .1)
}
