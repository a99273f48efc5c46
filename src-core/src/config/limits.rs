//! Budget tables after checking, and how they layer: embedded defaults <
//! `[limits.agent]` / `[limits.tool]` < `[limits.agents."N"]` / `[limits.tools."T"]`.
//! An override sets the periods it names; the other periods keep the level below.

use std::collections::BTreeMap;
use std::num::NonZeroU32;

use crate::budget::{BucketKey, Budget, Limit, Period, Scope};

/// One table's budgets, at most one per period.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PeriodBudgets([Option<NonZeroU32>; 4]);

fn index(period: Period) -> usize {
    match period {
        Period::Second => 0,
        Period::Minute => 1,
        Period::Hour => 2,
        Period::Day => 3,
    }
}

impl PeriodBudgets {
    /// Sets the budget for `period`.
    pub fn set(&mut self, period: Period, capacity: NonZeroU32) {
        self.0[index(period)] = Some(capacity);
    }

    /// This table layered over `below`: the periods set here win.
    pub fn over(&self, below: &PeriodBudgets) -> PeriodBudgets {
        let mut out = below.clone();
        for (slot, mine) in out.0.iter_mut().zip(self.0) {
            if mine.is_some() {
                *slot = mine;
            }
        }
        out
    }

    /// The budgets set, shortest period first.
    pub fn budgets(&self) -> impl Iterator<Item = Budget> + '_ {
        Period::ALL
            .into_iter()
            .filter_map(|p| self.0[index(p)].map(|n| Budget::new(n, p)))
    }

    /// Whether no period is set.
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(Option::is_none)
    }
}

/// `[limits.agents."N"]`: the agent's own budgets and its agent × tool budgets.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AgentLimits {
    /// The agent's own budgets.
    pub own: PeriodBudgets,
    /// `tools."T"`: this agent's budgets on one tool.
    pub tools: BTreeMap<String, PeriodBudgets>,
}

/// Every budget table of one layer (the embedded defaults or the file), or of
/// both once layered.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LimitsConfig {
    /// `[limits.agent]`
    pub agent: PeriodBudgets,
    /// `[limits.tool]`
    pub tool: PeriodBudgets,
    /// `[limits.tools."T"]`
    pub tools: BTreeMap<String, PeriodBudgets>,
    /// `[limits.agents."N"]`
    pub agents: BTreeMap<String, AgentLimits>,
}

fn merge_maps(
    below: &BTreeMap<String, PeriodBudgets>,
    above: &BTreeMap<String, PeriodBudgets>,
) -> BTreeMap<String, PeriodBudgets> {
    let mut out = below.clone();
    for (name, table) in above {
        let merged = table.over(out.get(name).unwrap_or(&PeriodBudgets::default()));
        out.insert(name.clone(), merged);
    }
    out
}

/// One `Limit` per period of `table`, for the bucket of `scope`, `agent` and `tool`.
fn limits(
    scope: Scope,
    agent: Option<&str>,
    tool: Option<&str>,
    table: &PeriodBudgets,
) -> Vec<Limit> {
    table
        .budgets()
        .map(|budget| Limit {
            key: BucketKey {
                scope,
                agent: agent.map(str::to_string),
                tool: tool.map(str::to_string),
                period: budget.period(),
            },
            budget,
        })
        .collect()
}

impl LimitsConfig {
    /// `above` (the file) layered over `self` (the embedded defaults), table by table.
    pub fn layered_under(&self, above: &LimitsConfig) -> LimitsConfig {
        let mut agents = self.agents.clone();
        for (name, a) in &above.agents {
            let below = agents.remove(name).unwrap_or_default();
            agents.insert(
                name.clone(),
                AgentLimits {
                    own: a.own.over(&below.own),
                    tools: merge_maps(&below.tools, &a.tools),
                },
            );
        }
        LimitsConfig {
            agent: above.agent.over(&self.agent),
            tool: above.tool.over(&self.tool),
            tools: merge_maps(&self.tools, &above.tools),
            agents,
        }
    }

    /// The budgets of `agent`'s own buckets.
    pub fn agent_budgets(&self, agent: &str) -> PeriodBudgets {
        match self.agents.get(agent) {
            Some(a) => a.own.over(&self.agent),
            None => self.agent.clone(),
        }
    }

    /// The budgets of `tool`'s shared buckets.
    pub fn tool_budgets(&self, tool: &str) -> PeriodBudgets {
        match self.tools.get(tool) {
            Some(t) => t.over(&self.tool),
            None => self.tool.clone(),
        }
    }

    /// The budgets of `agent` on `tool` (none unless configured).
    pub fn agent_tool_budgets(&self, agent: &str, tool: &str) -> PeriodBudgets {
        self.agents
            .get(agent)
            .and_then(|a| a.tools.get(tool))
            .cloned()
            .unwrap_or_default()
    }

    /// Every bucket a call by `agent` to `tool` draws from, all taken together.
    pub fn limits_for(&self, agent: &str, tool: &str) -> Vec<Limit> {
        let mut out = self.agent_limits(agent);
        out.extend(self.tool_limits(tool));
        out.extend(self.agent_tool_limits(agent, tool));
        out
    }

    /// `agent`'s own buckets (whatever tool it calls).
    pub fn agent_limits(&self, agent: &str) -> Vec<Limit> {
        limits(Scope::Agent, Some(agent), None, &self.agent_budgets(agent))
    }

    /// `tool`'s buckets, shared by all agents.
    pub fn tool_limits(&self, tool: &str) -> Vec<Limit> {
        limits(Scope::Tool, None, Some(tool), &self.tool_budgets(tool))
    }

    /// `agent`'s buckets on `tool` (none unless configured).
    pub fn agent_tool_limits(&self, agent: &str, tool: &str) -> Vec<Limit> {
        let table = self.agent_tool_budgets(agent, tool);
        limits(Scope::AgentTool, Some(agent), Some(tool), &table)
    }

    /// The budget that applies to `key` now, if any (a bucket row may outlive its config).
    pub fn budget_for(&self, key: &BucketKey) -> Option<Budget> {
        let table = match (key.scope, key.agent.as_deref(), key.tool.as_deref()) {
            (Scope::Agent, Some(a), _) => self.agent_budgets(a),
            (Scope::Tool, _, Some(t)) => self.tool_budgets(t),
            (Scope::AgentTool, Some(a), Some(t)) => self.agent_tool_budgets(a, t),
            _ => return None,
        };
        table.budgets().find(|b| b.period() == key.period)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(pairs: &[(Period, u32)]) -> PeriodBudgets {
        let mut t = PeriodBudgets::default();
        for (p, n) in pairs {
            t.set(*p, NonZeroU32::new(*n).unwrap());
        }
        t
    }

    fn names(limits: &[Limit]) -> Vec<String> {
        limits
            .iter()
            .map(|l| format!("{} {}", l.key.scope.name(), l.budget))
            .collect()
    }

    #[test]
    fn an_override_sets_only_the_periods_it_names() {
        let defaults = LimitsConfig {
            agent: table(&[(Period::Minute, 60), (Period::Day, 2000)]),
            ..Default::default()
        };
        let mut file = LimitsConfig::default();
        file.agents.insert(
            "claude".into(),
            AgentLimits {
                own: table(&[(Period::Minute, 30)]),
                tools: BTreeMap::new(),
            },
        );
        let merged = defaults.layered_under(&file);
        let got: Vec<String> = merged
            .agent_budgets("claude")
            .budgets()
            .map(|b| b.to_string())
            .collect();
        assert_eq!(got, ["30/minute", "2000/day"]);
        let other: Vec<String> = merged
            .agent_budgets("cursor")
            .budgets()
            .map(|b| b.to_string())
            .collect();
        assert_eq!(other, ["60/minute", "2000/day"]);
    }

    #[test]
    fn a_tool_override_beats_the_file_wide_tool_table() {
        // The embedded small default for a send is not lifted by a generous [limits.tool].
        let mut defaults = LimitsConfig {
            tool: table(&[(Period::Minute, 120)]),
            ..Default::default()
        };
        defaults
            .tools
            .insert("gmail__send".into(), table(&[(Period::Minute, 2)]));
        let file = LimitsConfig {
            tool: table(&[(Period::Minute, 1000)]),
            ..Default::default()
        };
        let merged = defaults.layered_under(&file);
        assert_eq!(
            merged
                .tool_budgets("gmail__send")
                .budgets()
                .next()
                .unwrap()
                .to_string(),
            "2/minute"
        );
        assert_eq!(
            merged
                .tool_budgets("echo")
                .budgets()
                .next()
                .unwrap()
                .to_string(),
            "1000/minute"
        );
    }

    #[test]
    fn a_call_takes_agent_tool_and_agent_tool_buckets_together() {
        let mut limits = LimitsConfig {
            agent: table(&[(Period::Minute, 60)]),
            tool: table(&[(Period::Minute, 120)]),
            ..Default::default()
        };
        limits.agents.insert(
            "a".into(),
            AgentLimits {
                own: PeriodBudgets::default(),
                tools: BTreeMap::from([("t".into(), table(&[(Period::Hour, 10)]))]),
            },
        );
        assert_eq!(
            names(&limits.limits_for("a", "t")),
            ["agent 60/minute", "tool 120/minute", "agent_tool 10/hour"]
        );
        assert_eq!(
            names(&limits.limits_for("b", "t")),
            ["agent 60/minute", "tool 120/minute"]
        );
    }
}
