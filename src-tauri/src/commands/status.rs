//! `status`: what the header, the tray menu and the notifications show:
//! whether agents are paused, who waits for approval, the open alerts, the
//! newest call, where the files are, and every problem found (with how to
//! fix it). It never fails: a broken database or config file is a problem
//! in the list.

use gatehouse::alerts;
use gatehouse::views::{AgentView, AlertView, PauseView};
use serde::Serialize;
use tauri::State;

use crate::core::Core;
use crate::error::UiError;

/// Something the user should fix.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct ProblemView {
    /// `database` or `config`.
    pub what: &'static str,
    /// What is wrong and how to fix it.
    pub message: String,
}

/// The app's state at a glance.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct StatusView {
    /// Whether every agent is paused.
    pub paused: PauseView,
    /// Agents waiting for approval.
    pub pending: Vec<AgentView>,
    /// Alerts open now, newest first (the nav's badge counts them).
    pub open_alerts: Vec<AlertView>,
    /// The newest call's id (the History page fetches what is newer).
    pub last_call_id: i64,
    /// `config.toml`.
    pub config_file: String,
    /// The shared database.
    pub db_file: String,
    /// What is wrong, if anything.
    pub problems: Vec<ProblemView>,
}

/// The status now.
pub fn snapshot(core: &Core) -> StatusView {
    let mut problems = Vec::new();
    let mut note = |what, e: UiError| {
        if e.is_database_failure() {
            core.forget_store();
        }
        problems.push(ProblemView {
            what,
            message: e.to_string(),
        });
    };
    if let Err(e) = core.config() {
        note("config", e);
    }
    let (mut paused, mut pending, mut last_call_id) = (PauseView::new(None), Vec::new(), 0);
    let mut open_alerts = Vec::new();
    let read = core.agents().and_then(|agents| {
        let since = agents.paused_since()?;
        let waiting = agents.pending()?;
        let store = core.store()?;
        Ok((since, waiting, store.last_call_id()?, alerts::open(&store)?))
    });
    match read {
        Ok((since, waiting, last, open)) => {
            paused = PauseView::new(since);
            pending = waiting.iter().map(AgentView::from).collect();
            last_call_id = last;
            open_alerts = open;
        }
        Err(e) => note("database", e),
    }
    StatusView {
        paused,
        pending,
        open_alerts,
        last_call_id,
        config_file: core.home.config_file.display().to_string(),
        db_file: core.home.db_file.display().to_string(),
        problems,
    }
}

/// The status now.
#[tauri::command(async)]
pub fn status(core: State<'_, Core>) -> StatusView {
    snapshot(&core)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::testing::core_in;

    #[test]
    fn a_fresh_home_has_no_problems_and_lists_waiting_agents() {
        let (core, _dir) = core_in(|_| {});
        assert!(snapshot(&core).problems.is_empty());
        core.store()
            .unwrap()
            .ensure_pending("cursor", Some("/usr/bin/cursor"), core.clock.now())
            .unwrap();
        let s = snapshot(&core);
        assert_eq!(s.pending.len(), 1);
        assert_eq!(s.pending[0].parent_exe.as_deref(), Some("/usr/bin/cursor"));
        assert!(!s.paused.paused);
    }

    #[test]
    fn broken_files_are_problems_with_a_fix_and_the_rest_still_answers() {
        let (core, dir) = core_in(|d| {
            std::fs::write(d.join("config.toml"), "[limits.tool]\nper_minute = 0\n").unwrap();
            std::fs::write(d.join("gatehouse.db"), vec![0x42u8; 4096]).unwrap();
        });
        let s = snapshot(&core);
        let what: Vec<_> = s.problems.iter().map(|p| p.what).collect();
        assert_eq!(what, ["config", "database"]);
        assert!(
            s.problems[0].message.contains("config.toml:2"),
            "{:?}",
            s.problems
        );
        assert!(
            s.problems[1].message.contains("move the file away"),
            "{:?}",
            s.problems
        );
        // Moving the damaged file away heals it without a restart.
        std::fs::rename(dir.path().join("gatehouse.db"), dir.path().join("old.db")).unwrap();
        std::fs::write(dir.path().join("config.toml"), "").unwrap();
        assert!(snapshot(&core).problems.is_empty());
    }
}
