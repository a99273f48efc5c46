//! The tray icon and its menu: open, pending approvals (with a live count),
//! pause/resume all agents, quit. The icon turns amber while an agent waits
//! for approval and grey while all are paused.

use tauri::image::Image;
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::{TrayIcon, TrayIconBuilder};
use tauri::{AppHandle, Manager, Runtime};

use crate::commands::agents::pause;
use crate::commands::status::StatusView;
use crate::core::Core;
use crate::window;

const ICON: &[u8] = include_bytes!("../../icons/tray.png");
const ICON_ATTENTION: &[u8] = include_bytes!("../../icons/tray-attention.png");
const ICON_PAUSED: &[u8] = include_bytes!("../../icons/tray-paused.png");

/// The tray icon and the menu items that change.
pub struct Tray<R: Runtime> {
    icon: TrayIcon<R>,
    pending: MenuItem<R>,
    pause: MenuItem<R>,
}

/// "Pending approvals (2)".
pub fn pending_label(n: usize) -> String {
    match n {
        0 => "No pending approvals".into(),
        n => format!("Pending approvals ({n})"),
    }
}

/// Builds the tray icon and its menu.
pub fn build<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<Tray<R>> {
    let open = MenuItem::with_id(app, "open", "Open Gatehouse", true, None::<&str>)?;
    let pending = MenuItem::with_id(app, "pending", pending_label(0), true, None::<&str>)?;
    let pause = MenuItem::with_id(app, "pause", "Pause all agents", true, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", "Quit Gatehouse", true, None::<&str>)?;
    let sep = PredefinedMenuItem::separator(app)?;
    let menu = Menu::with_items(app, &[&open, &pending, &pause, &sep, &quit])?;
    let icon = TrayIconBuilder::with_id("gatehouse")
        .icon(Image::from_bytes(ICON)?)
        .tooltip("Gatehouse")
        .menu(&menu)
        .show_menu_on_left_click(true)
        .on_menu_event(|app, event| on_menu(app, event.id().as_ref()))
        .build(app)?;
    Ok(Tray {
        icon,
        pending,
        pause,
    })
}

fn on_menu<R: Runtime>(app: &AppHandle<R>, id: &str) {
    match id {
        "open" => window::show(app, None),
        "pending" => window::show(app, Some("agents")),
        "pause" => {
            let core = app.state::<Core>();
            let paused = core
                .agents()
                .and_then(|a| Ok(a.paused_since()?.is_some()))
                .unwrap_or(false);
            if let Err(e) = pause(&core, !paused) {
                tracing::warn!(error = %e, "pause from the tray menu failed");
                window::show(app, None);
            }
        }
        "quit" => app.exit(0),
        _ => {}
    }
}

impl<R: Runtime> Tray<R> {
    /// Brings the menu and icon up to date with `status`.
    pub fn show(&self, status: &StatusView) {
        let waiting = status.pending.len();
        let (icon, tip) = if status.paused.paused {
            (ICON_PAUSED, "Gatehouse: all agents paused".to_string())
        } else if waiting > 0 {
            (
                ICON_ATTENTION,
                format!("Gatehouse: {}", pending_label(waiting)),
            )
        } else {
            (ICON, "Gatehouse".to_string())
        };
        let pause_text = if status.paused.paused {
            "Resume all agents"
        } else {
            "Pause all agents"
        };
        let done = self
            .pending
            .set_text(pending_label(waiting))
            .and_then(|()| self.pause.set_text(pause_text))
            .and_then(|()| self.icon.set_icon(Some(Image::from_bytes(icon)?)))
            .and_then(|()| self.icon.set_tooltip(Some(tip)));
        if let Err(e) = done {
            tracing::warn!(error = %e, "cannot update the tray");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pending_item_counts_waiting_agents() {
        assert_eq!(pending_label(0), "No pending approvals");
        assert_eq!(pending_label(3), "Pending approvals (3)");
    }
}
