//! `gatehouse__budgets`: tells the calling agent its own budgets, balances
//! and when each refills, so a well-behaved agent can pace itself instead of
//! hitting the wall. It is identified, policed and recorded like any tool but
//! takes no token: an agent can always ask what it has left.

use rmcp::model::{CallToolResult, ContentBlock, Tool};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use super::{ToolEntry, ToolKind, ToolName, schema_of};
use crate::clock::UnixMillis;
use crate::config::LimitsConfig;
use crate::listings::LimitSet;
use crate::store::{Store, StoreError};
use crate::views::BudgetView;

/// The tool's full name.
pub const NAME: &str = "gatehouse__budgets";

/// Arguments of `gatehouse__budgets`. The model reads these docs to decide how to call: write for it.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BudgetsArgs {
    /// Only the budgets that apply when calling this tool, e.g. "github__create_issue".
    /// When absent: your own budgets and those of every tool you may call.
    pub tool: Option<String>,
}

/// The tool's definition.
pub fn entry() -> ToolEntry {
    let schema = schema_of::<BudgetsArgs>();
    let tool = Tool::new(
        NAME,
        "Your remaining call budgets at Gatehouse: for each budget that applies to you (your own, each tool's \
         shared one, yours on a tool) the capacity, the tokens left now, and when the next token arrives. \
         Check before a burst of calls and pace yourself; this call itself costs nothing.",
        std::sync::Arc::new(schema),
    );
    ToolEntry {
        name: ToolName::parse(NAME).expect("valid built-in name"),
        tool,
        safe: Default::default(),
        kind: ToolKind::Budgets,
    }
}

/// Every budget that applies to `agent` calling any of `tools`, with live balances.
pub fn report(
    store: &Store,
    limits: &LimitsConfig,
    agent: &str,
    tools: &[String],
    now: UnixMillis,
) -> Result<Vec<BudgetView>, StoreError> {
    let mut all = LimitSet::default();
    for tool in tools {
        all.add(limits.limits_for(agent, tool));
    }
    if tools.is_empty() {
        all.add(limits.agent_limits(agent));
    }
    all.views(store, now)
}

/// The tool result: a short text for the model and the rows as structured content.
pub fn result(agent: &str, rows: &[BudgetView]) -> CallToolResult {
    let mut text = format!("Budgets for agent \"{agent}\":");
    for r in rows {
        let whose = match (r.scope, r.tool.as_deref()) {
            ("agent", _) => "you, all tools".to_string(),
            ("tool", Some(t)) => format!("{t}, shared by all agents"),
            (_, Some(t)) => format!("you on {t}"),
            _ => r.scope.to_string(),
        };
        let next = if r.next_token_ms == 0 {
            String::new()
        } else {
            format!(", next token in {} ms", r.next_token_ms)
        };
        text.push_str(&format!(
            "\n- {whose}: {:.2} of {} left{next}",
            r.balance, r.budget
        ));
    }
    let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
    result.structured_content = Some(json!({ "agent": agent, "budgets": rows }));
    result
}
