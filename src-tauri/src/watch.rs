//! Notices changes to the shared database, whichever process made them, and
//! passes them on: a status event to the window on every write (it refreshes
//! its page),
//! the tray's count and icon, and a desktop notification for each agent
//! that starts waiting for approval. Cheap: `PRAGMA data_version` four times a
//! second, a fuller look only when it moved (or every few seconds, to notice
//! a repaired file).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use tauri::{AppHandle, Emitter, Manager, Runtime};
use tauri_plugin_notification::NotificationExt;

use crate::commands::status::{StatusView, snapshot};
use crate::core::Core;
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
    notified: BTreeSet<String>,
}

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
                let due = moved
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
                        notify(&app, &status, &mut seen.notified, &core);
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

fn send<R: Runtime>(app: &AppHandle<R>, status: &StatusView) {
    if let Err(e) = app.emit_to(MAIN, STATUS, status) {
        tracing::warn!(error = %e, "cannot send the status to the window");
    }
}

/// A desktop notification for each agent that started waiting since the last look.
fn notify<R: Runtime>(
    app: &AppHandle<R>,
    status: &StatusView,
    notified: &mut BTreeSet<String>,
    core: &Core,
) {
    let waiting: BTreeSet<String> = status.pending.iter().map(|a| a.name.clone()).collect();
    notified.retain(|n| waiting.contains(n));
    let wait = core
        .config()
        .map(|c| c.approval_wait.as_secs())
        .unwrap_or(20);
    for agent in &status.pending {
        if !notified.insert(agent.name.clone()) {
            continue;
        }
        let from = agent
            .parent_exe
            .as_deref()
            .map(|e| format!(" (launched by {e})"))
            .unwrap_or_default();
        let shown = app
            .notification()
            .builder()
            .title(format!("\"{}\" wants to use your tools", agent.name))
            .body(format!(
                "Its call waits up to {wait} s for you{from}. Open Gatehouse to approve or deny it."
            ))
            .show();
        if let Err(e) = shown {
            tracing::info!(error = %e, agent = %agent.name, "no desktop notification (no notification service?)");
        }
    }
}
