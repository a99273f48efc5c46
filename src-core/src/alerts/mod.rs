//! Alerts worth waking up for, computed from the history with the clock
//! passed in: a tool's error rate above its baseline, a tool's p99 latency
//! spiking against its own, a tool's budget exhausted (naming the agent that
//! drained it), and auth failures spiking (naming the source). Each fires
//! once per episode, says why with the numbers, and resolves when its
//! condition clears. `gatehouse alerts` evaluates on demand; running `serve`
//! processes evaluate in the background (`watch`), never on a call's path.
//! One process at a time holds the evaluation (a slot in the database), so
//! processes whose thresholds differ don't take turns opening and resolving.

pub mod baseline;
pub mod rules;
pub mod watch;

use crate::clock::UnixMillis;
use crate::config::AlertsConfig;
use crate::store::{AlertChanges, Finding, HistoryReads, Store, StoreError};
pub use crate::store::{Evaluator, may_evaluate};
use crate::views::AlertView;
use baseline::{Baseline, Periods};

/// Every rule that holds at `now`: the window read from `reads` (inside the
/// evaluation's transaction), compared with `base`.
pub fn findings(
    reads: &HistoryReads<'_>,
    base: &Baseline,
    cfg: &AlertsConfig,
    now: UnixMillis,
) -> Result<Vec<Finding>, StoreError> {
    let p = Periods::at(now, cfg);
    let window = reads.tool_stats(p.window_start, p.window_end)?;
    let mut out = Vec::new();
    for w in &window {
        let b = base.tools.iter().find(|b| b.tool == w.tool);
        out.extend(rules::error_rate(w, b, p.window_start, cfg));
        // Latency needs a baseline too; only then is it worth the quantile reads.
        if baseline::needs_p99(w, b, p.window_start, cfg) {
            let (n, p99) = reads.latency_quantile(&w.tool, p.window_start, p.window_end, 0.99)?;
            if let (Some(p99), Some(base)) = (p99, base.p99(reads, &w.tool, &p)?) {
                out.extend(rules::latency_spike(&w.tool, (n, p99), base, cfg));
            }
        }
    }
    for b in reads.budget_refusals(p.window_start)? {
        out.extend(match b.agent.as_deref() {
            // One agent's budget on the tool: that agent, no one else, ran it dry.
            Some(agent) if b.scope == "agent_tool" => {
                let passed = reads.agent_tool_calls(agent, &b.tool, p.window_start)?;
                rules::agent_tool_budget_exhausted(&b.tool, agent, b.refusals, passed, cfg)
            }
            // The tool's budget shared by all agents: its busiest consumer.
            _ => {
                let consumers = reads.tool_consumers(&b.tool, p.window_start)?;
                rules::budget_exhausted(&b.tool, b.refusals, &consumers, cfg)
            }
        });
    }
    let auth_window = reads.auth_failures(p.window_start, p.window_end)?;
    if !auth_window.is_empty() {
        out.extend(rules::auth_failures(&auth_window, &base.auth, cfg));
    }
    Ok(out)
}

/// Evaluates every rule at `now` on demand (`gatehouse alerts`, the tray's
/// Alerts page) and records what changed: new episodes open, cleared ones
/// resolve. Nothing changes while a background evaluator holds the
/// evaluation slot: its result, at most `check_every` old, is current.
pub fn evaluate(
    store: &Store,
    cfg: &AlertsConfig,
    now: UnixMillis,
) -> Result<AlertChanges, StoreError> {
    Ok(evaluate_as(store, cfg, now, &Evaluator::OnDemand)?.unwrap_or_default())
}

/// Evaluates every rule at `now` and records what changed, if it is `who`'s
/// turn ([`may_evaluate`]): `None` when another background evaluator holds
/// the evaluation slot (or `who`, one, evaluated less than `check_every`
/// ago). The window is read, the rules run and their findings are applied
/// in one `BEGIN IMMEDIATE` transaction, which decides the turn again; only
/// the baseline (the past) is read before it, without a lock.
pub fn evaluate_as(
    store: &Store,
    cfg: &AlertsConfig,
    now: UnixMillis,
    who: &Evaluator,
) -> Result<Option<AlertChanges>, StoreError> {
    // A plain read first: most looks find it is not their turn, and read nothing more.
    if !may_evaluate(store.alerts_checked()?.as_ref(), who, now, cfg.check_every) {
        return Ok(None);
    }
    let base = Baseline::read(store, cfg, now)?;
    store.evaluate_alerts(who, cfg.check_every, now, |reads| {
        findings(reads, &base, cfg, now)
    })
}

/// Evaluates at `now` as this process's background evaluator (`serve`'s
/// watcher, the tray), when it is its turn: `None` when another process
/// holds the evaluation slot, or this one evaluated less than `check_every` ago.
pub fn evaluate_if_due(
    store: &Store,
    cfg: &AlertsConfig,
    now: UnixMillis,
) -> Result<Option<AlertChanges>, StoreError> {
    evaluate_as(store, cfg, now, Evaluator::this_process())
}

/// The alerts open now, newest first.
pub fn open(store: &Store) -> Result<Vec<AlertView>, StoreError> {
    Ok(store
        .alerts(UnixMillis(i64::MAX))?
        .iter()
        .filter(|a| a.state == "open")
        .map(AlertView::from)
        .collect())
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
