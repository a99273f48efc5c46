//! Gatehouse's performance benchmarks: one binary, scenarios chosen by argument.
//!
//! ```text
//! cargo bench -p gatehouse --bench guard -- [decision] [e2e] [multi] [startup] [tracing] [alerts] [--quick]
//! ```
//!
//! With no scenario, all run. `scripts/bench.sh` is the one command that builds
//! and runs them all; `docs/benchmarks.md` has the targets, the numbers and
//! what they mean.
//!
//! - `decision`: the guard's decision in process (identify → policy → limit →
//!   record) against a real SQLite file, with the JSON log that `serve` writes.
//! - `e2e`: 2,000 sequential `tools/call` of server-everything's `echo`:
//!   directly, through a do-nothing stdio relay process (the floor for any
//!   stdio proxy) and through `gatehouse serve`, interleaved call by call.
//! - `multi`: 4 processes on one database: library deciders, then 4 `serve`
//!   processes driven concurrently; throughput and the worst single call.
//! - `startup`: `gatehouse serve` from spawn to the `initialize` answer, and its RSS.
//! - `tracing`: what traces add per call: `serve` with traces off, with span
//!   files (the default), and with span files plus OTLP export to a local
//!   receiver, interleaved call by call.
//! - `alerts`: how long one alert evaluation (read and apply, one
//!   transaction) holds the write lock, over a day of history.
//!
//! Environment: `GATEHOUSE_LOG` (the log filter, as for `serve`; passed on),
//! `GATEHOUSE_BENCH_BIN` (default: the `gatehouse` that cargo
//! built alongside), `GATEHOUSE_BENCH_EVERYTHING` (server-everything's
//! `dist/index.js`, default: `tests/node_modules`, see `tests/setup.sh`).

#[path = "guard/alerts.rs"]
mod alerts;
#[path = "guard/decision.rs"]
mod decision;
#[path = "guard/e2e.rs"]
mod e2e;
#[path = "guard/multi.rs"]
mod multi;
#[path = "guard/startup.rs"]
mod startup;
#[path = "guard/stats.rs"]
mod stats;
#[path = "guard/traced.rs"]
mod traced;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// Budgets no benchmark can exhaust, in the shape of the defaults: an agent
/// has a per-minute and a per-day bucket, a tool a per-minute one, so every
/// limited call takes from three buckets in one transaction.
pub const BIG_BUDGETS: &str = "\
[limits.agent]
per_minute = 4000000000
per_day = 4000000000

[limits.tool]
per_minute = 4000000000
";

/// How many samples each scenario takes.
#[derive(Clone, Copy, Debug)]
pub struct Sizes {
    /// Sequential in-process decisions.
    pub decisions: usize,
    /// Sequential end-to-end calls per path.
    pub e2e_calls: usize,
    /// Calls per process in the 4-process scenarios.
    pub multi_calls: usize,
    /// Startup repetitions.
    pub startups: usize,
}

impl Sizes {
    fn full() -> Self {
        Self {
            decisions: 20_000,
            e2e_calls: 2_000,
            multi_calls: 2_000,
            startups: 20,
        }
    }

    fn quick() -> Self {
        Self {
            decisions: 2_000,
            e2e_calls: 300,
            multi_calls: 300,
            startups: 5,
        }
    }
}

/// The `gatehouse` binary under test.
pub fn gatehouse_bin() -> PathBuf {
    std::env::var_os("GATEHOUSE_BENCH_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_gatehouse")))
}

/// server-everything's stdio entry point.
pub fn everything_js() -> Result<PathBuf> {
    let path = std::env::var_os("GATEHOUSE_BENCH_EVERYTHING")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../tests/node_modules/@modelcontextprotocol/server-everything/dist/index.js")
        });
    if !path.exists() {
        bail!(
            "{} is missing: run `bash tests/setup.sh` first (scripts/bench.sh does)",
            path.display()
        );
    }
    Ok(path.canonicalize()?)
}

/// The `[[upstream]]` table for server-everything, named `everything`.
pub fn everything_upstream() -> Result<String> {
    Ok(format!(
        "\n[[upstream]]\nname = \"everything\"\ncommand = \"node\"\nargs = [{:?}, \"stdio\"]\n",
        everything_js()?.display().to_string()
    ))
}

/// A fresh `GATEHOUSE_HOME` with `config` (none when empty).
pub fn home_with(config: &str) -> Result<tempfile::TempDir> {
    let dir = tempfile::Builder::new()
        .prefix("gatehouse-bench-")
        .tempdir()?;
    if !config.is_empty() {
        std::fs::write(dir.path().join("config.toml"), config)?;
    }
    Ok(dir)
}

/// `gatehouse` with `home` and a clean environment.
pub fn gatehouse_cmd(home: &Path) -> Command {
    let mut c = Command::new(gatehouse_bin());
    c.env_clear()
        .env("GATEHOUSE_HOME", home)
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home);
    if let Some(spec) = log_spec() {
        c.env("GATEHOUSE_LOG", spec);
    }
    c
}

/// `GATEHOUSE_LOG`, passed on to every `serve` and used by in-process
/// deciders as `serve` uses it (e.g. `off` to see what logging costs).
pub fn log_spec() -> Option<String> {
    std::env::var("GATEHOUSE_LOG").ok()
}

/// Adds a token agent with the CLI, as a user would; returns its token.
pub fn add_agent(home: &Path, name: &str) -> Result<String> {
    let out = gatehouse_cmd(home)
        .args(["agents", "add", name, "--json"])
        .output()
        .context("running gatehouse agents add")?;
    if !out.status.success() {
        bail!(
            "gatehouse agents add failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    v["token"]
        .as_str()
        .map(str::to_string)
        .context("agents add --json printed no token")
}

/// The machine, for the record.
fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cores} cores, {cpu}")
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // Re-executed as one of the deciding processes of the `multi` scenario.
    if args.first().map(String::as_str) == Some(multi::WORKER) {
        return multi::worker(&args[1..]);
    }
    // Re-executed as the do-nothing stdio relay of the `e2e` scenario.
    if args.first().map(String::as_str) == Some(e2e::RELAY) {
        return e2e::relay(&args[1..]);
    }
    let quick = args.iter().any(|a| a == "--quick");
    let sizes = if quick { Sizes::quick() } else { Sizes::full() };
    // `cargo bench` passes `--bench`; other flags are ours or ignored.
    let mut chosen: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| !a.starts_with("--"))
        .collect();
    const ALL: [&str; 6] = ["decision", "e2e", "multi", "startup", "tracing", "alerts"];
    if chosen.is_empty() {
        chosen = ALL.to_vec();
    }
    if let Some(bad) = chosen.iter().find(|c| !ALL.contains(c)) {
        bail!("unknown scenario {bad:?}; choose from {ALL:?}");
    }
    println!("# Gatehouse benchmarks");
    println!();
    println!("- machine: {}", machine());
    println!("- binary: {}", gatehouse_bin().display());
    println!("- sizes: {sizes:?}");
    for c in chosen {
        match c {
            "decision" => decision::run(sizes)?,
            "e2e" => e2e::run(sizes)?,
            "multi" => {
                multi::multi(sizes)?;
                e2e::multi(sizes)?;
            }
            "startup" => startup::run(sizes)?,
            "tracing" => traced::run(sizes)?,
            "alerts" => alerts::run(sizes)?,
            _ => unreachable!(),
        }
    }
    Ok(())
}
