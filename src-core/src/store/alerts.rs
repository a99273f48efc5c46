//! Alert rows and the history aggregates the alert rules read. An alert is
//! one episode: opened when its rule first fires, kept `open` while the rule
//! holds, `resolved` when it clears. At most one open alert per kind and
//! subject (a unique index), so processes evaluating at once can't open two.

use rusqlite::{OptionalExtension, params};

use super::{Store, StoreError};
use crate::clock::UnixMillis;

/// One alert.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertRow {
    /// Row id.
    pub id: i64,
    /// `error_rate`, `latency_spike`, `budget_exhausted` or `auth_failures`.
    pub kind: String,
    /// What it is about: a tool, or the source of auth failures.
    pub subject: String,
    /// `open` or `resolved`.
    pub state: String,
    /// When it fired.
    pub opened: UnixMillis,
    /// When its condition cleared.
    pub resolved: Option<UnixMillis>,
    /// Why it fired, with the numbers.
    pub why: String,
}

/// A rule that holds now.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    /// The alert kind.
    pub kind: &'static str,
    /// Its subject.
    pub subject: String,
    /// Why, with the numbers.
    pub why: String,
}

/// What one evaluation changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AlertChanges {
    /// Alerts opened now.
    pub opened: Vec<AlertRow>,
    /// Alerts resolved now.
    pub resolved: Vec<AlertRow>,
}

/// Calls of one tool that ran (ok, business or system error) in a period.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToolStats {
    /// The tool.
    pub tool: String,
    /// Calls that ran.
    pub calls: u64,
    /// Of which failed (`system_error` or `business_error`).
    pub errors: u64,
    /// When the first of them was made.
    pub first: UnixMillis,
}

/// Calls one budget of a tool refused in a period (`store::budget_refusals`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BudgetRefusals {
    /// The tool.
    pub tool: String,
    /// `tool` (its budget shared by all agents) or `agent_tool` (one agent's budget on it).
    pub scope: String,
    /// For `agent_tool`: the agent whose budget it is.
    pub agent: Option<String>,
    /// How many calls it refused.
    pub refusals: u64,
}

/// Auth failures of one source and reason in a period (`store::auth_failures`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthFailures {
    /// The agent, when the caller was identified.
    pub agent: Option<String>,
    /// The client that sent a bad token (its clean label), when no agent is known.
    pub client: Option<String>,
    /// The denial reason: `bad_token`, `agent_denied`, `agent_revoked` or `token_required`.
    pub reason: String,
    /// How many.
    pub count: u64,
}

/// Statuses of calls that reached the tool.
const RAN: &str = "status IN ('ok', 'business_error', 'system_error')";

/// The `meta` key of the last evaluation time, shared by every process.
const CHECKED: &str = "alerts_checked_ms";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AlertRow> {
    Ok(AlertRow {
        id: r.get(0)?,
        kind: r.get(1)?,
        subject: r.get(2)?,
        state: r.get(3)?,
        opened: UnixMillis(r.get(4)?),
        resolved: r.get::<_, Option<i64>>(5)?.map(UnixMillis),
        why: r.get(6)?,
    })
}

const COLUMNS: &str = "id, kind, subject, state, opened_ms, resolved_ms, why";

impl Store {
    /// Per tool: calls that ran in `[from, to)` and how many failed.
    pub fn tool_stats(
        &self,
        from: UnixMillis,
        to: UnixMillis,
    ) -> Result<Vec<ToolStats>, StoreError> {
        self.with(|c| {
            c.prepare_cached(&format!(
                "SELECT tool, COUNT(*), SUM(status <> 'ok'), MIN(time_ms) FROM history
                 WHERE time_ms >= ?1 AND time_ms < ?2 AND {RAN} GROUP BY tool"
            ))?
            .query_map([from.0, to.0], |r| {
                Ok(ToolStats {
                    tool: r.get(0)?,
                    calls: r.get::<_, i64>(1)? as u64,
                    errors: r.get::<_, i64>(2)? as u64,
                    first: UnixMillis(r.get(3)?),
                })
            })?
            .collect()
        })
    }

    /// The nearest-rank `q` quantile (0..1) of `tool`'s latency in µs over
    /// calls that completed (ok or the tool's own error) in `[from, to)`,
    /// with how many there were.
    pub fn latency_quantile(
        &self,
        tool: &str,
        from: UnixMillis,
        to: UnixMillis,
        q: f64,
    ) -> Result<(u64, Option<i64>), StoreError> {
        self.with(|c| {
            let filter = "tool = ?1 AND time_ms >= ?2 AND time_ms < ?3 AND status IN ('ok', 'business_error')";
            let n: i64 = c
                .prepare_cached(&format!("SELECT COUNT(*) FROM history WHERE {filter}"))?
                .query_row(params![tool, from.0, to.0], |r| r.get(0))?;
            if n == 0 {
                return Ok((0, None));
            }
            let rank = ((q * n as f64).ceil() as i64).clamp(1, n);
            let v: Option<i64> = c
                .prepare_cached(&format!(
                    "SELECT latency_us FROM history WHERE {filter} ORDER BY latency_us LIMIT 1 OFFSET ?4"
                ))?
                .query_row(params![tool, from.0, to.0, rank - 1], |r| r.get(0))
                .optional()?;
            Ok((n as u64, v))
        })
    }

    /// Calls refused since `from` because one of a tool's budgets was empty,
    /// per budget: the tool's shared one (scope `tool`), or one agent's on it
    /// (scope `agent_tool`, with the agent). An agent's own budget is no tool's.
    pub fn budget_refusals(&self, from: UnixMillis) -> Result<Vec<BudgetRefusals>, StoreError> {
        self.with(|c| {
            c.prepare_cached(
                "SELECT tool, refusal_scope, CASE WHEN refusal_scope = 'agent_tool' THEN agent END, COUNT(*)
                 FROM history WHERE status = 'rate_limited' AND time_ms >= ?1
                 AND refusal_scope IN ('tool', 'agent_tool') GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
            )?
            .query_map([from.0], |r| {
                Ok(BudgetRefusals {
                    tool: r.get(0)?,
                    scope: r.get(1)?,
                    agent: r.get(2)?,
                    refusals: r.get::<_, i64>(3)? as u64,
                })
            })?
            .collect()
        })
    }

    /// The agents that made calls to `tool` that passed its budgets since
    /// `from`, most first: `(agent, calls)`.
    pub fn tool_consumers(
        &self,
        tool: &str,
        from: UnixMillis,
    ) -> Result<Vec<(String, u64)>, StoreError> {
        self.with(|c| {
            c.prepare_cached(&format!(
                "SELECT agent, COUNT(*) FROM history WHERE tool = ?1 AND time_ms >= ?2 AND {RAN}
                 AND agent IS NOT NULL GROUP BY agent ORDER BY 2 DESC, agent LIMIT 5"
            ))?
            .query_map(params![tool, from.0], |r| {
                Ok((r.get(0)?, r.get::<_, i64>(1)? as u64))
            })?
            .collect()
        })
    }

    /// Auth failures (bad tokens, denied, revoked and token-required agents)
    /// in `[from, to)`, per agent (or, for bad tokens, the client that sent
    /// one) and reason.
    pub fn auth_failures(
        &self,
        from: UnixMillis,
        to: UnixMillis,
    ) -> Result<Vec<AuthFailures>, StoreError> {
        self.with(|c| {
            c.prepare_cached(
                "SELECT agent, client, deny_reason, COUNT(*) FROM history WHERE status = 'denied'
                 AND time_ms >= ?1 AND time_ms < ?2
                 AND deny_reason IN ('bad_token', 'agent_denied', 'agent_revoked', 'token_required')
                 GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
            )?
            .query_map([from.0, to.0], |r| {
                Ok(AuthFailures {
                    agent: r.get(0)?,
                    client: r.get(1)?,
                    reason: r.get(2)?,
                    count: r.get::<_, i64>(3)? as u64,
                })
            })?
            .collect()
        })
    }

    /// Calls `agent` made to `tool` since `from` that passed its budgets.
    pub fn agent_tool_calls(
        &self,
        agent: &str,
        tool: &str,
        from: UnixMillis,
    ) -> Result<u64, StoreError> {
        self.with(|c| {
            c.prepare_cached(&format!(
                "SELECT COUNT(*) FROM history WHERE tool = ?1 AND agent = ?2 AND time_ms >= ?3 AND {RAN}"
            ))?
            .query_row(params![tool, agent, from.0], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
        })
    }

    /// When alerts were last evaluated by any process.
    pub fn alerts_checked(&self) -> Result<Option<UnixMillis>, StoreError> {
        self.with(|c| {
            c.query_row("SELECT value FROM meta WHERE key = ?1", [CHECKED], |r| {
                r.get::<_, String>(0)
            })
            .optional()
            .map(|v| v.and_then(|v| v.parse().ok()).map(UnixMillis))
        })
    }

    /// Brings the alerts table in line with `findings` (every rule that holds
    /// at `now`), in one transaction: a finding with no open alert opens one;
    /// an open alert with no finding is resolved.
    pub fn apply_alerts(
        &self,
        findings: &[Finding],
        now: UnixMillis,
    ) -> Result<AlertChanges, StoreError> {
        let busy = self.0.busy_wait;
        let map = move |e: rusqlite::Error| StoreError::from_sqlite(e, busy);
        self.immediate(|tx| {
            let open: Vec<AlertRow> = tx
                .prepare(&format!("SELECT {COLUMNS} FROM alerts WHERE state = 'open'"))
                .and_then(|mut s| s.query_map([], row)?.collect())
                .map_err(map)?;
            let mut changes = AlertChanges::default();
            for a in &open {
                if !findings.iter().any(|f| f.kind == a.kind && f.subject == a.subject) {
                    tx.execute(
                        "UPDATE alerts SET state = 'resolved', resolved_ms = ?1, updated_ms = ?1 WHERE id = ?2",
                        params![now.0, a.id],
                    )
                    .map_err(map)?;
                    changes.resolved.push(AlertRow {
                        state: "resolved".into(),
                        resolved: Some(now),
                        ..a.clone()
                    });
                }
            }
            for f in findings {
                if open.iter().any(|a| a.kind == f.kind && a.subject == f.subject) {
                    tx.execute(
                        "UPDATE alerts SET updated_ms = ?1 WHERE state = 'open' AND kind = ?2 AND subject = ?3",
                        params![now.0, f.kind, f.subject],
                    )
                    .map_err(map)?;
                    continue;
                }
                tx.execute(
                    "INSERT INTO alerts (kind, subject, state, opened_ms, updated_ms, why) VALUES (?1, ?2, 'open', ?3, ?3, ?4)",
                    params![f.kind, f.subject, now.0, f.why],
                )
                .map_err(map)?;
                changes.opened.push(AlertRow {
                    id: tx.last_insert_rowid(),
                    kind: f.kind.into(),
                    subject: f.subject.clone(),
                    state: "open".into(),
                    opened: now,
                    resolved: None,
                    why: f.why.clone(),
                });
            }
            tx.execute(
                "INSERT INTO meta(key, value) VALUES(?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                params![CHECKED, now.0.to_string()],
            )
            .map_err(map)?;
            Ok(changes)
        })
    }

    /// Open alerts, and those resolved at or after `since`; newest first.
    pub fn alerts(&self, since: UnixMillis) -> Result<Vec<AlertRow>, StoreError> {
        self.with(|c| {
            c.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM alerts WHERE state = 'open' OR resolved_ms >= ?1
                 ORDER BY opened_ms DESC, id DESC"
            ))?
            .query_map([since.0], row)?
            .collect()
        })
    }

    /// Deletes alerts resolved before `cutoff`; returns how many.
    pub fn prune_alerts(&self, cutoff: UnixMillis) -> Result<usize, StoreError> {
        self.with(|c| {
            c.execute(
                "DELETE FROM alerts WHERE state = 'resolved' AND resolved_ms < ?1",
                [cutoff.0],
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::temp_store;

    fn finding(subject: &str) -> Finding {
        Finding {
            kind: "budget_exhausted",
            subject: subject.into(),
            why: format!("{subject} ran dry"),
        }
    }

    #[test]
    fn an_episode_opens_once_stays_open_and_resolves() {
        let t = temp_store();
        let c = t
            .store
            .apply_alerts(&[finding("x__y")], UnixMillis(1_000))
            .unwrap();
        assert_eq!(c.opened.len(), 1);
        let c = t
            .store
            .apply_alerts(&[finding("x__y")], UnixMillis(2_000))
            .unwrap();
        assert_eq!(c, AlertChanges::default(), "still the same episode");
        let c = t.store.apply_alerts(&[], UnixMillis(3_000)).unwrap();
        assert_eq!(c.resolved.len(), 1);
        assert_eq!(c.resolved[0].resolved, Some(UnixMillis(3_000)));
        // The next episode is a new alert.
        let c = t
            .store
            .apply_alerts(&[finding("x__y")], UnixMillis(4_000))
            .unwrap();
        assert_eq!(c.opened.len(), 1);
        let all = t.store.alerts(UnixMillis(0)).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].state, "open");
        assert_eq!(all[1].state, "resolved");
        assert_eq!(t.store.alerts_checked().unwrap(), Some(UnixMillis(4_000)));
        assert_eq!(t.store.prune_alerts(UnixMillis(3_500)).unwrap(), 1);
        assert_eq!(t.store.alerts(UnixMillis(0)).unwrap().len(), 1);
    }
}
