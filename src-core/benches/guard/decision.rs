//! The guard's decision in process: identify → policy → limit → record, the
//! stages `Guard::handle` runs for an upstream tool, minus execute (the
//! upstream round trip, measured end to end in `e2e`). Each stage is the
//! crate's own public function, called as the guard calls it (each store
//! access runs inline when the database is free, on the blocking pool when
//! it must wait; see `store::inline`), on a real SQLite file in WAL mode,
//! with `serve`'s JSON log installed.
//!
//! Also here: `Guard::handle` itself on `gatehouse__budgets` (the only tool
//! that runs without an upstream; it reads buckets instead of taking) and
//! the raw store operations called directly.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use gatehouse::agents::{AgentName, Agents, token};
use gatehouse::clock::{SharedClock, SystemClock};
use gatehouse::config::Config;
use gatehouse::guard::identify::Identify;
use gatehouse::guard::{Call, Caller, Guard, Outcome, Recorder, limit, policy, record};
use gatehouse::home::Home;
use gatehouse::server::CHECKPOINT_EVERY;
use gatehouse::store::{CallRecord, Checkpointer, Store};
use gatehouse::telemetry::trace_id::new_trace_id;
use gatehouse::telemetry::{Redacted, Redactor, logs};
use gatehouse::tools::{Catalog, ToolEntry, ToolKind, ToolName, UpstreamName, safe_fields};
use gatehouse::upstream::Upstreams;
use rmcp::model::{CallToolResult, JsonObject, RequestMetaObject, Tool};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::stats::{Samples, header, row};
use crate::{BIG_BUDGETS, Sizes};

/// The upstream tool every decision is about (no upstream runs: execute is skipped).
const TOOL: &str = "everything__echo";

/// Time spent in each stage of one decision.
#[derive(Default)]
pub struct Stages {
    identify: Samples,
    policy: Samples,
    limit: Samples,
    record: Samples,
}

/// Everything one decision needs, built once like `serve` builds its guard.
pub struct Decider {
    store: Store,
    clock: SharedClock,
    config: Arc<Config>,
    recorder: Recorder,
    caller: Caller,
    tool: ToolEntry,
    args: JsonObject,
    /// The WAL checkpoints `serve` runs in the background (none on commits).
    _checkpoints: Checkpointer,
}

/// `everything__echo` as the catalog would list it (schema as server-everything declares it).
fn echo_entry() -> ToolEntry {
    let schema = json!({
        "type": "object",
        "properties": {"message": {"type": "string", "description": "Message to echo"}},
        "required": ["message"]
    });
    let schema = schema.as_object().cloned().unwrap_or_default();
    ToolEntry {
        name: ToolName::parse(TOOL).expect("valid tool name"),
        tool: Tool::new(TOOL, "Echoes back the input", Arc::new(schema.clone())),
        safe: Arc::new(safe_fields(&schema)),
        kind: ToolKind::Upstream(UpstreamName::parse("everything").expect("valid name")),
    }
}

impl Decider {
    /// A decider on `home`'s database and config, calling as the agent with `token`.
    pub fn open(home: &Home, token: Redacted<String>) -> Result<Self> {
        let text = std::fs::read_to_string(&home.config_file)?;
        let config = Arc::new(Config::parse(&home.config_file, &text)?);
        let store = Store::open(&home.db_file)?;
        let checkpoints = store.checkpoint_in_background(CHECKPOINT_EVERY)?;
        let redactor = Redactor::load_or_create(&home.key_file)?;
        let args = json!({"message": "hello from the benchmark"})
            .as_object()
            .cloned()
            .unwrap_or_default();
        Ok(Self {
            recorder: Recorder {
                store: store.clone(),
                redactor,
            },
            store,
            clock: Arc::new(SystemClock),
            config,
            caller: Caller {
                token: Some(token),
                client_name: Some("bench".into()),
                parent_exe: Some("/usr/bin/bench".into()),
            },
            tool: echo_entry(),
            args,
            _checkpoints: checkpoints,
        })
    }

    /// One decision, as `Guard::handle` makes it for an upstream tool, with
    /// execute replaced by a ready result. `Err` when a stage refused.
    pub async fn decide(&self, n: usize, stages: Option<&mut Stages>) -> Result<(), String> {
        let time = self.clock.now();
        let started = Instant::now();
        // What the handler does per call: a trace id; `handle` copies the arguments for the record.
        let trace_id = new_trace_id();
        let args = self.args.clone();
        let (cancel, client_gone) = (CancellationToken::new(), CancellationToken::new());
        let identify = Identify {
            store: &self.store,
            clock: &self.clock,
            wait: self.config.approval_wait,
        };
        let agent = identify
            .approved(&self.caller, &cancel, &client_gone)
            .await
            .map_err(|r| format!("identify: {r:?}"))?;
        let t1 = Instant::now();
        policy::check(
            &self.config.policy_for(&agent.name),
            &agent,
            self.tool.name.as_str(),
        )
        .map_err(|r| format!("policy: {r:?}"))?;
        let t2 = Instant::now();
        let _permit = limit::take(
            &self.store,
            &self.config.limits,
            &agent.name,
            &self.tool,
            self.clock.now(),
        )
        .await
        .map_err(|r| format!("limit: {r:?}"))?;
        let t3 = Instant::now();
        let outcome = Outcome::Done(CallToolResult::success(Vec::new()));
        let redactor = &self.recorder.redactor;
        let tool = self.tool.name.to_string();
        let message = record::message(redactor, &outcome, &args, &tool);
        let rec = CallRecord {
            time,
            trace_id,
            request_id: Some(n.to_string()),
            verified: Some(agent.verified),
            agent: Some(agent.name.clone()),
            tool,
            status: outcome.status(),
            code: outcome.code().map(str::to_string),
            latency_us: started.elapsed().as_micros() as i64,
            args: redactor.summarize(&args, &self.tool.safe).to_string(),
            message,
            refusal_scope: None,
            deny_reason: None,
            client: None,
        };
        self.recorder.write(rec).await;
        let t4 = Instant::now();
        if let Some(s) = stages {
            s.identify.push(t1 - started);
            s.policy.push(t2 - t1);
            s.limit.push(t3 - t2);
            s.record.push(t4 - t3);
        }
        Ok(())
    }
}

/// The runtime `serve` runs on: multi-threaded, two workers.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

/// A home with big budgets and its first agent, created with the library.
pub fn bench_home() -> Result<(tempfile::TempDir, Home, Redacted<String>)> {
    let dir = crate::home_with(BIG_BUDGETS)?;
    let home = Home::in_dir(dir.path());
    let store = Store::open(&home.db_file)?;
    let issued = Agents::new(store, Arc::new(SystemClock)).add(&AgentName::parse("bench")?)?;
    Ok((dir, home, issued.token))
}

pub fn run(sizes: Sizes) -> Result<()> {
    let (_dir, home, token) = bench_home()?;
    // The JSON log file `serve` writes: every decision logs one line.
    let _log = logs::init_serve(&home.logs_dir, 1, crate::log_spec().as_deref())?;
    let rt = runtime()?;
    rt.block_on(async {
        let d = Arc::new(Decider::open(&home, token.clone())?);
        for i in 0..2_000 {
            d.decide(i, None).await.map_err(anyhow::Error::msg)?;
        }

        // Sequential decisions, with each stage timed.
        let n = sizes.decisions;
        let mut all = Samples::with_capacity(n);
        let mut stages = Stages::default();
        let began = Instant::now();
        for i in 0..n {
            let t = Instant::now();
            d.decide(i, Some(&mut stages))
                .await
                .map_err(anyhow::Error::msg)?;
            all.push(t.elapsed());
        }
        let seq_secs = began.elapsed().as_secs_f64();

        // Four concurrent callers on the same guard (one connection, as in `serve`).
        let tasks = 4;
        let began = Instant::now();
        let mut handles = Vec::new();
        for t in 0..tasks {
            let d = d.clone();
            let per = n / tasks;
            handles.push(tokio::spawn(async move {
                let mut s = Samples::with_capacity(per);
                for i in 0..per {
                    let at = Instant::now();
                    d.decide(t * per + i, None).await?;
                    s.push(at.elapsed());
                }
                Ok::<_, String>(s)
            }));
        }
        let mut conc = Samples::default();
        for h in handles {
            conc.extend(&h.await?.map_err(anyhow::Error::msg)?);
        }
        let conc_secs = began.elapsed().as_secs_f64();

        // `Guard::handle`, the real entry point, on gatehouse__budgets.
        let config = Arc::new(Config::parse(&home.config_file, BIG_BUDGETS)?);
        let guard = Guard::new(
            d.store.clone(),
            d.clock.clone(),
            config.clone(),
            Catalog::new(Upstreams::none(config.server.clone())),
            Redactor::load_or_create(&home.key_file)?,
        );
        let mut handle = Samples::default();
        for i in 0..(n / 4).max(1_000) + 500 {
            let call = Call {
                caller: d.caller.clone(),
                tool: "gatehouse__budgets".into(),
                args: Redacted::new(
                    json!({"tool": TOOL})
                        .as_object()
                        .cloned()
                        .unwrap_or_default(),
                ),
                request_id: Some(i.to_string()),
                trace_id: new_trace_id(),
                propagate: RequestMetaObject::new(),
                cancel: CancellationToken::new(),
                client_gone: CancellationToken::new(),
                progress: None,
            };
            let t = Instant::now();
            let outcome = guard.handle(call).await;
            let took = t.elapsed();
            if !matches!(&outcome, Outcome::Done(r) if r.is_error != Some(true)) {
                bail!("gatehouse__budgets failed: {outcome:?}");
            }
            if i >= 500 {
                handle.push(took);
            }
        }

        // One hop to the blocking pool: what a store access costs on top when
        // it can't run inline (the database busy in this or another process).
        let mut hop = Samples::default();
        for _ in 0..n {
            let t = Instant::now();
            tokio::task::spawn_blocking(|| ()).await?;
            hop.push(t.elapsed());
        }

        header("Guard decision in process (identify + policy + limit + record, real SQLite file)");
        row("decision, sequential", &all.summary());
        row("  identify (token lookup)", &stages.identify.summary());
        row("  policy", &stages.policy.summary());
        row(
            "  limit (3 buckets, BEGIN IMMEDIATE)",
            &stages.limit.summary(),
        );
        row(
            "  record (log line + history insert)",
            &stages.record.summary(),
        );
        row(
            &format!("decision, {tasks} concurrent tasks"),
            &conc.summary(),
        );
        row("Guard::handle(gatehouse__budgets)", &handle.summary());
        row("tokio spawn_blocking hop alone", &hop.summary());
        println!();
        println!(
            "throughput: sequential {:.0} decisions/s; {tasks} concurrent tasks {:.0} decisions/s",
            n as f64 / seq_secs,
            conc.len() as f64 / conc_secs
        );
        Ok::<_, anyhow::Error>(())
    })?;
    raw_store(&home, sizes)
}

/// The store operations of one decision, called directly on this thread:
/// SQLite's share of the cost, without the guard around it.
fn raw_store(home: &Home, sizes: Sizes) -> Result<()> {
    let store = Store::open(&home.db_file)?;
    let _checkpoints = store.checkpoint_in_background(CHECKPOINT_EVERY)?;
    let config = Config::parse(&home.config_file, BIG_BUDGETS)?;
    let token = Agents::new(store.clone(), Arc::new(SystemClock))
        .add(&AgentName::parse("raw")?)?
        .token;
    let hash = token::hash(&token);
    let limits = config.limits.limits_for("raw", TOOL);
    let clock = SystemClock;
    let n = sizes.decisions / 2;
    let (mut lookup, mut take, mut insert) =
        (Samples::default(), Samples::default(), Samples::default());
    for i in 0..n + 500 {
        let t0 = Instant::now();
        let _ = token::hash(&token);
        store.agent_by_token_hash(&hash)?.context("agent")?;
        let t1 = Instant::now();
        let now = gatehouse::clock::Clock::now(&clock);
        store
            .take(&limits, now)?
            .map_err(|_| anyhow::anyhow!("rate limited"))?;
        let t2 = Instant::now();
        store.insert_call(&CallRecord {
            time: now,
            trace_id: new_trace_id(),
            request_id: Some(i.to_string()),
            agent: Some("raw".into()),
            verified: Some(true),
            tool: TOOL.into(),
            status: gatehouse::store::CallStatus::Ok,
            code: None,
            latency_us: 42,
            args: r#"{"message":"<str:24 #0123456789ab>"}"#.into(),
            message: None,
            refusal_scope: None,
            deny_reason: None,
            client: None,
        })?;
        let t3 = Instant::now();
        if i >= 500 {
            lookup.push(t1 - t0);
            take.push(t2 - t1);
            insert.push(t3 - t2);
        }
    }
    header("Store operations alone (same thread, no async hop)");
    row("token hash + agent_by_token_hash", &lookup.summary());
    row(
        "take (3 buckets, one IMMEDIATE transaction)",
        &take.summary(),
    );
    row("insert_call (history row)", &insert.summary());
    Ok(())
}
