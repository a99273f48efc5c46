//! `gatehouse alerts`: evaluates the alert rules against the history now,
//! then lists open alerts and those resolved recently.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args as ClapArgs;
use gatehouse::alerts;

use super::{Ctx, print_json, table};

#[derive(Debug, ClapArgs)]
pub struct AlertsArgs {
    /// Also list alerts resolved in the last DAYS days.
    #[arg(long, default_value_t = 7, value_name = "DAYS")]
    days: u32,
    /// Print one JSON document instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(ctx: &Ctx, a: AlertsArgs) -> Result<ExitCode> {
    let config = ctx.config()?;
    let store = ctx.store()?;
    let now = ctx.clock.now();
    // When a running serve holds the evaluation, its result (at most one
    // check_every old) is what's listed: its thresholds stay the ones in force.
    alerts::evaluate(&store, &config.alerts, now)?;
    let rows = alerts::list(&store, now, a.days)?;
    if a.json {
        print_json(&rows)?;
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        println!("No alerts.");
        return Ok(ExitCode::SUCCESS);
    }
    let body: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.state.to_uppercase(),
                r.kind.clone(),
                r.opened_at.clone(),
                r.resolved_at.clone().unwrap_or_else(|| "-".into()),
                r.why.clone(),
            ]
        })
        .collect();
    println!(
        "{}",
        table::render(&["STATE", "KIND", "OPENED", "RESOLVED", "WHY"], &body)
    );
    Ok(ExitCode::SUCCESS)
}
