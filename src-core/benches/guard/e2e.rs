//! End to end, with a real MCP client (rmcp) and a real upstream
//! (server-everything on node): `echo` called directly, through a relay
//! process that only copies lines (what any stdio proxy costs at least), and
//! `everything__echo` through `gatehouse serve`, interleaved call by call so
//! all paths see the same machine. Then 4 `serve` processes on one database,
//! driven at once.

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use gatehouse::home::Home;
use gatehouse::store::{HistoryFilter, Store};
use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, JsonObject};
use rmcp::service::{RoleClient, RunningService};
use rmcp::transport::TokioChildProcess;
use serde_json::json;
use tokio::process::Command;

use crate::stats::{Samples, header, row, us, us_signed};
use crate::{BIG_BUDGETS, Sizes};

type Client = RunningService<RoleClient, ()>;

const WARMUP: usize = 200;

/// The argument that makes this binary the relay.
pub const RELAY: &str = "relay";

/// `relay CMD ARGS...`: runs CMD and copies lines stdin → CMD and CMD → stdout,
/// flushing each, with one blocking thread per direction: nothing else.
pub fn relay(args: &[String]) -> Result<()> {
    let (cmd, rest) = args.split_first().context("usage: relay CMD ARGS...")?;
    let mut child = std::process::Command::new(cmd)
        .args(rest)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let mut to_child = child.stdin.take().context("stdin")?;
    let mut from_child = BufReader::new(child.stdout.take().context("stdout")?);
    let back = std::thread::spawn(move || -> std::io::Result<()> {
        let mut out = std::io::stdout().lock();
        let mut line = Vec::new();
        while from_child.read_until(b'\n', &mut line)? > 0 {
            out.write_all(&line)?;
            out.flush()?;
            line.clear();
        }
        Ok(())
    });
    let mut input = std::io::stdin().lock();
    let mut line = Vec::new();
    while input.read_until(b'\n', &mut line)? > 0 {
        to_child.write_all(&line)?;
        to_child.flush()?;
        line.clear();
    }
    drop(to_child);
    child.wait()?;
    let _ = back.join();
    Ok(())
}

async fn connect(cmd: Command) -> Result<Client> {
    Ok(connect_pid(cmd).await?.0)
}

/// Connects to the server `cmd` starts; also returns its pid.
pub(crate) async fn connect_pid(cmd: Command) -> Result<(Client, u32)> {
    let (transport, _) = TokioChildProcess::builder(cmd)
        .stderr(Stdio::null())
        .spawn()?;
    let pid = transport.id().context("the child has no pid")?;
    Ok((().serve(transport).await?, pid))
}

/// CPU time (ns) and context switches of every thread of `pid`, so far.
fn cpu_and_switches(pid: u32) -> (u64, u64) {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return (0, 0);
    };
    let (mut cpu, mut switches) = (0, 0);
    for t in tasks.flatten() {
        let read = |f: &str| std::fs::read_to_string(t.path().join(f)).unwrap_or_default();
        cpu += read("schedstat")
            .split_whitespace()
            .next()
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0);
        switches += read("status")
            .lines()
            .filter(|l| l.contains("ctxt_switches"))
            .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
            .sum::<u64>();
    }
    (cpu, switches)
}

/// server-everything on node, as its own MCP server.
async fn direct() -> Result<Client> {
    let mut cmd = Command::new("node");
    cmd.arg(crate::everything_js()?).arg("stdio");
    connect(cmd).await
}

/// server-everything behind the relay.
async fn relayed() -> Result<(Client, u32)> {
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.arg(RELAY)
        .arg("node")
        .arg(crate::everything_js()?)
        .arg("stdio");
    connect_pid(cmd).await
}

/// `gatehouse serve` on `home` as the agent with `token`.
async fn through(home: &std::path::Path, token: &str) -> Result<Client> {
    Ok(through_pid(home, token).await?.0)
}

async fn through_pid(home: &std::path::Path, token: &str) -> Result<(Client, u32)> {
    let mut cmd = Command::from(crate::gatehouse_cmd(home));
    cmd.arg("serve").env("GATEHOUSE_TOKEN", token);
    connect_pid(cmd).await
}

pub(crate) fn echo_args() -> JsonObject {
    json!({"message": "hello from the benchmark"})
        .as_object()
        .cloned()
        .unwrap_or_default()
}

/// One `tools/call`; its latency, or why it failed.
pub(crate) async fn call(
    client: &Client,
    tool: &str,
    args: &JsonObject,
) -> Result<Duration, String> {
    let params = CallToolRequestParams::new(tool.to_string()).with_arguments(args.clone());
    let t = Instant::now();
    let r = client.call_tool(params).await;
    let took = t.elapsed();
    match r {
        Ok(r) if r.is_error != Some(true) => Ok(took),
        Ok(r) => Err(format!(
            "{tool} returned an error: {}",
            serde_json::to_string(&r).unwrap_or_default()
        )),
        Err(e) => Err(format!("{tool} failed: {e}")),
    }
}

/// Calls `tool` until it succeeds (the upstream is still starting), up to 30 s.
pub(crate) async fn until_ready(client: &Client, tool: &str, args: &JsonObject) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match call(client, tool, args).await {
            Ok(_) => return Ok(()),
            Err(e) if Instant::now() > deadline => bail!("{tool} never became ready: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

/// Gatehouse's own record of the last `n` calls to `tool`: `latency_us` is
/// the time from the guard receiving the call to its outcome (upstream included).
pub(crate) fn recorded(home: &std::path::Path, tool: &str, n: usize) -> Result<Samples> {
    let store = Store::open(&Home::in_dir(home).db_file)?;
    let rows = store.history(&HistoryFilter {
        tool: Some(tool.into()),
        limit: n,
        ..Default::default()
    })?;
    let mut s = Samples::default();
    for r in rows {
        s.push_ns(r.record.latency_us.max(0) as u64 * 1_000);
    }
    Ok(s)
}

pub fn run(sizes: Sizes) -> Result<()> {
    let config = format!("{BIG_BUDGETS}{}", crate::everything_upstream()?);
    let home = crate::home_with(&config)?;
    let token = crate::add_agent(home.path(), "bench")?;
    let args = echo_args();
    let rt = runtime()?;
    let (d, r, g, cost) = rt.block_on(async {
        let direct = direct().await.context("starting server-everything")?;
        let (relay, relay_pid) = relayed().await.context("starting the relay")?;
        let (gated, gated_pid) = through_pid(home.path(), &token)
            .await
            .context("starting gatehouse serve")?;
        until_ready(&direct, "echo", &args).await?;
        until_ready(&relay, "echo", &args).await?;
        until_ready(&gated, "everything__echo", &args).await?;
        for _ in 0..WARMUP {
            call(&direct, "echo", &args)
                .await
                .map_err(anyhow::Error::msg)?;
            call(&relay, "echo", &args)
                .await
                .map_err(anyhow::Error::msg)?;
            call(&gated, "everything__echo", &args)
                .await
                .map_err(anyhow::Error::msg)?;
        }
        let (mut d, mut r, mut g) = (Samples::default(), Samples::default(), Samples::default());
        let before = (cpu_and_switches(relay_pid), cpu_and_switches(gated_pid));
        for _ in 0..sizes.e2e_calls {
            d.push(
                call(&direct, "echo", &args)
                    .await
                    .map_err(anyhow::Error::msg)?,
            );
            r.push(
                call(&relay, "echo", &args)
                    .await
                    .map_err(anyhow::Error::msg)?,
            );
            g.push(
                call(&gated, "everything__echo", &args)
                    .await
                    .map_err(anyhow::Error::msg)?,
            );
        }
        let after = (cpu_and_switches(relay_pid), cpu_and_switches(gated_pid));
        let per_call = |a: (u64, u64), b: (u64, u64)| {
            let n = sizes.e2e_calls as f64;
            ((a.0 - b.0) as f64 / n / 1e3, (a.1 - b.1) as f64 / n)
        };
        let cost = (per_call(after.0, before.0), per_call(after.1, before.1));
        direct.cancel().await?;
        relay.cancel().await?;
        gated.cancel().await?;
        Ok::<_, anyhow::Error>((d, r, g, cost))
    })?;
    let inside = recorded(home.path(), "everything__echo", sizes.e2e_calls)?;
    let (ds, rs, gs) = (d.summary(), r.summary(), g.summary());
    header(&format!(
        "End to end: {} sequential tools/call of echo, direct vs through gatehouse serve",
        sizes.e2e_calls
    ));
    row("direct: client → server-everything", &ds);
    row("relay: client → line relay → server-everything", &rs);
    row("through: client → gatehouse → server-everything", &gs);
    row("  inside gatehouse (history latency_us)", &inside.summary());
    println!();
    let diff = |what: &str, a: &crate::stats::Summary, b: &crate::stats::Summary| {
        println!(
            "{what}: mean {} µs, p50 {} µs, p90 {} µs, p99 {} µs, max {} µs",
            us_signed(a.mean as i64 - b.mean as i64),
            us_signed(a.p50 as i64 - b.p50 as i64),
            us_signed(a.p90 as i64 - b.p90 as i64),
            us_signed(a.p99 as i64 - b.p99 as i64),
            us_signed(a.max as i64 - b.max as i64),
        );
    };
    diff("added latency (through − direct)", &gs, &ds);
    println!();
    diff(
        "of which any stdio proxy process (relay − direct)",
        &rs,
        &ds,
    );
    println!();
    diff("and Gatehouse beyond that (through − relay)", &gs, &rs);
    println!();
    let ((rc, rsw), (gc, gsw)) = cost;
    println!(
        "per call: the relay process used {rc:.1} µs CPU and {rsw:.1} context switches; the gatehouse process {gc:.1} µs CPU and {gsw:.1} context switches (all its threads)"
    );
    Ok(())
}

/// 4 `serve` processes on one home, each with its own agent and client, all
/// calling `tool` at once.
fn multi_serve(
    title: &str,
    config: &str,
    tool: &str,
    args: JsonObject,
    calls: usize,
) -> Result<()> {
    const PROCS: usize = 4;
    let home = crate::home_with(config)?;
    let tokens = (0..PROCS)
        .map(|p| crate::add_agent(home.path(), &format!("client{p}")))
        .collect::<Result<Vec<_>>>()?;
    let rt = runtime()?;
    let (all, secs) = rt.block_on(async {
        let mut clients = Vec::new();
        for t in &tokens {
            let c = through(home.path(), t).await?;
            until_ready(&c, tool, &args).await?;
            for _ in 0..50 {
                call(&c, tool, &args).await.map_err(anyhow::Error::msg)?;
            }
            clients.push(c);
        }
        let barrier = Arc::new(tokio::sync::Barrier::new(PROCS));
        let began = Instant::now();
        let mut tasks = Vec::new();
        for c in clients {
            let (barrier, tool, args) = (barrier.clone(), tool.to_string(), args.clone());
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                let mut s = Samples::with_capacity(calls);
                for _ in 0..calls {
                    s.push(call(&c, &tool, &args).await?);
                }
                let _ = c.cancel().await;
                Ok::<_, String>(s)
            }));
        }
        let mut all = Samples::default();
        for t in tasks {
            all.extend(&t.await?.map_err(anyhow::Error::msg)?);
        }
        Ok::<_, anyhow::Error>((all, began.elapsed().as_secs_f64()))
    })?;
    let inside = recorded(home.path(), tool, calls * PROCS)?;
    let s = all.summary();
    header(title);
    row("tools/call, client side, all 4 processes", &s);
    row("  inside gatehouse (history latency_us)", &inside.summary());
    println!();
    println!(
        "throughput: {:.0} calls/s in total ({} calls in {:.2} s); worst single call {} µs (inside gatehouse {} µs); client-side calls over 20 ms: {}",
        all.len() as f64 / secs,
        all.len(),
        secs,
        us(s.max),
        us(inside.summary().max),
        all.count_over(Duration::from_millis(20)),
    );
    Ok(())
}

pub fn multi(sizes: Sizes) -> Result<()> {
    multi_serve(
        "4 × gatehouse serve on one database, everything__echo (limited: takes from the shared tool bucket)",
        &format!("{BIG_BUDGETS}{}", crate::everything_upstream()?),
        "everything__echo",
        echo_args(),
        sizes.multi_calls,
    )?;
    multi_serve(
        "4 × gatehouse serve on one database, gatehouse__budgets (no upstream, no node; reads buckets, writes history)",
        BIG_BUDGETS,
        "gatehouse__budgets",
        json!({"tool": "everything__echo"})
            .as_object()
            .cloned()
            .unwrap_or_default(),
        sizes.multi_calls,
    )
}
