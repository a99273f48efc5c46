//! Generates the app's context and an `allow-<command>` permission for each
//! command below: a command works only once `capabilities/main.json` grants it.

/// Every `#[tauri::command]` of `commands::handler()`.
const COMMANDS: &[&str] = &[
    "status",
    "list_agents",
    "add_agent",
    "approve_agent",
    "deny_agent",
    "revoke_agent",
    "rotate_agent",
    "pause_agents",
    "resume_agents",
    "list_limits",
    "set_budget",
    "list_history",
    "history_names",
    "get_call",
    "get_trace",
    "list_connections",
    "keychain_status",
    "connect_account",
    "cancel_connect",
    "open_connect_page",
    "disconnect_account",
    "list_alerts",
];

fn main() {
    let attributes = tauri_build::Attributes::new()
        .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS));
    if let Err(e) = tauri_build::try_build(attributes) {
        panic!("tauri build step failed: {e:#}");
    }
}
