//! History rows: one per call, allowed or refused, holding the redacted
//! argument summary and never a raw value or a tool result. Old rows are
//! deleted after the retention period.

use rusqlite::{OptionalExtension, Row, params_from_iter, types::Value};

use super::{Store, StoreError};
use crate::clock::UnixMillis;

/// How a call ended, as logs, history and the CLI name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CallStatus {
    /// The tool ran and succeeded.
    Ok,
    /// The tool ran and reported an error (`isError` from the tool itself).
    BusinessError,
    /// Gatehouse or an upstream failed: the tool's outcome is unknown or it never ran.
    SystemError,
    /// A budget was empty.
    RateLimited,
    /// Refused by identity or policy.
    Denied,
    /// The agent is waiting for the user's approval.
    ApprovalPending,
}

impl CallStatus {
    /// Every status.
    pub const ALL: [CallStatus; 6] = [
        CallStatus::Ok,
        CallStatus::BusinessError,
        CallStatus::SystemError,
        CallStatus::RateLimited,
        CallStatus::Denied,
        CallStatus::ApprovalPending,
    ];

    /// The snake_case name.
    pub fn name(self) -> &'static str {
        match self {
            CallStatus::Ok => "ok",
            CallStatus::BusinessError => "business_error",
            CallStatus::SystemError => "system_error",
            CallStatus::RateLimited => "rate_limited",
            CallStatus::Denied => "denied",
            CallStatus::ApprovalPending => "approval_pending",
        }
    }

    /// Parses a snake_case name.
    pub fn from_name(s: &str) -> Option<CallStatus> {
        CallStatus::ALL.into_iter().find(|c| c.name() == s)
    }
}

/// One call, as recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallRecord {
    /// When the call arrived.
    pub time: UnixMillis,
    /// W3C trace id (32 hex), shared with the log line and the span.
    pub trace_id: String,
    /// The JSON-RPC request id, as text.
    pub request_id: Option<String>,
    /// The agent, when it could be identified.
    pub agent: Option<String>,
    /// Whether the agent proved itself with a token.
    pub verified: Option<bool>,
    /// The tool name as called.
    pub tool: String,
    /// How it ended.
    pub status: CallStatus,
    /// The error contract's `code`, for refusals and failures.
    pub code: Option<String>,
    /// Time spent in Gatehouse and the tool, in microseconds.
    pub latency_us: i64,
    /// The redacted argument summary (JSON).
    pub args: String,
    /// A redacted explanation, for failures (for people: rules read the fields below).
    pub message: Option<String>,
    /// For `rate_limited`: the scope of the budget that refused it
    /// (`agent`, `tool` or `agent_tool`).
    pub refusal_scope: Option<String>,
    /// For `denied`: the reason code (`bad_token`, `paused`, `tool_forbidden`, ...).
    pub deny_reason: Option<String>,
    /// For a bad token: the client that sent it, as a clean label (its
    /// `clientInfo.name` or executable; hidden like a value when it looks personal).
    pub client: Option<String>,
}

/// A stored call with its row id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryRow {
    /// Row id, increasing.
    pub id: i64,
    /// The record.
    pub record: CallRecord,
}

/// Which calls to list.
#[derive(Clone, Debug, Default)]
pub struct HistoryFilter {
    /// Only this agent's calls.
    pub agent: Option<String>,
    /// Only calls to this tool.
    pub tool: Option<String>,
    /// Only calls that ended so.
    pub status: Option<CallStatus>,
    /// Only calls at or after this time.
    pub since: Option<UnixMillis>,
    /// Only calls with an id above this (for following new calls).
    pub after_id: Option<i64>,
    /// At most this many, newest first.
    pub limit: usize,
}

fn from_row(r: &Row<'_>) -> rusqlite::Result<HistoryRow> {
    let status: String = r.get(7)?;
    Ok(HistoryRow {
        id: r.get(0)?,
        record: CallRecord {
            time: UnixMillis(r.get(1)?),
            trace_id: r.get(2)?,
            request_id: r.get(3)?,
            agent: r.get(4)?,
            verified: r.get(5)?,
            tool: r.get(6)?,
            status: CallStatus::from_name(&status).unwrap_or(CallStatus::SystemError),
            code: r.get(8)?,
            latency_us: r.get(9)?,
            args: r.get(10)?,
            message: r.get(11)?,
            refusal_scope: r.get(12)?,
            deny_reason: r.get(13)?,
            client: r.get(14)?,
        },
    })
}

impl Store {
    /// Appends one call.
    pub fn insert_call(&self, c: &CallRecord) -> Result<i64, StoreError> {
        self.with(|conn| {
            conn.prepare_cached(
                "INSERT INTO history (time_ms, trace_id, request_id, agent, verified, tool, status, code, latency_us, args, message,
                     refusal_scope, deny_reason, client)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            )?
            .execute(rusqlite::params![
                c.time.0,
                c.trace_id,
                c.request_id,
                c.agent,
                c.verified,
                c.tool,
                c.status.name(),
                c.code,
                c.latency_us,
                c.args,
                c.message,
                c.refusal_scope,
                c.deny_reason,
                c.client
            ])?;
            Ok(conn.last_insert_rowid())
        })
    }

    /// Calls matching `f`, newest first.
    pub fn history(&self, f: &HistoryFilter) -> Result<Vec<HistoryRow>, StoreError> {
        let mut sql = String::from(
            "SELECT id, time_ms, trace_id, request_id, agent, verified, tool, status, code, latency_us, args, message,
                    refusal_scope, deny_reason, client
             FROM history WHERE 1 = 1",
        );
        let mut args: Vec<Value> = Vec::new();
        let mut add = |clause: &str, v: Value| {
            args.push(v);
            sql.push_str(&format!(" AND {clause} ?{}", args.len()));
        };
        if let Some(a) = &f.agent {
            add("agent =", Value::Text(a.clone()));
        }
        if let Some(t) = &f.tool {
            add("tool =", Value::Text(t.clone()));
        }
        if let Some(s) = f.status {
            add("status =", Value::Text(s.name().into()));
        }
        if let Some(t) = f.since {
            add("time_ms >=", Value::Integer(t.0));
        }
        if let Some(id) = f.after_id {
            add("id >", Value::Integer(id));
        }
        sql.push_str(&format!(" ORDER BY id DESC LIMIT {}", f.limit.max(1)));
        self.with(|c| {
            c.prepare(&sql)?
                .query_map(params_from_iter(args), from_row)?
                .collect()
        })
    }

    /// The call with row id `id`.
    pub fn call(&self, id: i64) -> Result<Option<HistoryRow>, StoreError> {
        self.with(|c| {
            c.prepare_cached(
                "SELECT id, time_ms, trace_id, request_id, agent, verified, tool, status, code, latency_us, args, message,
                    refusal_scope, deny_reason, client
                 FROM history WHERE id = ?1",
            )?
            .query_row([id], from_row)
            .optional()
        })
    }

    /// The newest call's id (0 with no history): a cheap "anything new?" check.
    pub fn last_call_id(&self) -> Result<i64, StoreError> {
        self.with(|c| c.query_row("SELECT coalesce(max(id), 0) FROM history", [], |r| r.get(0)))
    }

    /// Every agent and every tool that appears in the history, sorted (for filters).
    pub fn history_names(&self) -> Result<(Vec<String>, Vec<String>), StoreError> {
        self.with(|c| {
            let agents = c
                .prepare_cached(
                    "SELECT DISTINCT agent FROM history WHERE agent IS NOT NULL ORDER BY agent",
                )?
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<Vec<String>>>()?;
            let tools = c
                .prepare_cached("SELECT DISTINCT tool FROM history ORDER BY tool")?
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<Vec<String>>>()?;
            Ok((agents, tools))
        })
    }

    /// Deletes calls older than `cutoff`; returns how many.
    pub fn prune_history(&self, cutoff: UnixMillis) -> Result<usize, StoreError> {
        self.with(|c| c.execute("DELETE FROM history WHERE time_ms < ?1", [cutoff.0]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::temp_store;

    fn rec(time: i64, agent: &str, tool: &str, status: CallStatus) -> CallRecord {
        CallRecord {
            time: UnixMillis(time),
            trace_id: "0af7651916cd43dd8448eb211c80319c".into(),
            request_id: Some("1".into()),
            agent: Some(agent.into()),
            verified: Some(true),
            tool: tool.into(),
            status,
            code: None,
            latency_us: 120,
            args: "{}".into(),
            message: None,
            refusal_scope: None,
            deny_reason: None,
            client: None,
        }
    }

    #[test]
    fn filters_combine_and_newest_come_first() {
        let t = temp_store();
        t.store
            .insert_call(&rec(1, "a", "x__echo", CallStatus::Ok))
            .unwrap();
        t.store
            .insert_call(&rec(2, "b", "x__echo", CallStatus::RateLimited))
            .unwrap();
        t.store
            .insert_call(&rec(3, "a", "x__add", CallStatus::Ok))
            .unwrap();
        let all = t
            .store
            .history(&HistoryFilter {
                limit: 10,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(
            all.iter().map(|r| r.record.time.0).collect::<Vec<_>>(),
            [3, 2, 1]
        );
        let a_echo = t
            .store
            .history(&HistoryFilter {
                agent: Some("a".into()),
                tool: Some("x__echo".into()),
                limit: 10,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(a_echo.len(), 1);
        let limited = t
            .store
            .history(&HistoryFilter {
                status: Some(CallStatus::RateLimited),
                limit: 10,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(limited[0].record.agent.as_deref(), Some("b"));
    }

    #[test]
    fn one_call_by_id_the_last_id_and_the_names_for_filters() {
        let t = temp_store();
        assert_eq!(t.store.last_call_id().unwrap(), 0);
        let first = t
            .store
            .insert_call(&rec(1, "b", "x__echo", CallStatus::Ok))
            .unwrap();
        t.store
            .insert_call(&rec(2, "a", "x__add", CallStatus::Denied))
            .unwrap();
        let got = t.store.call(first).unwrap().unwrap();
        assert_eq!(got.record.agent.as_deref(), Some("b"));
        assert!(t.store.call(first + 100).unwrap().is_none());
        assert_eq!(t.store.last_call_id().unwrap(), first + 1);
        let (agents, tools) = t.store.history_names().unwrap();
        assert_eq!(agents, ["a", "b"]);
        assert_eq!(tools, ["x__add", "x__echo"]);
    }

    #[test]
    fn retention_deletes_only_old_rows() {
        let t = temp_store();
        t.store
            .insert_call(&rec(10, "a", "x__y", CallStatus::Ok))
            .unwrap();
        t.store
            .insert_call(&rec(20, "a", "x__y", CallStatus::Ok))
            .unwrap();
        assert_eq!(t.store.prune_history(UnixMillis(15)).unwrap(), 1);
        let left = t
            .store
            .history(&HistoryFilter {
                limit: 10,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(left.len(), 1);
    }
}
