//! `gatehouse doctor`: runs the library's checks and prints each with its fix.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args as ClapArgs;
use gatehouse::doctor::{self, Level};

use super::{Ctx, print_json};

#[derive(Debug, ClapArgs)]
pub struct DoctorArgs {
    /// Don't start the upstreams to check them (only look for their commands).
    #[arg(long)]
    no_start: bool,
    /// Print one JSON document instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(ctx: &Ctx, a: DoctorArgs) -> Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let checks = runtime.block_on(doctor::run(&ctx.home, &ctx.env, !a.no_start));
    let failed = checks.iter().any(|c| c.level == Level::Fail);
    if a.json {
        print_json(&checks)?;
    } else {
        for c in &checks {
            let mark = match c.level {
                Level::Ok => "ok  ",
                Level::Warn => "warn",
                Level::Fail => "FAIL",
            };
            println!("[{mark}] {}: {}", c.name, c.detail);
            if let Some(fix) = &c.fix {
                println!("       fix: {fix}");
            }
        }
        println!(
            "\nconfig: {}\ndatabase: {}\nlogs: {}",
            ctx.home.config_file.display(),
            ctx.home.db_file.display(),
            ctx.home.logs_dir.display()
        );
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
