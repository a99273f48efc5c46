//! Alerts page: the rules evaluated now (as `gatehouse alerts` does), then
//! the open alerts and those resolved recently, each with why it fired.

use gatehouse::alerts;
use gatehouse::alerts::rules::span;
use gatehouse::views::AlertView;
use serde::Serialize;
use tauri::State;

use super::using;
use crate::core::Core;
use crate::error::UiError;

/// Resolved alerts are listed for this many days.
pub const RECENT_DAYS: u32 = 7;

/// What the Alerts page shows.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct AlertsPage {
    /// Open alerts, then resolved ones, newest first.
    pub alerts: Vec<AlertView>,
    /// Resolved alerts of the last this many days are listed.
    pub recent_days: u32,
    /// `[alerts] enabled`: whether running processes evaluate in the background.
    pub enabled: bool,
    /// The window the rules look at, e.g. `10 min`.
    pub window: String,
}

/// The rules evaluated now, and the alerts.
pub fn page(core: &Core) -> Result<AlertsPage, UiError> {
    let config = core.config()?;
    let store = core.store()?;
    let now = core.clock.now();
    let changes = alerts::evaluate(&store, &config.alerts, now)?;
    if !changes.opened.is_empty() || !changes.resolved.is_empty() {
        core.mark_changed();
    }
    Ok(AlertsPage {
        alerts: alerts::list(&store, now, RECENT_DAYS)?,
        recent_days: RECENT_DAYS,
        enabled: config.alerts.enabled,
        window: span(config.alerts.window),
    })
}

/// Evaluates the rules now and lists the alerts.
#[tauri::command(async)]
pub fn list_alerts(core: State<'_, Core>) -> Result<AlertsPage, UiError> {
    using(&core, page)
}

#[cfg(test)]
mod tests {
    use gatehouse::store::{CallRecord, CallStatus};

    use super::*;
    use crate::core::testing::core_in;

    #[test]
    fn a_burst_of_bad_tokens_is_listed_open_with_why() {
        let (core, _dir) = core_in(|_| {});
        let store = core.store().unwrap();
        for i in 0..5 {
            store
                .insert_call(&CallRecord {
                    time: core.clock.now().plus(-1_000 * i),
                    trace_id: "0af7651916cd43dd8448eb211c80319c".into(),
                    request_id: None,
                    agent: None,
                    verified: None,
                    tool: "gatehouse__budgets".into(),
                    status: CallStatus::Denied,
                    code: Some("denied".into()),
                    latency_us: 100,
                    args: "{}".into(),
                    message: Some("bad_token from client \"cursor\"".into()),
                    refusal_scope: None,
                    deny_reason: Some("bad_token".into()),
                    client: Some("cursor".into()),
                })
                .unwrap();
        }
        let page = page(&core).unwrap();
        assert_eq!((page.enabled, page.window.as_str()), (true, "10 min"));
        assert_eq!(page.alerts.len(), 1);
        assert_eq!(page.alerts[0].state, "open");
        let why = &page.alerts[0].why;
        assert!(
            why.contains("5 auth failures") && why.contains("cursor"),
            "{why}"
        );
    }
}
