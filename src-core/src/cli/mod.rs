//! The command line: clap arguments, the `Command` enum and dispatch. Each
//! command parses, calls one library function and formats the result, as a
//! table or, with `--json`, one JSON document on stdout.

mod activity;
mod agents;
mod alerts;
mod connect;
mod doctor;
mod pause;
mod serve;
mod table;
mod trace;

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use gatehouse::clock::{SharedClock, SystemClock};
use gatehouse::config::Config;
use gatehouse::home::{EnvMap, Home, process_env};
use gatehouse::store::Store;

/// Gatehouse: guardrails for AI agents' tool calls (identity, budgets, redacted history).
#[derive(Debug, Parser)]
#[command(name = "gatehouse", version, about, propagate_version = true)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The stdio MCP server that clients launch (stdout is the MCP channel).
    Serve,
    /// Agents: list, add, approve, deny, revoke, rotate, tools.
    #[command(subcommand)]
    Agents(agents::AgentsCommand),
    /// Every budget and its live balance.
    Limits(activity::LimitsArgs),
    /// Recent calls, newest first.
    History(activity::HistoryArgs),
    /// What needs attention: open and recent alerts (evaluated now).
    Alerts(alerts::AlertsArgs),
    /// One trace's spans as a tree, from the local span files.
    Trace(trace::TraceArgs),
    /// Check paths, config, database, keychain and upstreams; say how to fix what's wrong.
    Doctor(doctor::DoctorArgs),
    /// Connect a GitHub or Google account (OAuth2; tokens go to the OS keychain).
    Connect(connect::ConnectArgs),
    /// Revoke and forget a connected account.
    Disconnect(connect::DisconnectArgs),
    /// Connected accounts: account, scopes, token expiry (never the token).
    Connections(connect::ConnectionsArgs),
    /// Pause every agent: all calls are refused (`denied`, reason `paused`) until `resume`.
    Pause(pause::PauseArgs),
    /// Let calls through again after `pause`.
    Resume(pause::PauseArgs),
}

/// What every command needs: where files are, the environment and the clock.
pub struct Ctx {
    env: EnvMap,
    home: Home,
    clock: SharedClock,
}

impl Ctx {
    fn store(&self) -> Result<Store> {
        Store::open(&self.home.db_file)
            .with_context(|| "the database could not be opened (run `gatehouse doctor`)")
    }

    fn config(&self) -> Result<Config> {
        Ok(Config::load_for(&self.home)?)
    }
}

/// Runs the command; `Ok` carries the exit code.
pub fn run(args: Args) -> Result<ExitCode> {
    let env = process_env();
    let home = Home::from_env(&env)?;
    let ctx = Ctx {
        env,
        home,
        clock: Arc::new(SystemClock),
    };
    match args.command {
        Command::Serve => serve::run(ctx),
        Command::Agents(cmd) => {
            let _log = gatehouse::telemetry::logs::init_cli(
                ctx.env.get("GATEHOUSE_LOG").map(String::as_str),
            );
            agents::run(&ctx, cmd)
        }
        Command::Limits(a) => activity::limits(&ctx, a),
        Command::History(a) => activity::history(&ctx, a),
        Command::Alerts(a) => alerts::run(&ctx, a),
        Command::Trace(a) => trace::run(&ctx, a),
        Command::Doctor(a) => doctor::run(&ctx, a),
        Command::Connect(a) => {
            let _log = cli_log(&ctx);
            connect::connect(&ctx, a)
        }
        Command::Disconnect(a) => {
            let _log = cli_log(&ctx);
            connect::disconnect(&ctx, a)
        }
        Command::Connections(a) => connect::connections(&ctx, a),
        Command::Pause(a) => pause::run(&ctx, true, a),
        Command::Resume(a) => pause::run(&ctx, false, a),
    }
}

/// Warnings and errors of a command on stderr.
fn cli_log(ctx: &Ctx) -> gatehouse::telemetry::logs::LogGuard {
    gatehouse::telemetry::logs::init_cli(ctx.env.get("GATEHOUSE_LOG").map(String::as_str))
}

/// Prints `value` as one pretty JSON document on stdout.
fn print_json<T: serde::Serialize>(value: &T) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}
