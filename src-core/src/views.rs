//! The stable JSON shapes of `--json` output, shared with the tray and the
//! `gatehouse__budgets` tool: snake_case names, times as RFC 3339 strings,
//! durations in ms. Documented in `docs/cli.md`; renaming a field breaks scripts.

use serde::Serialize;
use serde_json::Value;

use crate::agents::Issued;
use crate::agents::snippets::Launch;
use crate::budget::{Budget, Level, Limit};
use crate::clock::UnixMillis;
use crate::store::{AgentRow, AlertRow, HistoryRow};

/// One agent: `agents list --json`.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct AgentView {
    /// Stable id.
    pub id: String,
    /// Unique name.
    pub name: String,
    /// `pending`, `approved`, `denied` or `revoked`.
    pub status: String,
    /// Whether it proves itself with a token (`false`: named by its client, unverified).
    pub verified: bool,
    /// The executable that launched `serve` for it, last seen.
    pub parent_exe: Option<String>,
    /// Tool patterns allowed from the CLI/tray (empty: all).
    pub allow_tools: Vec<String>,
    /// Tool patterns denied from the CLI/tray.
    pub deny_tools: Vec<String>,
    /// Why its stored tool lists can't be used (every call of the agent is
    /// then refused until they are set again); null when they are fine.
    pub tools_error: Option<String>,
    /// When it was created.
    pub created_at: String,
    /// When it last made a request.
    pub last_seen_at: Option<String>,
}

impl From<&AgentRow> for AgentView {
    fn from(a: &AgentRow) -> Self {
        Self {
            id: a.id.clone(),
            name: a.name.clone(),
            status: a.status.name().into(),
            verified: a.verified,
            parent_exe: a.parent_exe.clone(),
            allow_tools: a.allow_tools.patterns().to_vec(),
            deny_tools: a.deny_tools.patterns().to_vec(),
            tools_error: crate::guard::policy::stored_problem(a),
            created_at: a.created.to_rfc3339(),
            last_seen_at: a.last_seen.map(UnixMillis::to_rfc3339),
        }
    }
}

/// A token shown once: `agents add --json`, `agents rotate --json`, the tray's "add agent".
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct IssuedView {
    /// Stable id.
    pub id: String,
    /// Unique name.
    pub name: String,
    /// `approved`.
    pub status: String,
    /// `true`: a token agent.
    pub verified: bool,
    /// The token, shown this once (only its hash is stored).
    pub token: String,
    /// `{claude_desktop, cursor, vscode, claude_code}`: paste-able client config.
    pub client_config: Value,
}

impl IssuedView {
    /// The view of `issued`, with config for clients that launch `launch`.
    pub fn new(issued: &Issued, launch: &Launch<'_>) -> Self {
        Self {
            id: issued.agent.id.clone(),
            name: issued.agent.name.clone(),
            status: issued.agent.status.name().into(),
            verified: issued.agent.verified,
            token: issued.token.expose().clone(),
            client_config: launch.client_config(),
        }
    }
}

/// One budget of a file-wide table (`[limits.agent]`, `[limits.tool]`), as layered over the defaults.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct TableBudgetView {
    /// `every_agent` or `every_tool`.
    pub table: &'static str,
    /// `second`, `minute`, `hour` or `day`.
    pub period: &'static str,
    /// Tokens when full.
    pub capacity: u32,
    /// `60/minute`.
    pub budget: String,
}

impl TableBudgetView {
    /// The view of `budget` in `table`.
    pub fn new(table: &'static str, budget: &Budget) -> Self {
        Self {
            table,
            period: budget.period().name(),
            capacity: budget.capacity(),
            budget: budget.to_string(),
        }
    }
}

/// Whether every agent is paused: `pause --json`, `resume --json`, the tray.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct PauseView {
    /// `true` while every call is refused with `denied`/`paused`.
    pub paused: bool,
    /// Since when, while paused.
    pub since: Option<String>,
}

impl PauseView {
    /// The view of a pause that started at `since` (`None`: not paused).
    pub fn new(since: Option<UnixMillis>) -> Self {
        Self {
            paused: since.is_some(),
            since: since.map(UnixMillis::to_rfc3339),
        }
    }
}

/// One bucket and its live balance: `limits --json`, `gatehouse__budgets`.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct BudgetView {
    /// `agent`, `tool` or `agent_tool`.
    pub scope: &'static str,
    /// The agent, for `agent` and `agent_tool` buckets.
    pub agent: Option<String>,
    /// The tool, for `tool` and `agent_tool` buckets.
    pub tool: Option<String>,
    /// `second`, `minute`, `hour` or `day`.
    pub period: &'static str,
    /// Tokens when full.
    pub capacity: u32,
    /// Tokens now, refilled up to now (two decimals).
    pub balance: f64,
    /// `5/minute`.
    pub budget: String,
    /// Milliseconds until the bucket holds a whole token (0: it has one now).
    pub next_token_ms: i64,
    /// When the bucket is full again.
    pub full_at: String,
}

impl BudgetView {
    /// The view of `limit` whose stored level is `level`, at `now`.
    pub fn new(limit: &Limit, level: Option<Level>, now: UnixMillis) -> Self {
        let balance = limit.budget.balance(level, now);
        Self {
            scope: limit.key.scope.name(),
            agent: limit.key.agent.clone(),
            tool: limit.key.tool.clone(),
            period: limit.key.period.name(),
            capacity: limit.budget.capacity(),
            balance: (balance * 100.0).floor() / 100.0,
            budget: limit.budget.to_string(),
            next_token_ms: limit.budget.wait_for_one(balance),
            full_at: limit.budget.full_at(balance, now).to_rfc3339(),
        }
    }
}

/// One call: `history --json`.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct HistoryView {
    /// Row id.
    pub id: i64,
    /// When the call arrived.
    pub time: String,
    /// W3C trace id, shared with the log line and spans.
    pub trace_id: String,
    /// The agent, when identified.
    pub agent: Option<String>,
    /// Whether the agent used a token.
    pub verified: Option<bool>,
    /// The tool (redacted when it named no known tool).
    pub tool: String,
    /// `ok`, `business_error`, `system_error`, `rate_limited`, `denied`, `approval_pending`.
    pub status: &'static str,
    /// The error contract's code, for refusals and failures.
    pub code: Option<String>,
    /// Milliseconds spent (three decimals).
    pub latency_ms: f64,
    /// The redacted argument summary, never the values.
    pub args: Value,
    /// A redacted explanation, for failures.
    pub message: Option<String>,
    /// For `rate_limited`: the budget's scope (`agent`, `tool`, `agent_tool`), as the refusal said.
    pub scope: Option<String>,
    /// For `denied`: the reason (`bad_token`, `paused`, `tool_forbidden`, ...), as the refusal said.
    pub reason: Option<String>,
}

impl From<&HistoryRow> for HistoryView {
    fn from(h: &HistoryRow) -> Self {
        let r = &h.record;
        Self {
            id: h.id,
            time: r.time.to_rfc3339(),
            trace_id: r.trace_id.clone(),
            agent: r.agent.clone(),
            verified: r.verified,
            tool: r.tool.clone(),
            status: r.status.name(),
            code: r.code.clone(),
            latency_ms: r.latency_us as f64 / 1000.0,
            args: serde_json::from_str(&r.args).unwrap_or(Value::Null),
            message: r.message.clone(),
            scope: r.refusal_scope.clone(),
            reason: r.deny_reason.clone(),
        }
    }
}

/// One alert: `alerts --json`.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct AlertView {
    /// Row id.
    pub id: i64,
    /// `error_rate`, `latency_spike`, `budget_exhausted` or `auth_failures`.
    pub kind: String,
    /// `open` or `resolved`.
    pub state: String,
    /// The tool, or the source of auth failures.
    pub subject: String,
    /// When it fired.
    pub opened_at: String,
    /// When its condition cleared (null while open).
    pub resolved_at: Option<String>,
    /// Why it fired, with the numbers.
    pub why: String,
}

impl From<&AlertRow> for AlertView {
    fn from(a: &AlertRow) -> Self {
        Self {
            id: a.id,
            kind: a.kind.clone(),
            state: a.state.clone(),
            subject: a.subject.clone(),
            opened_at: a.opened.to_rfc3339(),
            resolved_at: a.resolved.map(UnixMillis::to_rfc3339),
            why: a.why.clone(),
        }
    }
}
