//! The `multi` scenario's library half: 4 processes (this binary re-executed
//! as `worker-decide`) make guard decisions on one database at once, each as
//! its own agent, all sharing the tool's bucket; reports the total
//! throughput and the worst single decision (a cross-process stall).

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use gatehouse::agents::{AgentName, Agents};
use gatehouse::clock::SystemClock;
use gatehouse::home::Home;
use gatehouse::store::Store;
use gatehouse::telemetry::{Redacted, logs};
use serde_json::json;

use crate::Sizes;
use crate::decision::{Decider, bench_home, runtime};
use crate::stats::{Samples, header, row};

/// The argument that makes this binary a deciding worker.
pub const WORKER: &str = "worker-decide";

fn unix_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// `worker-decide HOME N`, token in `GATEHOUSE_TOKEN`: warms up, prints
/// `ready`, waits for a line on stdin, makes N decisions, prints one JSON line.
pub fn worker(args: &[String]) -> Result<()> {
    let [dir, n] = args else {
        bail!("usage: {WORKER} HOME N");
    };
    let n: usize = n.parse()?;
    let home = Home::in_dir(dir);
    let token = Redacted::new(std::env::var("GATEHOUSE_TOKEN").context("GATEHOUSE_TOKEN")?);
    let _log = logs::init_serve(&home.logs_dir, 1, crate::log_spec().as_deref())?;
    let rt = runtime()?;
    rt.block_on(async {
        let d = Decider::open(&home, token)?;
        for i in 0..200 {
            d.decide(i, None).await.map_err(anyhow::Error::msg)?;
        }
        let mut out = std::io::stdout().lock();
        writeln!(out, "ready")?;
        out.flush()?;
        drop(out);
        let mut go = String::new();
        std::io::stdin().read_line(&mut go)?;
        let start_ns = unix_ns();
        let mut lat = Vec::with_capacity(n);
        let mut errors = Vec::new();
        for i in 0..n {
            let t = Instant::now();
            if let Err(e) = d.decide(i, None).await {
                errors.push(e);
            }
            lat.push(t.elapsed().as_nanos() as u64);
        }
        let end_ns = unix_ns();
        let line = json!({"start_ns": start_ns, "end_ns": end_ns, "lat_ns": lat, "errors": errors});
        println!("{line}");
        Ok(())
    })
}

/// 4 processes deciding on one database at once.
pub fn multi(sizes: Sizes) -> Result<()> {
    const PROCS: usize = 4;
    let (_dir, home, _) = bench_home()?;
    let store = Store::open(&home.db_file)?;
    let agents = Agents::new(store, Arc::new(SystemClock));
    let mut children: Vec<(Child, BufReader<std::process::ChildStdout>)> = Vec::new();
    let exe = std::env::current_exe()?;
    for p in 0..PROCS {
        // One agent per process (as with one client each); the tool bucket is shared by all.
        let token = agents.add(&AgentName::parse(&format!("proc{p}"))?)?.token;
        let mut child = std::process::Command::new(&exe)
            .args([
                WORKER,
                &home.data_dir().display().to_string(),
                &sizes.multi_calls.to_string(),
            ])
            .env("GATEHOUSE_TOKEN", token.expose())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let out = BufReader::new(child.stdout.take().context("stdout")?);
        children.push((child, out));
    }
    for (_, out) in &mut children {
        let mut line = String::new();
        out.read_line(&mut line)?;
        if line.trim() != "ready" {
            bail!("a deciding process did not start: {line:?}");
        }
    }
    for (child, _) in &mut children {
        writeln!(child.stdin.as_mut().context("stdin")?, "go")?;
    }
    let mut all = Samples::default();
    let (mut first, mut last, mut errors) = (u64::MAX, 0u64, Vec::new());
    for (mut child, mut out) in children {
        let mut line = String::new();
        out.read_line(&mut line)?;
        child.wait()?;
        let v: serde_json::Value = serde_json::from_str(&line).context("worker output")?;
        first = first.min(v["start_ns"].as_u64().unwrap_or(0));
        last = last.max(v["end_ns"].as_u64().unwrap_or(0));
        for x in v["lat_ns"].as_array().into_iter().flatten() {
            all.push_ns(x.as_u64().unwrap_or(0));
        }
        errors.extend(v["errors"].as_array().into_iter().flatten().cloned());
    }
    let secs = (last - first) as f64 / 1e9;
    header("4 processes deciding on one database (library, identify + policy + limit + record)");
    row("decision, all 4 processes", &all.summary());
    println!();
    println!(
        "throughput: {:.0} decisions/s in total ({} decisions in {:.2} s); worst single decision {:.2} ms; over 5 ms: {}, over 20 ms: {}; refused: {}",
        all.len() as f64 / secs,
        all.len(),
        secs,
        all.summary().max as f64 / 1e6,
        all.count_over(Duration::from_millis(5)),
        all.count_over(Duration::from_millis(20)),
        errors.len()
    );
    if let Some(e) = errors.first() {
        println!("first refusal: {e}");
    }
    Ok(())
}
