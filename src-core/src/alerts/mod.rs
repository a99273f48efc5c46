//! Alerts worth waking up for, computed from the history with the clock
//! passed in: a tool's error rate above its baseline, a tool's p99 latency
//! spiking against its own, a tool's budget exhausted (naming the agent that
//! drained it), and auth failures spiking (naming the source). Each fires
//! once per episode, says why with the numbers, and resolves when its
//! condition clears. `gatehouse alerts` evaluates on demand; running `serve`
//! processes evaluate in the background (`watch`), never on a call's path.

pub mod rules;
pub mod watch;

use crate::clock::UnixMillis;
use crate::config::AlertsConfig;
use crate::store::{AlertChanges, Finding, Store, StoreError};
use crate::views::AlertView;

/// Every rule that holds at `now`, read from the history.
pub fn findings(
    store: &Store,
    cfg: &AlertsConfig,
    now: UnixMillis,
) -> Result<Vec<Finding>, StoreError> {
    let window_start = now.plus(-(cfg.window.as_millis() as i64));
    let baseline_start = window_start.plus(-(cfg.baseline.as_millis() as i64));
    let window = store.tool_stats(window_start, now.plus(1))?;
    let baseline = store.tool_stats(baseline_start, window_start)?;
    let mut out = Vec::new();
    for w in &window {
        let b = baseline.iter().find(|b| b.tool == w.tool);
        out.extend(rules::error_rate(w, b, window_start, cfg));
        // Latency needs a baseline too; only then is it worth two quantile reads.
        if w.calls >= u64::from(cfg.latency_min_calls) && rules::has_baseline(b, window_start, cfg)
        {
            let (n, p99) = store.latency_quantile(&w.tool, window_start, now.plus(1), 0.99)?;
            let (_, base) = store.latency_quantile(&w.tool, baseline_start, window_start, 0.99)?;
            if let (Some(p99), Some(base)) = (p99, base) {
                out.extend(rules::latency_spike(&w.tool, (n, p99), base, cfg));
            }
        }
    }
    for b in store.budget_refusals(window_start)? {
        out.extend(match b.agent.as_deref() {
            // One agent's budget on the tool: that agent, no one else, ran it dry.
            Some(agent) if b.scope == "agent_tool" => {
                let passed = store.agent_tool_calls(agent, &b.tool, window_start)?;
                rules::agent_tool_budget_exhausted(&b.tool, agent, b.refusals, passed, cfg)
            }
            // The tool's budget shared by all agents: its busiest consumer.
            _ => {
                let consumers = store.tool_consumers(&b.tool, window_start)?;
                rules::budget_exhausted(&b.tool, b.refusals, &consumers, cfg)
            }
        });
    }
    let auth_window = store.auth_failures(window_start, now.plus(1))?;
    if !auth_window.is_empty() {
        let auth_baseline = store.auth_failures(baseline_start, window_start)?;
        out.extend(rules::auth_failures(&auth_window, &auth_baseline, cfg));
    }
    Ok(out)
}

/// Evaluates every rule at `now` and records what changed: new episodes
/// open, cleared ones resolve.
pub fn evaluate(
    store: &Store,
    cfg: &AlertsConfig,
    now: UnixMillis,
) -> Result<AlertChanges, StoreError> {
    let found = findings(store, cfg, now)?;
    store.apply_alerts(&found, now)
}

/// What `gatehouse alerts` lists: open alerts and those resolved in the last
/// `recent_days`, newest first.
pub fn list(
    store: &Store,
    now: UnixMillis,
    recent_days: u32,
) -> Result<Vec<AlertView>, StoreError> {
    let since = now.plus(-i64::from(recent_days) * 86_400_000);
    Ok(store.alerts(since)?.iter().map(AlertView::from).collect())
}

#[cfg(test)]
mod tests;
