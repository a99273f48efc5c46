//! `gatehouse serve` from spawn to the `initialize` answer, and its resident
//! memory once idle, driven with raw JSON-RPC lines as a client would.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::stats::{Samples, header, row};
use crate::{BIG_BUDGETS, Sizes};

struct Serve {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Serve {
    fn spawn(home: &Path, token: Option<&str>) -> Result<Self> {
        let mut cmd = crate::gatehouse_cmd(home);
        cmd.arg("serve")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if let Some(t) = token {
            cmd.env("GATEHOUSE_TOKEN", t);
        }
        let mut child = cmd.spawn()?;
        let stdin = child.stdin.take().context("stdin")?;
        let stdout = BufReader::new(child.stdout.take().context("stdout")?);
        Ok(Self {
            child,
            stdin,
            stdout,
        })
    }

    fn send(&mut self, msg: &Value) -> Result<()> {
        writeln!(self.stdin, "{msg}")?;
        self.stdin.flush()?;
        Ok(())
    }

    /// Reads lines until the answer to `id` (notifications are skipped).
    fn answer(&mut self, id: i64) -> Result<Value> {
        loop {
            let mut line = String::new();
            if self.stdout.read_line(&mut line)? == 0 {
                bail!("gatehouse serve closed stdout before answering request {id}");
            }
            let v: Value = serde_json::from_str(&line)?;
            if v["id"] == id {
                if v.get("error").is_some() {
                    bail!("request {id} failed: {v}");
                }
                return Ok(v);
            }
        }
    }

    fn request(&mut self, id: i64, method: &str, params: Value) -> Result<Value> {
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))?;
        self.answer(id)
    }

    /// Closes stdin (the client hangs up) and waits for the exit, killing after 5 s.
    fn close(mut self) -> Result<()> {
        drop(self.stdin);
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.child.try_wait()?.is_none() {
            if Instant::now() > deadline {
                self.child.kill()?;
                self.child.wait()?;
                bail!("gatehouse serve did not exit within 5 s of stdin closing");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(())
    }
}

fn initialize() -> Value {
    json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "bench", "version": "1.0"}
        }
    })
}

/// Spawns `serve`, writes `initialize` at once, and times until its answer arrives.
fn time_startup(home: &Path) -> Result<Duration> {
    let t = Instant::now();
    let mut s = Serve::spawn(home, None)?;
    s.send(&initialize())?;
    s.answer(1)?;
    let took = t.elapsed();
    s.close()?;
    Ok(took)
}

/// `VmRSS` and `VmHWM` of `pid`, in KiB.
fn rss_kib(pid: u32) -> Result<(u64, u64)> {
    let f = status_kib(pid, &["VmRSS:", "VmHWM:"])?;
    Ok((f[0], f[1]))
}

/// Fields of `/proc/PID/status`, in KiB.
fn status_kib(pid: u32, names: &[&str]) -> Result<Vec<u64>> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Ok(names.iter().map(|n| field(n)).collect())
}

/// The RSS of `pid`'s direct children (of any of its threads), in KiB.
fn children_rss_kib(pid: u32) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("children")).ok())
        .flat_map(|c| {
            c.split_whitespace()
                .filter_map(|c| c.parse::<u32>().ok())
                .collect::<Vec<_>>()
        })
        .filter_map(|c| rss_kib(c).ok())
        .map(|(rss, _)| rss)
        .sum()
}

/// KiB as MiB and as MB (the target is in MB).
fn mib(kib: u64) -> String {
    format!(
        "{:.1} MiB = {:.1} MB",
        kib as f64 / 1024.0,
        kib as f64 * 1024.0 / 1e6
    )
}

/// RSS after initialize + tools/list, then after `calls` calls of gatehouse__budgets.
fn rss(title: &str, config: &str, calls: usize) -> Result<()> {
    let home = crate::home_with(config)?;
    let token = crate::add_agent(home.path(), "bench")?;
    let mut s = Serve::spawn(home.path(), Some(&token))?;
    s.request(1, "initialize", initialize()["params"].clone())?;
    s.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))?;
    let list = s.request(2, "tools/list", json!({}))?;
    let tools = list["result"]["tools"].as_array().map_or(0, Vec::len);
    std::thread::sleep(Duration::from_millis(500));
    let pid = s.child.id();
    let (idle, _) = rss_kib(pid)?;
    let split = status_kib(pid, &["RssAnon:", "RssFile:", "Threads:"])?;
    let node = children_rss_kib(pid);
    for i in 0..calls {
        s.request(
            10 + i as i64,
            "tools/call",
            json!({"name": "gatehouse__budgets", "arguments": {}}),
        )?;
    }
    std::thread::sleep(Duration::from_millis(500));
    let (after, hwm) = rss_kib(pid)?;
    s.close()?;
    println!(
        "- {title}: {tools} tools listed; idle RSS {} (anonymous {} KiB, file-backed {} KiB, {} threads; children: {}); after {calls} calls {} (peak {})",
        mib(idle),
        split[0],
        split[1],
        split[2],
        if node == 0 { "none".into() } else { mib(node) },
        mib(after),
        mib(hwm),
    );
    Ok(())
}

pub fn run(sizes: Sizes) -> Result<()> {
    // A fresh home each time: the database, its migrations and the key are created.
    let mut fresh = Samples::default();
    for _ in 0..sizes.startups {
        let home = crate::home_with("")?;
        fresh.push(time_startup(home.path())?);
    }
    // The same home again and again: the common case once installed.
    let home = crate::home_with("")?;
    time_startup(home.path())?;
    let mut warm = Samples::default();
    for _ in 0..sizes.startups {
        warm.push(time_startup(home.path())?);
    }
    header("gatehouse serve: spawn → initialize answered");
    row(
        "fresh GATEHOUSE_HOME (creates db, key, logs)",
        &fresh.summary(),
    );
    row("existing GATEHOUSE_HOME", &warm.summary());
    println!();
    println!("## gatehouse serve: resident memory (VmRSS of the gatehouse process)");
    println!();
    rss("no upstream", BIG_BUDGETS, 2_000)?;
    rss(
        "with the everything upstream",
        &format!("{BIG_BUDGETS}{}", crate::everything_upstream()?),
        2_000,
    )?;
    Ok(())
}
