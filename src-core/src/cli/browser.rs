//! Opening a URL in the user's browser, when there is one: `xdg-open` on
//! Linux (only with a display), `open` on macOS, `start` on Windows. Failing
//! to open one is fine: the URL is printed too.

use std::process::{Command, Stdio};

use gatehouse::home::EnvMap;

/// Tries to open `url`; true when a browser launcher started.
pub fn open(url: &str, env: &EnvMap) -> bool {
    let mut cmd = if cfg!(target_os = "macos") {
        let mut c = Command::new("open");
        c.arg(url);
        c
    } else if cfg!(target_os = "windows") {
        let mut c = Command::new("cmd");
        c.args(["/C", "start", "", url]);
        c
    } else {
        if !env.contains_key("DISPLAY") && !env.contains_key("WAYLAND_DISPLAY") {
            return false;
        }
        let mut c = Command::new("xdg-open");
        c.arg(url);
        c
    };
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .is_ok()
}
