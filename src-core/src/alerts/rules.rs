//! The four alert rules, pure: each takes numbers read from the history and
//! the thresholds, and says whether it holds now and why, with the numbers.
//! A rule holding is a `Finding`; `store::apply_alerts` turns findings into
//! episodes (open once, resolve when the finding goes away).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::clock::UnixMillis;
use crate::config::AlertsConfig;
use crate::store::{AuthFailures, Finding, ToolStats};

/// "10 min", "24 h", "90 s": a window as the `why` texts name it.
pub fn span(d: Duration) -> String {
    let s = d.as_secs();
    if s.is_multiple_of(3_600) {
        format!("{} h", s / 3_600)
    } else if s.is_multiple_of(60) {
        format!("{} min", s / 60)
    } else {
        format!("{s} s")
    }
}

fn pct(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

/// Whether a tool's calls in the baseline period (`b`) are enough to compare
/// with: `baseline_min_calls` calls, the first at least `baseline_min_span`
/// before the window starts.
pub fn has_baseline(b: Option<&ToolStats>, window_start: UnixMillis, cfg: &AlertsConfig) -> bool {
    b.is_some_and(|b| {
        b.calls >= u64::from(cfg.baseline_min_calls)
            && window_start.saturating_since(b.first) >= cfg.baseline_min_span.as_millis() as i64
    })
}

/// `error_rate`: the tool's share of failed calls in the window is both
/// `error_rate_factor` times and `error_rate_min_points` points above its baseline.
pub fn error_rate(
    w: &ToolStats,
    b: Option<&ToolStats>,
    window_start: UnixMillis,
    cfg: &AlertsConfig,
) -> Option<Finding> {
    if w.calls < u64::from(cfg.error_min_calls) || !has_baseline(b, window_start, cfg) {
        return None;
    }
    let b = b?;
    let (now_pct, base_pct) = (pct(w.errors, w.calls), pct(b.errors, b.calls));
    let fires = w.errors > 0
        && now_pct >= base_pct * cfg.error_rate_factor
        && now_pct - base_pct >= f64::from(cfg.error_rate_min_points);
    fires.then(|| Finding {
        kind: "error_rate",
        subject: w.tool.clone(),
        why: format!(
            "{}: {} of {} calls failed in the last {} ({now_pct:.1}%), against {base_pct:.1}% ({} of {}) in the {} before",
            w.tool,
            w.errors,
            w.calls,
            span(cfg.window),
            b.errors,
            b.calls,
            span(cfg.baseline)
        ),
    })
}

/// `latency_spike`: the tool's p99 in the window (over `window.0` completed
/// calls, `window.1` µs) against its own p99 in the baseline period.
pub fn latency_spike(
    tool: &str,
    window: (u64, i64),
    baseline_p99_us: i64,
    cfg: &AlertsConfig,
) -> Option<Finding> {
    let (n, p99) = window;
    if n < u64::from(cfg.latency_min_calls) {
        return None;
    }
    let fires = p99 as f64 >= baseline_p99_us as f64 * cfg.latency_factor
        && p99 - baseline_p99_us >= cfg.latency_min_increase.as_micros() as i64;
    fires.then(|| Finding {
        kind: "latency_spike",
        subject: tool.to_string(),
        why: format!(
            "{tool}: p99 latency {:.1} ms over {n} calls in the last {}, against {:.1} ms in the {} before",
            p99 as f64 / 1000.0,
            span(cfg.window),
            baseline_p99_us as f64 / 1000.0,
            span(cfg.baseline)
        ),
    })
}

/// `budget_exhausted`, scope `tool`: the tool's budget, shared by all
/// agents, refused `refusals` calls in the window; names the agent whose calls
/// used it up (`consumers`: agents and their calls that passed, most first).
pub fn budget_exhausted(
    tool: &str,
    refusals: u64,
    consumers: &[(String, u64)],
    cfg: &AlertsConfig,
) -> Option<Finding> {
    if refusals < u64::from(cfg.budget_min_refusals) {
        return None;
    }
    let total: u64 = consumers.iter().map(|c| c.1).sum();
    let who = match consumers.first() {
        Some((agent, n)) => format!(
            "agent \"{agent}\" drained it: {n} of the {total} calls that passed in that time"
        ),
        None => "no calls passed in that time".to_string(),
    };
    Some(Finding {
        kind: "budget_exhausted",
        subject: tool.to_string(),
        why: format!(
            "{tool}: its budget is exhausted; it refused {refusals} call{} in the last {}; {who}",
            if refusals == 1 { "" } else { "s" },
            span(cfg.window)
        ),
    })
}

/// `budget_exhausted`, scope `agent_tool`: `agent`'s own budget on `tool`
/// refused `refusals` calls in the window. The subject is that pair, and the
/// agent named is the refused one (its budget is no one else's); `passed`:
/// its calls to the tool that went through in the window.
pub fn agent_tool_budget_exhausted(
    tool: &str,
    agent: &str,
    refusals: u64,
    passed: u64,
    cfg: &AlertsConfig,
) -> Option<Finding> {
    if refusals < u64::from(cfg.budget_min_refusals) {
        return None;
    }
    Some(Finding {
        kind: "budget_exhausted",
        subject: format!("{tool} for agent \"{agent}\""),
        why: format!(
            "{tool}: agent \"{agent}\" used up its own budget for this tool; it refused {refusals} call{} of \"{agent}\" in the last {}, after {passed} that passed",
            if refusals == 1 { "" } else { "s" },
            span(cfg.window)
        ),
    })
}

/// Where auth failures come from: the agent when known, else the client that
/// sent a bad token.
pub fn source(agent: Option<&str>, client: Option<&str>) -> String {
    match (agent, client) {
        (Some(a), _) => format!("agent \"{a}\""),
        (None, Some(c)) => format!("client \"{c}\" with a bad token"),
        (None, None) => "a client with a bad token".to_string(),
    }
}

/// Auth failures per source: count, and the reasons seen.
type BySource = BTreeMap<String, (u64, Vec<String>)>;

fn by_source(rows: &[AuthFailures]) -> BySource {
    let mut out = BySource::new();
    for f in rows {
        let e = out
            .entry(source(f.agent.as_deref(), f.client.as_deref()))
            .or_default();
        e.0 += f.count;
        if !e.1.contains(&f.reason) {
            e.1.push(f.reason.clone());
        }
    }
    out
}

/// `auth_failures`: per source, at least `auth_min_failures` in the window
/// and at least `auth_factor` times what its baseline rate predicts for a
/// window (so a steady trickle the user has lived with is no spike).
pub fn auth_failures(
    window: &[AuthFailures],
    baseline: &[AuthFailures],
    cfg: &AlertsConfig,
) -> Vec<Finding> {
    let base = by_source(baseline);
    let per_window = cfg.window.as_secs_f64() / cfg.baseline.as_secs_f64().max(1.0);
    by_source(window)
        .into_iter()
        .filter_map(|(source, (n, reasons))| {
            let expected = base.get(&source).map_or(0.0, |b| b.0 as f64 * per_window);
            let fires = n >= u64::from(cfg.auth_min_failures) && n as f64 >= expected * cfg.auth_factor;
            fires.then(|| Finding {
                kind: "auth_failures",
                why: format!(
                    "{source}: {n} auth failures in the last {} ({}), against {expected:.1} expected from the {} before",
                    span(cfg.window),
                    reasons.join(", "),
                    span(cfg.baseline)
                ),
                subject: source,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn cfg() -> AlertsConfig {
        Config::defaults().alerts
    }

    fn stats(calls: u64, errors: u64, first: i64) -> ToolStats {
        ToolStats {
            tool: "x__y".into(),
            calls,
            errors,
            first: UnixMillis(first),
        }
    }

    const HOUR: i64 = 3_600_000;

    #[test]
    fn error_rate_needs_a_baseline_and_a_significant_rise() {
        let start = UnixMillis(100 * HOUR);
        let window = stats(40, 20, 0);
        // No baseline, too few baseline calls, or too short a baseline: silent.
        assert!(error_rate(&window, None, start, &cfg()).is_none());
        assert!(error_rate(&window, Some(&stats(99, 0, 0)), start, &cfg()).is_none());
        assert!(
            error_rate(
                &window,
                Some(&stats(500, 0, start.0 - HOUR / 2)),
                start,
                &cfg()
            )
            .is_none()
        );
        // A baseline of 2%: 50% fires, with the numbers.
        let base = stats(500, 10, start.0 - 20 * HOUR);
        let f = error_rate(&window, Some(&base), start, &cfg()).unwrap();
        assert_eq!(
            f.why,
            "x__y: 20 of 40 calls failed in the last 10 min (50.0%), against 2.0% (10 of 500) in the 24 h before"
        );
        // 10% against 2% is 5x but only 8 points: no alert. 12.5% is.
        assert!(error_rate(&stats(40, 4, 0), Some(&base), start, &cfg()).is_none());
        assert!(error_rate(&stats(40, 5, 0), Some(&base), start, &cfg()).is_some());
        // 30% against a usual 20%: 10 points but only 1.5x: no alert.
        assert!(error_rate(&stats(40, 12, 0), Some(&stats(500, 100, 0)), start, &cfg()).is_none());
        // Too few calls in the window say nothing.
        assert!(error_rate(&stats(19, 19, 0), Some(&base), start, &cfg()).is_none());
    }

    #[test]
    fn latency_needs_a_big_enough_and_long_enough_spike() {
        assert!(latency_spike("t", (40, 300_000), 50_000, &cfg()).is_some());
        assert!(
            latency_spike("t", (40, 140_000), 50_000, &cfg()).is_none(),
            "under 3x"
        );
        assert!(
            latency_spike("t", (40, 9_000), 1_000, &cfg()).is_none(),
            "9x but only 8 ms"
        );
        assert!(
            latency_spike("t", (19, 300_000), 50_000, &cfg()).is_none(),
            "too few calls"
        );
    }

    #[test]
    fn budget_exhaustion_names_the_agent_that_drained_it() {
        let f = budget_exhausted(
            "gmail__send",
            3,
            &[("claude".into(), 9), ("cursor".into(), 1)],
            &cfg(),
        )
        .unwrap();
        assert!(
            f.why
                .contains("agent \"claude\" drained it: 9 of the 10 calls"),
            "{}",
            f.why
        );
        assert!(budget_exhausted("gmail__send", 0, &[], &cfg()).is_none());
    }

    #[test]
    fn an_agents_own_budget_on_a_tool_names_that_agent() {
        let f = agent_tool_budget_exhausted("gmail__send", "cursor", 2, 10, &cfg()).unwrap();
        assert_eq!(f.subject, "gmail__send for agent \"cursor\"");
        assert_eq!(
            f.why,
            "gmail__send: agent \"cursor\" used up its own budget for this tool; it refused 2 calls of \"cursor\" in the last 10 min, after 10 that passed"
        );
        assert!(agent_tool_budget_exhausted("gmail__send", "cursor", 0, 1, &cfg()).is_none());
    }

    fn failures(
        agent: Option<&str>,
        client: Option<&str>,
        reason: &str,
        count: u64,
    ) -> AuthFailures {
        AuthFailures {
            agent: agent.map(str::to_string),
            client: client.map(str::to_string),
            reason: reason.into(),
            count,
        }
    }

    #[test]
    fn auth_failures_are_grouped_by_source_against_their_baseline() {
        let window = vec![
            failures(None, Some("cursor"), "bad_token", 6),
            failures(Some("old"), None, "agent_revoked", 2),
            failures(Some("noisy"), None, "agent_denied", 10),
        ];
        // "noisy" fails ~10 per window all day long: that is no spike.
        let baseline = vec![failures(Some("noisy"), None, "agent_denied", 10 * 6 * 24)];
        let found = auth_failures(&window, &baseline, &cfg());
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].subject, "client \"cursor\" with a bad token");
        assert!(
            found[0]
                .why
                .contains("6 auth failures in the last 10 min (bad_token)"),
            "{}",
            found[0].why
        );
    }
}
