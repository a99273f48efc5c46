//! The main window: shown and focused from the tray, optionally on a given
//! page; closing it only hides it, so the app keeps watching from the tray.

use tauri::{AppHandle, Emitter, Manager, Runtime, WebviewWindow, WindowEvent};

/// The main window's label (`tauri.conf.json`, `capabilities/main.json`).
pub const MAIN: &str = "main";
/// Event asking the window to show a page (`agents`, `limits`, `history`).
pub const NAVIGATE: &str = "gatehouse://navigate";

/// Shows, unminimizes and focuses the main window, on `page` when given.
pub fn show<R: Runtime>(app: &AppHandle<R>, page: Option<&str>) {
    let Some(w) = app.get_webview_window(MAIN) else {
        tracing::warn!("the main window is gone");
        return;
    };
    let shown = w
        .show()
        .and_then(|()| w.unminimize())
        .and_then(|()| w.set_focus());
    if let Err(e) = shown {
        tracing::warn!(error = %e, "cannot show the window");
    }
    if let Some(page) = page
        && let Err(e) = app.emit_to(MAIN, NAVIGATE, page)
    {
        tracing::warn!(error = %e, "cannot switch the window's page");
    }
}

/// Closing the window hides it instead: the tray stays, and so do notifications.
pub fn on_event<R: Runtime>(w: &tauri::Window<R>, event: &WindowEvent) {
    if let WindowEvent::CloseRequested { api, .. } = event
        && w.label() == MAIN
    {
        api.prevent_close();
        let _ = w.hide();
    }
}

/// The main window, for code that needs it directly.
pub fn main<R: Runtime>(app: &AppHandle<R>) -> Option<WebviewWindow<R>> {
    app.get_webview_window(MAIN)
}
