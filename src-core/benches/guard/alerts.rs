//! `alerts`: how long one alert evaluation takes, and how long it holds the
//! database's write lock. An evaluation reads the window and applies its
//! findings inside one `BEGIN IMMEDIATE` transaction (so processes never
//! interleave), and every writer (a call's bucket take, its history row)
//! waits meanwhile; the baseline (a day, in the past) is read before it,
//! without a lock. A real SQLite file is filled with a day of history at a
//! steady rate, with refusals and auth failures in the window.

use std::time::Instant;

use anyhow::Result;
use gatehouse::alerts::baseline::Baseline;
use gatehouse::alerts::{self, Evaluator};
use gatehouse::clock::UnixMillis;
use gatehouse::config::Config;
use gatehouse::store::{CallRecord, CallStatus, Store};

use crate::Sizes;
use crate::stats::{Samples, header, row};

const NOW: i64 = 1_800_000_000_000;
const DAY: i64 = 86_400_000;

fn record(time: i64, tool: usize, agent: usize, status: CallStatus) -> CallRecord {
    CallRecord {
        time: UnixMillis(time),
        trace_id: "0af7651916cd43dd8448eb211c80319c".into(),
        request_id: None,
        agent: Some(format!("agent{agent}")),
        verified: Some(true),
        tool: format!("up__tool{tool}"),
        status,
        code: None,
        latency_us: 1_000 + (time % 5_000),
        args: "{}".into(),
        message: None,
        refusal_scope: (status == CallStatus::RateLimited).then(|| "tool".into()),
        deny_reason: (status == CallStatus::Denied).then(|| "bad_token".into()),
        client: None,
    }
}

/// A history of `rows` calls over the last day (20 tools, 5 agents, 2% errors).
fn fill(store: &Store, rows: usize) -> Result<()> {
    for i in 0..rows {
        let time = NOW - DAY + (i as i64) * DAY / rows as i64;
        let status = match i % 50 {
            0 => CallStatus::SystemError,
            1 if time > NOW - 600_000 => CallStatus::RateLimited,
            2 if time > NOW - 600_000 => CallStatus::Denied,
            _ => CallStatus::Ok,
        };
        store.insert_call(&record(time, i % 20, i % 5, status))?;
    }
    Ok(())
}

pub fn run(sizes: Sizes) -> Result<()> {
    header("Alert evaluation, and the write lock it holds (`alerts`)");
    let cfg = Config::defaults().alerts;
    for rows in [10_000, sizes.decisions * 5] {
        let dir = crate::home_with("")?;
        let store = Store::open(&dir.path().join("gatehouse.db"))?;
        fill(&store, rows)?;
        let (mut whole, mut locked) = (Samples::with_capacity(30), Samples::with_capacity(30));
        for i in 0..30 {
            let now = UnixMillis(NOW + i);
            let began = Instant::now();
            let changes = alerts::evaluate_as(&store, &cfg, now, &Evaluator::OnDemand)?;
            whole.push(began.elapsed());
            anyhow::ensure!(changes.is_some(), "an on-demand evaluation runs");
            // The same again, timing only the transaction (the write lock).
            let base = Baseline::read(&store, &cfg, now)?;
            let began = Instant::now();
            store.evaluate_alerts(&Evaluator::OnDemand, cfg.check_every, now, |r| {
                alerts::findings(r, &base, &cfg, now)
            })?;
            locked.push(began.elapsed());
        }
        row(
            &format!("evaluation, {rows} calls in the last day"),
            &whole.summary(),
        );
        row(
            &format!("  of which the write lock, {rows} calls"),
            &locked.summary(),
        );
    }
    Ok(())
}
