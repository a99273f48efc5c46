//! Read-only listings: `gatehouse limits` and `gatehouse history`.

use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::Args as ClapArgs;
use gatehouse::listings::{self, LimitsFilter};
use gatehouse::store::{CallStatus, HistoryFilter};
use gatehouse::views::HistoryView;

use super::{Ctx, print_json, table};

#[derive(Debug, ClapArgs)]
pub struct LimitsArgs {
    /// Only this agent's budgets.
    #[arg(long)]
    agent: Option<String>,
    /// Only this tool's budgets.
    #[arg(long)]
    tool: Option<String>,
    /// Print one JSON document instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, ClapArgs)]
pub struct HistoryArgs {
    /// Only this agent's calls.
    #[arg(long)]
    agent: Option<String>,
    /// Only calls to this tool.
    #[arg(long)]
    tool: Option<String>,
    /// Only calls that ended so: ok, business_error, system_error, rate_limited, denied, approval_pending.
    #[arg(long)]
    status: Option<String>,
    /// At most this many calls, newest first.
    #[arg(long, default_value_t = 50)]
    limit: usize,
    /// Print one JSON document instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn limits(ctx: &Ctx, a: LimitsArgs) -> Result<ExitCode> {
    let config = ctx.config()?;
    let store = ctx.store()?;
    let filter = LimitsFilter {
        agent: a.agent,
        tool: a.tool,
    };
    let rows = listings::limits(&store, &config.limits, &filter, ctx.clock.now())?;
    if a.json {
        print_json(&rows)?;
        return Ok(ExitCode::SUCCESS);
    }
    let body: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.scope.to_string(),
                r.agent.clone().unwrap_or_else(|| "*".into()),
                r.tool.clone().unwrap_or_else(|| "*".into()),
                r.budget.clone(),
                format!("{:.2}", r.balance),
                r.full_at.clone(),
            ]
        })
        .collect();
    println!(
        "{}",
        table::render(
            &["SCOPE", "AGENT", "TOOL", "BUDGET", "BALANCE", "FULL AT"],
            &body
        )
    );
    Ok(ExitCode::SUCCESS)
}

pub fn history(ctx: &Ctx, a: HistoryArgs) -> Result<ExitCode> {
    let status = match a.status.as_deref() {
        None => None,
        Some(s) => match CallStatus::from_name(s) {
            Some(s) => Some(s),
            None => bail!(
                "unknown status \"{s}\"; use one of: {}",
                CallStatus::ALL.map(CallStatus::name).join(", ")
            ),
        },
    };
    let store = ctx.store()?;
    let filter = HistoryFilter {
        agent: a.agent,
        tool: a.tool,
        status,
        limit: a.limit.clamp(1, 100_000),
        ..Default::default()
    };
    let rows: Vec<HistoryView> = listings::history(&store, &filter)?;
    if a.json {
        print_json(&rows)?;
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        println!("No calls recorded yet.");
        return Ok(ExitCode::SUCCESS);
    }
    let body: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.time.clone(),
                r.agent.clone().unwrap_or_else(|| "-".into()),
                r.tool.clone(),
                r.status.to_string(),
                format!("{:.1}", r.latency_ms),
                r.trace_id.clone(),
                r.args.to_string(),
            ]
        })
        .collect();
    println!(
        "{}",
        table::render(
            &[
                "TIME",
                "AGENT",
                "TOOL",
                "STATUS",
                "MS",
                "TRACE",
                "ARGS (redacted)"
            ],
            &body
        )
    );
    Ok(ExitCode::SUCCESS)
}
