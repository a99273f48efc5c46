//! Stage 4, execute: runs the tool, built-in or upstream. It needs the
//! `Permit` from the limit stage; the trace context goes along to upstreams.

use rmcp::model::JsonObject;
use tracing::Instrument;

use super::Guard;
use super::blocking;
use super::call::Call;
use super::limit::Permit;
use super::outcome::{Outcome, Refusal};
use crate::config::Config;
use crate::store::AgentRow;
use crate::telemetry::spans;
use crate::tools::{ToolEntry, ToolKind, budgets};
use crate::upstream::{Forward, UpstreamError};

/// Runs `tool` for `agent`, with the call's snapshot of the settings.
pub async fn run(
    guard: &Guard,
    config: &Config,
    agent: &AgentRow,
    tool: &ToolEntry,
    call: Call,
    _permit: Permit,
) -> Outcome {
    match &tool.kind {
        ToolKind::Budgets => {
            run_budgets(guard, config, agent, call.args.into_inner())
                .instrument(spans::builtin(tool.name.as_str()))
                .await
        }
        ToolKind::Api(provider) => match guard.catalog.accounts() {
            Some(accounts) => {
                crate::tools::account::run(
                    accounts,
                    *provider,
                    tool.name.local(),
                    call.args.into_inner(),
                    &call.propagate,
                )
                .await
            }
            None => Outcome::Refused(Refusal::Denied(crate::guard::DenyReason::NotConnected {
                provider: provider.name().into(),
            })),
        },
        ToolKind::Upstream(name) => {
            let Some(up) = guard.catalog.upstreams().get(name.as_str()) else {
                return Outcome::UpstreamFailed(UpstreamError::Unavailable {
                    upstream: name.to_string(),
                    reason: "it is not configured in this process".into(),
                    retry_after_ms: None,
                });
            };
            let fwd = Forward {
                meta: call.propagate,
                cancel: call.cancel,
                progress: call.progress,
            };
            let settings = guard.catalog.upstreams().settings();
            match up
                .call(
                    tool.name.local(),
                    call.args.into_inner(),
                    fwd,
                    settings.upstream_start,
                    settings.upstream_call,
                )
                .await
            {
                Ok(result) => Outcome::Done(result),
                Err(e) => Outcome::UpstreamFailed(e),
            }
        }
    }
}

async fn run_budgets(
    guard: &Guard,
    config: &Config,
    agent: &AgentRow,
    args: JsonObject,
) -> Outcome {
    let args: budgets::BudgetsArgs = match serde_json::from_value(serde_json::Value::Object(args)) {
        Ok(a) => a,
        Err(e) => return Outcome::BadParams(format!("gatehouse__budgets: {e}")),
    };
    let tools: Vec<String> = match args.tool {
        Some(t) => vec![t],
        None => guard
            .visible(config, agent)
            .await
            .into_iter()
            .filter(|t| t.kind != ToolKind::Budgets)
            .map(|t| t.name.as_str().to_string())
            .collect(),
    };
    let (store, limits, name, now) = (
        guard.store.clone(),
        config.limits.clone(),
        agent.name.clone(),
        guard.clock.now(),
    );
    let rows = match blocking(move || budgets::report(&store, &limits, &name, &tools, now)).await {
        Ok(rows) => rows,
        Err(refusal) => return Outcome::Refused(refusal),
    };
    Outcome::Done(budgets::result(&agent.name, &rows))
}

impl From<Refusal> for Outcome {
    fn from(r: Refusal) -> Self {
        Outcome::Refused(r)
    }
}
