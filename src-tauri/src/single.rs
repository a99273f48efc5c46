//! One app per Gatehouse home: launching `gatehouse-tray` again (from the
//! applications menu, or at login while it already runs) shows the running
//! app's window and exits, instead of a second tray icon.
//! `tauri-plugin-single-instance` does it; on Linux it owns a name on the
//! D-Bus session bus, which here carries a hash of the database path, so
//! apps for different homes (another `GATEHOUSE_HOME`) stay apart. Without a
//! session bus there is nothing to own the name on, and no guard.

use std::path::Path;

use gatehouse::home::{EnvMap, Home};
use sha2::{Digest, Sha256};
use tauri::{Builder, Runtime};

use crate::window;

/// The D-Bus name prefix for the home whose database is `db_file`
/// (the plugin appends `.SingleInstance`).
pub fn dbus_id(db_file: &Path) -> String {
    let digest = Sha256::digest(db_file.to_string_lossy().as_bytes());
    format!("dev.gatehouse.tray.h{}", &hex::encode(digest)[..16])
}

/// Whether a D-Bus session bus can be found (the plugin needs one on Linux).
fn has_session_bus(env: &EnvMap) -> bool {
    if !cfg!(target_os = "linux") {
        return true;
    }
    env.get("DBUS_SESSION_BUS_ADDRESS")
        .is_some_and(|a| !a.is_empty())
        || env
            .get("XDG_RUNTIME_DIR")
            .is_some_and(|d| Path::new(d).join("bus").exists())
}

/// `builder` with the single-instance guard for `home`, when it can have one.
pub fn guard<R: Runtime>(builder: Builder<R>, home: &Home, env: &EnvMap) -> Builder<R> {
    if !has_session_bus(env) {
        tracing::info!("no D-Bus session bus: a second launch starts a second app");
        return builder;
    }
    builder.plugin(
        tauri_plugin_single_instance::Builder::new()
            .dbus_id(dbus_id(&home.db_file))
            .callback(|app, _argv, _cwd| window::show(app, None))
            .build(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_home_has_its_own_valid_bus_name() {
        let a = dbus_id(Path::new("/home/ann/.local/share/gatehouse/gatehouse.db"));
        let b = dbus_id(Path::new("/tmp/other/gatehouse.db"));
        assert_ne!(a, b);
        assert_eq!(
            a,
            dbus_id(Path::new("/home/ann/.local/share/gatehouse/gatehouse.db"))
        );
        // D-Bus names: elements of [A-Za-z0-9_-], none starting with a digit.
        for element in a.split('.') {
            assert!(!element.starts_with(|c: char| c.is_ascii_digit()), "{a}");
            assert!(element.chars().all(|c| c.is_ascii_alphanumeric()), "{a}");
        }
        assert!(!has_session_bus(&EnvMap::new()) || !cfg!(target_os = "linux"));
    }
}
