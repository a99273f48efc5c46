//! History page: calls filtered by agent, tool, status and time, the names
//! to filter by, one call with its redacted arguments, and its trace read
//! back from the span files for the timeline.

use gatehouse::listings;
use gatehouse::store::{CallStatus, HistoryFilter};
use gatehouse::telemetry::trace_tree::{TraceView, read_trace};
use gatehouse::views::HistoryView;
use serde::{Deserialize, Serialize};
use tauri::State;

use super::using;
use crate::core::Core;
use crate::error::UiError;

/// The most rows one page shows.
const MAX_ROWS: usize = 500;

/// The page's filters.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct HistoryQuery {
    /// Only this agent's calls.
    pub agent: Option<String>,
    /// Only calls to this tool.
    pub tool: Option<String>,
    /// Only calls that ended so (`ok`, `denied`, ...).
    pub status: Option<String>,
    /// Only calls in the last this many minutes.
    pub since_minutes: Option<u32>,
    /// Only calls newer than this id (live updates).
    pub after_id: Option<i64>,
    /// At most this many (up to 500).
    pub limit: Option<usize>,
}

/// The agents and tools the history holds, for the filters.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct HistoryNames {
    /// Agents, sorted.
    pub agents: Vec<String>,
    /// Tools, sorted.
    pub tools: Vec<String>,
}

fn filter(core: &Core, q: HistoryQuery) -> Result<HistoryFilter, UiError> {
    let status = match q.status.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(
            CallStatus::from_name(s)
                .ok_or_else(|| UiError::BadRequest(format!("\"{s}\" is not a call status")))?,
        ),
    };
    let nonempty = |v: Option<String>| v.filter(|s| !s.is_empty());
    Ok(HistoryFilter {
        agent: nonempty(q.agent),
        tool: nonempty(q.tool),
        status,
        since: q
            .since_minutes
            .map(|m| core.clock.now().plus(-i64::from(m) * 60_000)),
        after_id: q.after_id,
        limit: q.limit.unwrap_or(MAX_ROWS).clamp(1, MAX_ROWS),
    })
}

/// Calls matching the filters, newest first.
#[tauri::command(async)]
pub fn list_history(
    core: State<'_, Core>,
    query: HistoryQuery,
) -> Result<Vec<HistoryView>, UiError> {
    using(&core, |c| {
        Ok(listings::history(&c.store()?, &filter(c, query)?)?)
    })
}

/// The agents and tools the history holds.
#[tauri::command(async)]
pub fn history_names(core: State<'_, Core>) -> Result<HistoryNames, UiError> {
    using(&core, |c| {
        let (agents, tools) = c.store()?.history_names()?;
        Ok(HistoryNames { agents, tools })
    })
}

/// One call, with its redacted arguments.
#[tauri::command(async)]
pub fn get_call(core: State<'_, Core>, id: i64) -> Result<HistoryView, UiError> {
    using(&core, |c| {
        listings::call(&c.store()?, id)?.ok_or_else(|| {
            UiError::BadRequest(format!(
                "call {id} is no longer in the history (older calls are deleted after the retention period)"
            ))
        })
    })
}

/// One call's trace, and what to say when its spans are not in the files.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct TracePage {
    /// The spans as a tree; absent when no span file holds any.
    pub trace: Option<TraceView>,
    /// The folder of the span files.
    pub traces_dir: String,
    /// `[traces] local_files`: whether spans are written there at all.
    pub local_files: bool,
    /// `[history] retention_days`: span files older than this are deleted.
    pub retention_days: u32,
}

/// The trace `trace_id` from the span files.
pub fn trace(core: &Core, trace_id: &str) -> Result<TracePage, UiError> {
    let config = core.config()?;
    Ok(TracePage {
        trace: read_trace(&core.home.traces_dir, trace_id)?,
        traces_dir: core.home.traces_dir.display().to_string(),
        local_files: config.traces.local_files,
        retention_days: config.retention_days,
    })
}

/// One call's spans as a tree, for the timeline.
#[tauri::command(async)]
pub fn get_trace(core: State<'_, Core>, trace_id: String) -> Result<TracePage, UiError> {
    using(&core, |c| trace(c, &trace_id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::testing::core_in;

    #[test]
    fn filters_are_parsed_and_bounded() {
        let (core, _dir) = core_in(|_| {});
        let f = filter(
            &core,
            HistoryQuery {
                agent: Some(String::new()),
                status: Some("rate_limited".into()),
                since_minutes: Some(15),
                limit: Some(100_000),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(f.agent, None);
        assert_eq!(f.status, Some(CallStatus::RateLimited));
        assert_eq!(f.since, Some(core.clock.now().plus(-15 * 60_000)));
        assert_eq!(f.limit, MAX_ROWS);
        let bad = HistoryQuery {
            status: Some("fine".into()),
            ..Default::default()
        };
        assert!(
            filter(&core, bad)
                .unwrap_err()
                .to_string()
                .contains("\"fine\"")
        );
    }

    #[test]
    fn a_trace_without_span_files_says_where_they_would_be() {
        let (core, _dir) = core_in(|d| {
            std::fs::write(d.join("config.toml"), "[traces]\nlocal_files = false\n").unwrap();
        });
        let t = trace(&core, "0af7651916cd43dd8448eb211c80319c").unwrap();
        assert_eq!(t.trace, None);
        assert!(!t.local_files);
        assert!(t.traces_dir.ends_with("traces"), "{}", t.traces_dir);
        let bad = trace(&core, "not-a-trace").unwrap_err().to_string();
        assert!(bad.contains("is not a trace id"), "{bad}");
    }
}
