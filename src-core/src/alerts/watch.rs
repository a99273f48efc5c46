//! Alerts in a running `serve`: a background task that, at most every
//! `check_every`, looks whether calls were recorded (one indexed read) or
//! alerts are open, and if so, when it is its turn (no other process holds
//! the evaluation slot, and none evaluated just now), evaluates the rules off
//! the async threads, claiming the slot; it gives the slot up when it stops.
//! Opened alerts are logged as warnings (clients show `serve`'s stderr),
//! resolved ones as info. The thresholds are read from the live config at
//! each look, so an edit to `[alerts]` applies without a restart.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::clock::SharedClock;
use crate::config::{AlertsConfig, LiveConfig};
use crate::store::{AlertChanges, Evaluator, Store, StoreError};

/// How often resolved alerts past the retention are deleted.
const PRUNE_EVERY: Duration = Duration::from_secs(3_600);

/// What the last look found, so a quiet process does no work.
#[derive(Default)]
struct Seen {
    last_call: Option<i64>,
    open: bool,
    pruned: Option<std::time::Instant>,
}

/// Runs until `stop`; looks at nothing while alerts are disabled.
pub async fn run(store: Store, clock: SharedClock, live: LiveConfig, stop: CancellationToken) {
    let mut seen = Seen::default();
    loop {
        let check_every = live.snapshot().alerts.check_every;
        tokio::select! {
            () = tokio::time::sleep(check_every) => {}
            () = stop.cancelled() => {
                // Another process takes over at its next look, not after a takeover wait.
                let s = store.clone();
                let me = Evaluator::this_process().holder().unwrap_or_default();
                let _ = tokio::task::spawn_blocking(move || s.release_alerts_slot(me)).await;
                return;
            }
        }
        let now_config = live.snapshot();
        if !now_config.alerts.enabled {
            continue;
        }
        let retention_days = now_config.retention_days;
        let (s, c, config) = (store.clone(), clock.clone(), now_config.alerts.clone());
        let (last_call, open) = (seen.last_call, seen.open);
        let prune = seen.pruned.is_none_or(|t| t.elapsed() >= PRUNE_EVERY);
        let looked = tokio::task::spawn_blocking(move || {
            look(&s, &c, &config, last_call, open, prune, retention_days)
        })
        .await;
        match looked {
            Ok(Ok(Some((id, changes, open_now)))) => {
                seen.last_call = Some(id);
                seen.open = open_now;
                report(&changes);
            }
            Ok(Ok(None)) => {}
            Ok(Err(e)) => {
                tracing::warn!(target: "gatehouse::alerts", error = %e, "alerts could not be evaluated")
            }
            Err(e) => {
                tracing::warn!(target: "gatehouse::alerts", error = %e, "alerts could not be evaluated")
            }
        }
        if prune {
            seen.pruned = Some(std::time::Instant::now());
        }
    }
}

/// One look: `None` when there was nothing to do, or it was not our turn.
fn look(
    store: &Store,
    clock: &SharedClock,
    cfg: &AlertsConfig,
    last_call: Option<i64>,
    open: bool,
    prune: bool,
    retention_days: u32,
) -> Result<Option<(i64, AlertChanges, bool)>, StoreError> {
    let now = clock.now();
    if prune {
        store.prune_alerts(now.plus(-i64::from(retention_days) * 86_400_000))?;
    }
    let id = store.last_call_id()?;
    if last_call == Some(id) && !open {
        return Ok(None);
    }
    // `None`: another process evaluated a moment ago; look again next time.
    let Some(changes) = super::evaluate_if_due(store, cfg, now)? else {
        return Ok(None);
    };
    let open_now = !store.alerts(now)?.iter().all(|a| a.state != "open");
    Ok(Some((id, changes, open_now)))
}

fn report(changes: &AlertChanges) {
    for a in &changes.opened {
        tracing::warn!(target: "gatehouse::alerts", kind = %a.kind, subject = %a.subject, "alert: {}", a.why);
    }
    for a in &changes.resolved {
        tracing::info!(target: "gatehouse::alerts", kind = %a.kind, subject = %a.subject, "alert resolved: {}", a.why);
    }
}
