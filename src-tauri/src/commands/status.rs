//! `status`: what the header, the tray menu and the notifications show:
//! whether agents are paused, who waits for approval, the newest call, where
//! the files are, and every problem found (with how to fix it). It never
//! fails: a broken database or config file is a problem in the list.

use gatehouse::views::{AgentView, PauseView};
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
    let read = core.agents().and_then(|agents| {
        let since = agents.paused_since()?;
        let waiting = agents.pending()?;
        let last = core.store()?.last_call_id()?;
        Ok((since, waiting, last))
    });
    match read {
        Ok((since, waiting, last)) => {
            paused = PauseView::new(since);
            pending = waiting.iter().map(AgentView::from).collect();
            last_call_id = last;
        }
        Err(e) => note("database", e),
    }
    StatusView {
        paused,
        pending,
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
