//! The window's commands: thin `#[tauri::command]`s that parse, call one
//! src-core function and return its view. No store or guard logic here.
//! `handler()` is the one list; `build.rs` names the same commands, and
//! `capabilities/main.json` grants the window each of them.
//!
//! To add a page's commands: a module here, its names in `handler()`, in
//! `build.rs` `COMMANDS` and in the capability.

pub mod agents;
pub mod alerts;
pub mod connections;
pub mod history;
pub mod limits;
pub mod status;

use crate::core::Core;
use crate::error::UiError;

/// Every command the window may call.
pub fn handler<R: tauri::Runtime>() -> impl Fn(tauri::ipc::Invoke<R>) -> bool + Send + Sync + 'static
{
    tauri::generate_handler![
        status::status,
        agents::list_agents,
        agents::add_agent,
        agents::approve_agent,
        agents::deny_agent,
        agents::revoke_agent,
        agents::rotate_agent,
        agents::pause_agents,
        agents::resume_agents,
        limits::list_limits,
        limits::set_budget,
        history::list_history,
        history::history_names,
        history::get_call,
        history::get_trace,
        connections::list_connections,
        connections::keychain_status,
        connections::connect_account,
        connections::cancel_connect,
        connections::open_connect_page,
        connections::disconnect_account,
        alerts::list_alerts,
    ]
}

/// Runs `f` against the core; a database failure drops the open handle so
/// the next command opens the file again (after the user fixed it).
pub(crate) fn using<T>(
    core: &Core,
    f: impl FnOnce(&Core) -> Result<T, UiError>,
) -> Result<T, UiError> {
    settled(core, f(core))
}

/// `out`, after dropping the database handle when it failed (see [`using`]).
pub(crate) fn settled<T>(core: &Core, out: Result<T, UiError>) -> Result<T, UiError> {
    if let Err(e) = &out
        && e.is_database_failure()
    {
        core.forget_store();
    }
    out
}
