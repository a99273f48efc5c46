//! Notices changes to the shared database, whichever process made them, and
//! passes them on: a status event to the window on every write (it refreshes
//! its page), the tray's count and icon, and desktop notifications (an agent
//! waiting for approval, an alert opening). It also evaluates the alert
//! rules after calls were recorded, at most every `[alerts]
//! check_every_seconds` across all processes, so an alert opens even when
//! the `serve` that recorded the calls has exited. Cheap: `PRAGMA
//! data_version` four times a second, a fuller look only when it moved (or
//! every few seconds, to notice a repaired file).

use std::time::{Duration, Instant};

use gatehouse::alerts;
use tauri::{AppHandle, Emitter, Manager, Runtime};

use crate::commands::status::{StatusView, snapshot};
use crate::core::Core;
use crate::notify::{self, Notifier};
use crate::tray::Tray;
use crate::window::MAIN;

/// The event carrying a new `StatusView` to the window.
pub const STATUS: &str = "gatehouse://status";
/// How often the change counter is read: a call shows within a second.
const TICK: Duration = Duration::from_millis(250);
/// A full look at least this often, to notice files the user repaired or broke.
const FULL_EVERY: Duration = Duration::from_secs(3);

/// What the watcher remembers between ticks.
#[derive(Default)]
struct Seen {
    version: Option<i64>,
    status: Option<StatusView>,
    notifier: Notifier,
    /// Calls were recorded since the alert rules last ran here.
    unevaluated: bool,
    /// When the watcher last asked whether the rules were due.
    asked: Option<Instant>,
}

/// How often the watcher asks whether the alert rules are due.
const ASK_EVERY: Duration = Duration::from_secs(1);

/// Starts the watcher on its own thread, for the app's lifetime.
pub fn spawn<R: Runtime>(app: AppHandle<R>, tray: Option<Tray<R>>) {
    let spawned = std::thread::Builder::new()
        .name("gatehouse-watch".into())
        .spawn(move || {
            let mut seen = Seen::default();
            let mut last_full = Instant::now() - FULL_EVERY;
            loop {
                let core = app.state::<Core>();
                let version = core.store().and_then(|s| Ok(s.data_version()?)).ok();
                // Something was written (by any process): the window refreshes its page.
                let moved = core.take_changed() || version != seen.version;
                seen.unevaluated |= moved;
                let alerts_changed = evaluate_alerts(&core, &mut seen);
                let due = moved
                    || alerts_changed
                    || version.is_none() && last_full.elapsed() >= Duration::from_secs(1)
                    || last_full.elapsed() >= FULL_EVERY;
                if due {
                    seen.version = version;
                    last_full = Instant::now();
                    let status = snapshot(&core);
                    let differs = seen.status.as_ref() != Some(&status);
                    if moved || differs {
                        send(&app, &status);
                    }
                    if differs {
                        if let Some(t) = &tray {
                            t.show(&status);
                        }
                        let wait = core
                            .config()
                            .map(|c| c.approval_wait.as_secs())
                            .unwrap_or(20);
                        notify::show(&app, &seen.notifier.news(&status, wait));
                        seen.status = Some(status);
                    }
                }
                std::thread::sleep(TICK);
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the watcher: the window won't update live");
    }
}

/// Runs the alert rules when calls were recorded or alerts are open (they
/// resolve as time passes), unless some process ran them a moment ago;
/// true when an alert opened or resolved.
fn evaluate_alerts(core: &Core, seen: &mut Seen) -> bool {
    let open = seen
        .status
        .as_ref()
        .is_some_and(|s| !s.open_alerts.is_empty());
    if !seen.unevaluated && !open || seen.asked.is_some_and(|t| t.elapsed() < ASK_EVERY) {
        return false;
    }
    seen.asked = Some(Instant::now());
    let Ok(config) = core.config() else {
        return false;
    };
    if !config.alerts.enabled {
        seen.unevaluated = false;
        return false;
    }
    let Ok(store) = core.store() else {
        return false;
    };
    match alerts::evaluate_if_due(&store, &config.alerts, core.clock.now()) {
        Ok(Some(changes)) => {
            seen.unevaluated = false;
            !changes.opened.is_empty() || !changes.resolved.is_empty()
        }
        Ok(None) => false,
        Err(e) => {
            tracing::warn!(error = %e, "alerts could not be evaluated");
            false
        }
    }
}

fn send<R: Runtime>(app: &AppHandle<R>, status: &StatusView) {
    if let Err(e) = app.emit_to(MAIN, STATUS, status) {
        tracing::warn!(error = %e, "cannot send the status to the window");
    }
}
