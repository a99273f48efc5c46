//! `gatehouse pause` and `gatehouse resume`: stop every agent's calls at once
//! (running `serve` processes refuse from their next call), and let them through again.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args as ClapArgs;
use gatehouse::agents::Agents;
use gatehouse::views::PauseView;

use super::{Ctx, print_json};

#[derive(Debug, ClapArgs)]
pub struct PauseArgs {
    /// Print one JSON document instead of text.
    #[arg(long)]
    json: bool,
}

/// `pause` with `on`, `resume` without.
pub fn run(ctx: &Ctx, on: bool, a: PauseArgs) -> Result<ExitCode> {
    let agents = Agents::new(ctx.store()?, ctx.clock.clone());
    let view = if on {
        PauseView::new(Some(agents.pause()?))
    } else {
        agents.resume()?;
        PauseView::new(None)
    };
    if a.json {
        print_json(&view)?;
    } else if let Some(since) = &view.since {
        println!(
            "All agents are paused (since {since}): every call is refused until `gatehouse resume`."
        );
    } else {
        println!("Agents are no longer paused: calls go through as usual.");
    }
    Ok(ExitCode::SUCCESS)
}
