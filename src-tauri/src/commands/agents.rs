//! Agents page: list, add (the token shown once with client config),
//! approve, deny, revoke, rotate; and "pause all agents".

use gatehouse::agents::{AgentName, Issued};
use gatehouse::views::{AgentView, IssuedView, PauseView};
use tauri::State;

use super::using;
use crate::core::Core;
use crate::error::UiError;

fn name(raw: &str) -> Result<AgentName, UiError> {
    Ok(AgentName::parse(raw.trim())?)
}

fn issued(core: &Core, i: &Issued) -> IssuedView {
    let exe = core.gatehouse_exe.display().to_string();
    IssuedView::new(i, &core.launch(i.token.expose(), &exe))
}

/// Every agent, by name.
#[tauri::command(async)]
pub fn list_agents(core: State<'_, Core>) -> Result<Vec<AgentView>, UiError> {
    using(&core, |c| {
        Ok(c.agents()?.list()?.iter().map(AgentView::from).collect())
    })
}

/// Creates an approved token agent; its token is in the answer, once.
#[tauri::command(async)]
pub fn add_agent(core: State<'_, Core>, name: String) -> Result<IssuedView, UiError> {
    using(&core, |c| {
        let i = c.agents()?.add(&self::name(&name)?)?;
        c.mark_changed();
        Ok(issued(c, &i))
    })
}

/// Lets the agent call tools (a waiting call goes through at once).
#[tauri::command(async)]
pub fn approve_agent(core: State<'_, Core>, name: String) -> Result<AgentView, UiError> {
    using(&core, |c| {
        let row = c.agents()?.approve(&self::name(&name)?)?;
        c.mark_changed();
        Ok(AgentView::from(&row))
    })
}

/// Refuses the agent's calls.
#[tauri::command(async)]
pub fn deny_agent(core: State<'_, Core>, name: String) -> Result<AgentView, UiError> {
    using(&core, |c| {
        let row = c.agents()?.deny(&self::name(&name)?)?;
        c.mark_changed();
        Ok(AgentView::from(&row))
    })
}

/// Withdraws the agent's approval and token, at once.
#[tauri::command(async)]
pub fn revoke_agent(core: State<'_, Core>, name: String) -> Result<AgentView, UiError> {
    using(&core, |c| {
        let row = c.agents()?.revoke(&self::name(&name)?)?;
        c.mark_changed();
        Ok(AgentView::from(&row))
    })
}

/// Issues a new token (the old one stops at once) and approves the agent.
#[tauri::command(async)]
pub fn rotate_agent(core: State<'_, Core>, name: String) -> Result<IssuedView, UiError> {
    using(&core, |c| {
        let i = c.agents()?.rotate(&self::name(&name)?)?;
        c.mark_changed();
        Ok(issued(c, &i))
    })
}

/// Pauses every agent (every call refused until resumed).
#[tauri::command(async)]
pub fn pause_agents(core: State<'_, Core>) -> Result<PauseView, UiError> {
    using(&core, |c| pause(c, true))
}

/// Lets calls through again.
#[tauri::command(async)]
pub fn resume_agents(core: State<'_, Core>) -> Result<PauseView, UiError> {
    using(&core, |c| pause(c, false))
}

/// Pauses (`on`) or resumes every agent; shared with the tray menu.
pub fn pause(core: &Core, on: bool) -> Result<PauseView, UiError> {
    let agents = core.agents()?;
    let view = if on {
        PauseView::new(Some(agents.pause()?))
    } else {
        agents.resume()?;
        PauseView::new(None)
    };
    core.mark_changed();
    Ok(view)
}
