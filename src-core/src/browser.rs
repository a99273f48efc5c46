//! Opening a URL in the user's browser, for the sign-in step of `connect`
//! (the CLI and the tray): the program in `GATEHOUSE_BROWSER` when set (it
//! gets the URL as its one argument), else `xdg-open` on Linux (only with a
//! display), `open` on macOS, `start` on Windows. Failing to open one is not
//! fatal: the caller shows the URL to copy as well.

use std::process::{Command, Stdio};

use crate::home::EnvMap;

/// The variable naming the program that opens URLs instead of the system's.
pub const BROWSER_VAR: &str = "GATEHOUSE_BROWSER";

/// Why no browser was opened.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BrowserError {
    /// Linux without `DISPLAY` or `WAYLAND_DISPLAY`: nowhere to show a browser.
    #[error(
        "there is no display to open a browser on (neither DISPLAY nor WAYLAND_DISPLAY is set)"
    )]
    NoDisplay,
    /// The launcher could not be started.
    #[error("cannot start `{program}`: {reason}")]
    Spawn {
        /// The program tried.
        program: String,
        /// What the OS said.
        reason: String,
    },
}

/// The launcher for `url`, as `env` says: program and arguments.
pub fn launcher(url: &str, env: &EnvMap) -> Result<(String, Vec<String>), BrowserError> {
    if let Some(program) = env.get(BROWSER_VAR).filter(|p| !p.trim().is_empty()) {
        return Ok((program.trim().to_string(), vec![url.to_string()]));
    }
    if cfg!(target_os = "macos") {
        Ok(("open".into(), vec![url.into()]))
    } else if cfg!(target_os = "windows") {
        Ok((
            "cmd".into(),
            vec!["/C".into(), "start".into(), String::new(), url.into()],
        ))
    } else if env.contains_key("DISPLAY") || env.contains_key("WAYLAND_DISPLAY") {
        Ok(("xdg-open".into(), vec![url.into()]))
    } else {
        Err(BrowserError::NoDisplay)
    }
}

/// Starts the browser on `url` and returns once it started; the launcher is
/// reaped on a thread of its own, so a long-running app collects no zombies.
pub fn open(url: &str, env: &EnvMap) -> Result<(), BrowserError> {
    let (program, args) = launcher(url, env)?;
    let child = Command::new(&program)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| BrowserError::Spawn {
            program: program.clone(),
            reason: e.to_string(),
        })?;
    let reaped = std::thread::Builder::new()
        .name("browser-launcher".into())
        .spawn(move || {
            let mut child = child;
            let _ = child.wait();
        });
    if let Err(e) = reaped {
        tracing::debug!(error = %e, "the browser launcher is not reaped");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::home::env_of as env;

    #[test]
    fn gatehouse_browser_wins_and_gets_the_url_as_its_one_argument() {
        let (p, a) = launcher("http://x/a?b=c", &env(&[(BROWSER_VAR, "/opt/capture")])).unwrap();
        assert_eq!(
            (p.as_str(), a),
            ("/opt/capture", vec!["http://x/a?b=c".to_string()])
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn linux_needs_a_display() {
        assert_eq!(launcher("u", &env(&[])), Err(BrowserError::NoDisplay));
        assert_eq!(
            launcher("u", &env(&[(BROWSER_VAR, " ")])),
            Err(BrowserError::NoDisplay)
        );
        assert_eq!(
            launcher("u", &env(&[("DISPLAY", ":0")])).unwrap().0,
            "xdg-open"
        );
    }

    #[cfg(unix)]
    #[test]
    fn the_program_gets_the_url_and_a_missing_one_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("url");
        let script = dir.path().join("browser.sh");
        std::fs::write(
            &script,
            format!("#!/bin/sh\nprintf '%s' \"$1\" > {}\n", out.display()),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let e = env(&[(BROWSER_VAR, &script.display().to_string())]);
        open("http://127.0.0.1:1/authorize?x=1", &e).unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while std::fs::read_to_string(&out).unwrap_or_default().is_empty() {
            assert!(std::time::Instant::now() < deadline, "the script never ran");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "http://127.0.0.1:1/authorize?x=1"
        );
        let missing = env(&[(BROWSER_VAR, "/nonexistent/browser")]);
        let err = open("u", &missing).unwrap_err().to_string();
        assert!(err.contains("cannot start `/nonexistent/browser`"), "{err}");
    }
}
