//! Desktop notifications, through the desktop's notification service: one
//! when a pending agent's call starts waiting for approval (so it is answered
//! within its wait), and one when an alert opens, saying why. Each once: the
//! notifier remembers what it has announced. A pending agent that calls again
//! later (its `last_seen_at` moved: the user let the first wait run out) is
//! announced again, so no waiting call goes unnoticed.

use std::collections::{BTreeMap, BTreeSet};

use tauri::{AppHandle, Runtime};
use tauri_plugin_notification::NotificationExt;

use crate::commands::status::StatusView;

/// A notification to show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    /// The headline.
    pub title: String,
    /// The sentence under it.
    pub body: String,
}

/// What has been announced so far.
#[derive(Default)]
pub struct Notifier {
    /// Agents announced as waiting, with the `last_seen_at` announced
    /// (forgotten once they stop waiting).
    waiting: BTreeMap<String, Option<String>>,
    /// Open alerts announced (forgotten once resolved).
    alerts: BTreeSet<i64>,
    /// Whether a status was seen yet: alerts already open when the app
    /// starts are on the page and its badge, not announced again.
    started: bool,
}

impl Notifier {
    /// The notifications `status` calls for, given how long a pending call waits.
    pub fn news(&mut self, status: &StatusView, wait_seconds: u64) -> Vec<Note> {
        let mut out = Vec::new();
        self.waiting
            .retain(|n, _| status.pending.iter().any(|a| &a.name == n));
        for agent in &status.pending {
            if self.waiting.get(&agent.name) == Some(&agent.last_seen_at) {
                continue;
            }
            self.waiting
                .insert(agent.name.clone(), agent.last_seen_at.clone());
            let from = agent
                .parent_exe
                .as_deref()
                .map(|e| format!(" (launched by {e})"))
                .unwrap_or_default();
            out.push(Note {
                title: format!("\"{}\" wants to use your tools", agent.name),
                body: format!(
                    "Its call waits up to {wait_seconds} s for you{from}. Open Gatehouse to approve or deny it."
                ),
            });
        }
        self.alerts
            .retain(|id| status.open_alerts.iter().any(|a| a.id == *id));
        for alert in &status.open_alerts {
            if !self.alerts.insert(alert.id) || !self.started {
                continue;
            }
            out.push(Note {
                title: format!("Gatehouse alert: {}", kind_label(&alert.kind)),
                body: alert.why.clone(),
            });
        }
        self.started = true;
        out
    }
}

/// "Budget exhausted" for `budget_exhausted`.
pub fn kind_label(kind: &str) -> String {
    let mut s = kind.replace('_', " ");
    if let Some(first) = s.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    s
}

/// Shows `notes`; a desktop without a notification service is logged, not fatal.
pub fn show<R: Runtime>(app: &AppHandle<R>, notes: &[Note]) {
    for n in notes {
        let shown = app
            .notification()
            .builder()
            .title(&n.title)
            .body(&n.body)
            .show();
        if let Err(e) = shown {
            tracing::info!(error = %e, title = %n.title, "no desktop notification (no notification service?)");
        }
    }
}

#[cfg(test)]
mod tests {
    use gatehouse::views::{AgentView, AlertView, PauseView};

    use super::*;

    fn status(pending: &[&str], alerts: &[i64]) -> StatusView {
        seen_at(pending, alerts, None)
    }

    fn seen_at(pending: &[&str], alerts: &[i64], last_seen_at: Option<&str>) -> StatusView {
        StatusView {
            paused: PauseView::new(None),
            pending: pending
                .iter()
                .map(|n| AgentView {
                    id: (*n).into(),
                    name: (*n).into(),
                    status: "pending".into(),
                    verified: false,
                    parent_exe: Some("/usr/bin/cursor".into()),
                    allow_tools: vec![],
                    deny_tools: vec![],
                    created_at: String::new(),
                    last_seen_at: last_seen_at.map(str::to_string),
                    tools_error: None,
                })
                .collect(),
            open_alerts: alerts
                .iter()
                .map(|id| AlertView {
                    id: *id,
                    kind: "budget_exhausted".into(),
                    state: "open".into(),
                    subject: "gmail__send".into(),
                    opened_at: String::new(),
                    resolved_at: None,
                    why: format!("why {id}"),
                })
                .collect(),
            last_call_id: 0,
            config_file: String::new(),
            db_file: String::new(),
            problems: vec![],
        }
    }

    #[test]
    fn each_waiting_agent_and_each_new_alert_is_announced_once() {
        let mut n = Notifier::default();
        // At start: the waiting agent is announced, the alert already open is not.
        let first = n.news(&status(&["cursor"], &[1]), 20);
        assert_eq!(first.len(), 1);
        assert!(first[0].body.contains("20 s") && first[0].body.contains("/usr/bin/cursor"));
        assert!(n.news(&status(&["cursor"], &[1]), 20).is_empty());
        let later = n.news(&status(&["cursor"], &[1, 2]), 20);
        assert_eq!(
            later,
            [Note {
                title: "Gatehouse alert: Budget exhausted".into(),
                body: "why 2".into()
            }]
        );
        // Gone and back: announced again.
        assert!(n.news(&status(&[], &[]), 20).is_empty());
        assert_eq!(n.news(&status(&["cursor"], &[2]), 20).len(), 2);
    }

    #[test]
    fn a_pending_agent_that_calls_again_later_is_announced_again() {
        let mut n = Notifier::default();
        let t1 = Some("2026-11-25T10:00:00.000Z");
        assert_eq!(n.news(&seen_at(&["cursor"], &[], t1), 20).len(), 1);
        assert!(n.news(&seen_at(&["cursor"], &[], t1), 20).is_empty());
        // The first wait ran out unanswered; the agent called again.
        let t2 = Some("2026-11-25T10:00:30.000Z");
        assert_eq!(n.news(&seen_at(&["cursor"], &[], t2), 20).len(), 1);
    }
}
