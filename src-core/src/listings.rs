//! Read-only listings shared by the CLI and the tray: every budget that
//! exists or applies, with its live balance; the file-wide budget tables;
//! the history, one call, and the names it holds.

use std::collections::BTreeSet;

use crate::budget::{Limit, Scope};
use crate::clock::UnixMillis;
use crate::config::LimitsConfig;
use crate::store::{AgentStatus, HistoryFilter, Store, StoreError};
use crate::views::{BudgetView, HistoryView, TableBudgetView};

/// Which budgets to show.
#[derive(Clone, Debug, Default)]
pub struct LimitsFilter {
    /// Only buckets of this agent (agent and agent × tool).
    pub agent: Option<String>,
    /// Only buckets of this tool (tool and agent × tool).
    pub tool: Option<String>,
}

/// One row per bucket that exists in the store or applies by config: each
/// known agent's own buckets, each used or configured tool's buckets, and
/// each used or configured agent × tool bucket. Balances are refilled to `now`.
pub fn limits(
    store: &Store,
    limits: &LimitsConfig,
    filter: &LimitsFilter,
    now: UnixMillis,
) -> Result<Vec<BudgetView>, StoreError> {
    let mut agents: BTreeSet<String> = store
        .list_agents()?
        .into_iter()
        .filter(|a| matches!(a.status, AgentStatus::Approved | AgentStatus::Pending))
        .map(|a| a.name)
        .collect();
    let mut tools: BTreeSet<String> = limits.tools.keys().cloned().collect();
    let mut pairs: BTreeSet<(String, String)> = BTreeSet::new();
    for (agent, a) in &limits.agents {
        agents.insert(agent.clone());
        pairs.extend(a.tools.keys().map(|t| (agent.clone(), t.clone())));
    }
    for row in store.list_buckets()? {
        match (row.key.scope, row.key.agent, row.key.tool) {
            (Scope::Agent, Some(a), _) => {
                agents.insert(a);
            }
            (Scope::Tool, _, Some(t)) => {
                tools.insert(t);
            }
            (Scope::AgentTool, Some(a), Some(t)) => {
                pairs.insert((a, t));
            }
            _ => {}
        }
    }
    let keep_agent = |a: &str| filter.agent.as_deref().is_none_or(|f| f == a);
    let keep_tool = |t: &str| filter.tool.as_deref().is_none_or(|f| f == t);
    let mut all = LimitSet::default();
    for a in agents
        .iter()
        .filter(|a| keep_agent(a) && filter.tool.is_none())
    {
        all.add(limits.agent_limits(a));
    }
    for t in tools
        .iter()
        .filter(|t| keep_tool(t) && filter.agent.is_none())
    {
        all.add(limits.tool_limits(t));
    }
    for (a, t) in pairs.iter().filter(|(a, t)| keep_agent(a) && keep_tool(t)) {
        all.add(limits.agent_tool_limits(a, t));
    }
    all.views(store, now)
}

/// Budgets to show, each once, in the order first added.
#[derive(Clone, Debug, Default)]
pub struct LimitSet(Vec<Limit>);

impl LimitSet {
    /// Adds those of `limits` not yet in the set.
    pub fn add(&mut self, limits: impl IntoIterator<Item = Limit>) {
        for l in limits {
            if !self.0.contains(&l) {
                self.0.push(l);
            }
        }
    }

    /// Each budget with its bucket's live balance, refilled to `now`.
    pub fn views(&self, store: &Store, now: UnixMillis) -> Result<Vec<BudgetView>, StoreError> {
        let levels = store.levels(&self.0)?;
        Ok(self
            .0
            .iter()
            .zip(levels)
            .map(|(l, lv)| BudgetView::new(l, lv, now))
            .collect())
    }
}

/// The budgets of `[limits.agent]` and `[limits.tool]` as layered over the
/// embedded defaults: what every agent and every tool gets unless overridden.
pub fn table_budgets(limits: &LimitsConfig) -> Vec<TableBudgetView> {
    let agent = limits
        .agent
        .budgets()
        .map(|b| TableBudgetView::new("every_agent", &b));
    let tool = limits
        .tool
        .budgets()
        .map(|b| TableBudgetView::new("every_tool", &b));
    agent.chain(tool).collect()
}

/// Calls matching `filter`, newest first, as `history --json` shows them.
pub fn history(store: &Store, filter: &HistoryFilter) -> Result<Vec<HistoryView>, StoreError> {
    Ok(store
        .history(filter)?
        .iter()
        .map(HistoryView::from)
        .collect())
}

/// One call, as `history --json` shows it.
pub fn call(store: &Store, id: i64) -> Result<Option<HistoryView>, StoreError> {
    Ok(store.call(id)?.as_ref().map(HistoryView::from))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::store::testing::temp_store;

    #[test]
    fn lists_agents_tools_and_pairs_with_live_balances() {
        let t = temp_store();
        let config = Config::parse(
            std::path::Path::new("c.toml"),
            "[limits.agents.\"bot\".tools.\"x__y\"]\nper_hour = 3\n",
        )
        .unwrap();
        t.store.ensure_pending("bot", None, UnixMillis(0)).unwrap();
        let call = config.limits.limits_for("bot", "x__y");
        t.store.take(&call, UnixMillis(0)).unwrap().unwrap();
        let rows = limits(
            &t.store,
            &config.limits,
            &LimitsFilter::default(),
            UnixMillis(0),
        )
        .unwrap();
        let find = |scope: &str, tool: Option<&str>| {
            rows.iter()
                .find(|r| r.scope == scope && r.tool.as_deref() == tool)
                .cloned()
        };
        assert_eq!(find("agent", None).unwrap().balance, 59.0);
        assert_eq!(find("tool", Some("x__y")).unwrap().balance, 119.0);
        assert_eq!(find("agent_tool", Some("x__y")).unwrap().balance, 2.0);
        // The embedded small budgets of sends are listed even before first use.
        assert!(find("tool", Some("gmail__send")).is_some());
        let only = limits(
            &t.store,
            &config.limits,
            &LimitsFilter {
                agent: Some("bot".into()),
                tool: None,
            },
            UnixMillis(0),
        )
        .unwrap();
        assert!(only.iter().all(|r| r.agent.as_deref() == Some("bot")));
    }

    #[test]
    fn file_wide_tables_show_the_layered_budgets() {
        let config = Config::parse(
            std::path::Path::new("c.toml"),
            "[limits.tool]\nper_hour = 7\n",
        )
        .unwrap();
        let got: Vec<String> = table_budgets(&config.limits)
            .iter()
            .map(|t| format!("{} {}", t.table, t.budget))
            .collect();
        assert_eq!(
            got,
            [
                "every_agent 60/minute",
                "every_agent 2000/day",
                "every_tool 120/minute",
                "every_tool 7/hour"
            ]
        );
    }
}
