//! Gatehouse's tray app: where a person who is not at a terminal stays in
//! control. A thin Tauri 2 shell over the `gatehouse` library: every command
//! calls src-core, which holds all store and guard logic.
//!
//! - [`core`]: the src-core handles (home, store, clock, keychain) the app shares.
//! - [`commands`]: the window's `#[tauri::command]`s, one module per page.
//! - [`connecting`]: the account sign-ins in progress (cancel, reopen the page).
//! - [`error`]: `UiError`, one sentence the window can show.
//! - [`tray`]: the tray icon and menu; [`window`]: showing and hiding the window.
//! - [`watch`]: notices other processes' writes; live status, tray count, alert rules.
//! - [`notify`]: desktop notifications (an agent waiting, an alert opening).
//! - [`single`]: one app per Gatehouse home: a second launch shows the first's window.

#![deny(missing_docs)]

pub mod commands;
pub mod connecting;
pub mod core;
pub mod error;
pub mod notify;
pub mod single;
pub mod tray;
pub mod watch;
pub mod window;

use std::sync::Arc;

use gatehouse::clock::SystemClock;
use gatehouse::home::{Home, process_env};
use gatehouse::secrets::Secrets;
use tauri::{Builder, RunEvent, Runtime};

use crate::connecting::Connecting;
use crate::core::{Core, find_gatehouse};

/// The real app: files from `GATEHOUSE_HOME` or the platform folders, the
/// system clock, the OS keychain. `--hidden` starts in the tray only (for
/// start at login). A second launch for the same home shows the running
/// app's window and exits.
pub fn run() {
    init_logs();
    let env = process_env();
    let home = match Home::from_env(&env) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("gatehouse-tray: {e}");
            std::process::exit(1);
        }
    };
    let exe = find_gatehouse(&env, std::env::current_exe().ok());
    let builder = single::guard(Builder::default(), &home, &env);
    let core = Core::new(
        home,
        env,
        Arc::new(SystemClock),
        exe,
        Arc::new(Secrets::system),
    );
    let hidden = std::env::args().any(|a| a == "--hidden");
    let app = build(builder, core, hidden).build(tauri::generate_context!());
    match app {
        Ok(app) => app.run(|_, event| {
            // The last window closing (it only hides) must not end a tray app; `Quit` exits with a code.
            if let RunEvent::ExitRequested { api, code, .. } = event
                && code.is_none()
            {
                api.prevent_exit();
            }
        }),
        Err(e) => {
            eprintln!("gatehouse-tray: cannot start: {e}");
            std::process::exit(1);
        }
    }
}

/// The app on any runtime, around `core`: plugins, state, commands, the
/// tray, the watcher, and the window shown unless `hidden`.
pub fn build<R: Runtime>(builder: Builder<R>, core: Core, hidden: bool) -> Builder<R> {
    builder
        .plugin(tauri_plugin_notification::init())
        .manage(core)
        .manage(Connecting::default())
        .invoke_handler(commands::handler())
        .on_window_event(window::on_event)
        .setup(move |app| {
            let handle = app.handle().clone();
            let tray = match tray::build(&handle) {
                Ok(t) => Some(t),
                Err(e) => {
                    tracing::warn!(error = %e, "no tray icon (no tray on this desktop?)");
                    None
                }
            };
            watch::spawn(handle.clone(), tray);
            if !hidden {
                window::show(&handle, None);
            } else if let Some(w) = window::main(&handle) {
                let _ = w.hide();
            }
            Ok(())
        })
}

/// Warnings to stderr (`GATEHOUSE_LOG` sets the filter, e.g. `debug`).
fn init_logs() {
    let spec = std::env::var("GATEHOUSE_LOG").unwrap_or_else(|_| "warn".into());
    let filter = tracing_subscriber::EnvFilter::try_new(&spec)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
