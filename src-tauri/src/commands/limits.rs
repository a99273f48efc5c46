//! Limits page: every budget with its live balance, the file-wide tables,
//! and edits written back to the config file (comments kept, checked first).

use gatehouse::config::edit::{self, BudgetEdit, BudgetTable};
use gatehouse::listings::{self, LimitsFilter};
use gatehouse::views::{BudgetView, TableBudgetView};
use serde::{Deserialize, Serialize};
use tauri::State;

use super::using;
use crate::core::Core;
use crate::error::UiError;

/// What the Limits page shows.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct LimitsPage {
    /// The file edits are written to.
    pub config_file: String,
    /// Whether that file exists (else the embedded defaults serve).
    pub config_exists: bool,
    /// Every bucket that exists or applies, balances refilled to now.
    pub buckets: Vec<BudgetView>,
    /// `[limits.agent]` and `[limits.tool]` as layered over the defaults.
    pub tables: Vec<TableBudgetView>,
}

/// One budget to set or (without `capacity`) to remove.
#[derive(Clone, Debug, Deserialize)]
pub struct BudgetChange {
    /// `every_agent`, `every_tool`, `agent`, `tool` or `agent_tool`.
    pub table: String,
    /// The agent, for `agent` and `agent_tool`.
    pub agent: Option<String>,
    /// The tool, for `tool` and `agent_tool`.
    pub tool: Option<String>,
    /// `second`, `minute`, `hour` or `day`.
    pub period: String,
    /// The new capacity; absent: use the level below.
    pub capacity: Option<u32>,
}

fn page(core: &Core) -> Result<LimitsPage, UiError> {
    let config = core.config()?;
    let now = core.clock.now();
    let buckets = listings::limits(
        &core.store()?,
        &config.limits,
        &LimitsFilter::default(),
        now,
    )?;
    Ok(LimitsPage {
        config_file: core.home.config_file.display().to_string(),
        config_exists: core.home.config_file.exists(),
        buckets,
        tables: listings::table_budgets(&config.limits),
    })
}

/// Every budget and its live balance.
#[tauri::command(async)]
pub fn list_limits(core: State<'_, Core>) -> Result<LimitsPage, UiError> {
    using(&core, page)
}

/// Writes one budget to the config file; running `serve` processes apply it
/// within a second (`config::reload`), and the page shows it at once.
#[tauri::command(async)]
pub fn set_budget(core: State<'_, Core>, change: BudgetChange) -> Result<LimitsPage, UiError> {
    using(&core, |c| {
        let table = BudgetTable::parse(
            &change.table,
            change.agent.as_deref(),
            change.tool.as_deref(),
        )?;
        let e = BudgetEdit::parse(table, &change.period, change.capacity)?;
        edit::set_budget(&c.home.config_file, &e)?;
        page(c)
    })
}
