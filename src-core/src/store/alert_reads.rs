//! The history aggregates the alert rules read: per-tool counts and
//! failures, a latency quantile, refusals per budget, the agents that used a
//! tool, auth failures per source. `HistoryReads` runs them on any
//! connection, so an evaluation can read them inside the very transaction
//! that applies its findings.

use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};

use super::StoreError;
use crate::clock::UnixMillis;

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

/// Reads history aggregates on one connection (the store's, or the
/// transaction an evaluation holds).
pub struct HistoryReads<'c> {
    conn: &'c Connection,
    busy_wait: Duration,
}

impl<'c> HistoryReads<'c> {
    pub(super) fn new(conn: &'c Connection, busy_wait: Duration) -> Self {
        Self { conn, busy_wait }
    }

    fn read<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T, StoreError> {
        f(self.conn).map_err(|e| StoreError::from_sqlite(e, self.busy_wait))
    }

    /// Per tool: calls that ran in `[from, to)` and how many failed.
    pub fn tool_stats(
        &self,
        from: UnixMillis,
        to: UnixMillis,
    ) -> Result<Vec<ToolStats>, StoreError> {
        self.read(|c| {
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
        self.read(|c| {
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
        self.read(|c| {
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
        self.read(|c| {
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
        self.read(|c| {
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
        self.read(|c| {
            c.prepare_cached(&format!(
                "SELECT COUNT(*) FROM history WHERE tool = ?1 AND agent = ?2 AND time_ms >= ?3 AND {RAN}"
            ))?
            .query_row(params![tool, agent, from.0], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
        })
    }
}
