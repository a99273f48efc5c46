//! Picking up edits to `config.toml` while `serve` runs. A thread looks at
//! the file's identity, size and modification time once a second (never on
//! a call's path); when they change it loads the file with the same strict
//! loader as at start and swaps the [`LiveConfig`]. Budgets, agent tool
//! policies, the approval wait and the alert thresholds apply at once; the
//! settings that started things (upstreams, `[server]`, `[traces]`,
//! `[history]`, `[oauth]`, `[secrets]`) keep their running values and are
//! logged once as taking effect at the next start. A file that no longer
//! loads keeps the running config and is logged once, with file, line and key.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio_util::sync::CancellationToken;

use super::{Config, ConfigError, LiveConfig};
use crate::home::Home;

/// How often the file is looked at.
pub const CHECK_EVERY: Duration = Duration::from_secs(1);

/// What identifies one version of the file without reading it: its inode
/// (an editor or `config::edit` renames a new file over it), size and
/// modification time. `None` when there is no file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

fn stamp(path: &Path) -> Option<Stamp> {
    // Follows symlinks: a link pointed elsewhere is a change too.
    let m = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&m);
    #[cfg(not(unix))]
    let inode = 0;
    Some(Stamp {
        modified: m.modified().ok(),
        len: m.len(),
        inode,
    })
}

/// The settings that take effect only at the next start, as the file has them.
#[derive(Clone, Debug, PartialEq)]
struct AtStart {
    server: super::ServerSettings,
    upstreams: Vec<super::UpstreamConfig>,
    traces: super::TracesConfig,
    retention_days: u32,
    oauth: super::OAuthConfig,
    secrets: crate::secrets::Choice,
}

impl AtStart {
    fn of(c: &Config) -> Self {
        Self {
            server: c.server.clone(),
            upstreams: c.upstreams.clone(),
            traces: c.traces.clone(),
            retention_days: c.retention_days,
            oauth: c.oauth.clone(),
            secrets: c.secrets,
        }
    }

    /// `c` with these settings in place of its own.
    fn put_into(self, c: &mut Config) {
        c.server = self.server;
        c.upstreams = self.upstreams;
        c.traces = self.traces;
        c.retention_days = self.retention_days;
        c.oauth = self.oauth;
        c.secrets = self.secrets;
    }

    /// The tables (as the file names them) where `other` differs.
    fn differences(&self, other: &AtStart) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.upstreams != other.upstreams {
            out.push("[[upstream]]");
        }
        if self.server != other.server {
            out.push("[server]");
        }
        if self.traces != other.traces {
            out.push("[traces]");
        }
        if self.retention_days != other.retention_days {
            out.push("[history]");
        }
        if self.oauth != other.oauth {
            out.push("[oauth]");
        }
        if self.secrets != other.secrets {
            out.push("[secrets]");
        }
        out
    }
}

/// What one look at the file did.
#[derive(Debug, PartialEq)]
pub enum Reloaded {
    /// The file is as it was.
    Unchanged,
    /// The file loaded. `applied`: the settings in force changed;
    /// `at_next_start`: tables whose change waits for a restart.
    Loaded {
        /// Whether the running settings changed.
        applied: bool,
        /// Tables changed in the file that take effect at the next start.
        at_next_start: Vec<&'static str>,
    },
    /// The file doesn't load; the running config stays. `first`: this error
    /// was not reported before (it is logged only then).
    Failed {
        /// The loader's error, naming file, line and key.
        error: String,
        /// Whether it is new.
        first: bool,
    },
}

/// Watches one config file for one process.
#[derive(Debug)]
pub struct Reloader {
    path: PathBuf,
    named_by: Option<&'static str>,
    live: LiveConfig,
    /// The version of the file last looked at.
    seen: Option<Stamp>,
    /// The start-only settings last reported as waiting for a restart.
    noted: Option<AtStart>,
    /// The last reload error reported.
    failed: Option<String>,
}

impl Reloader {
    /// Loads the config `home` names (as [`Config::load_for`]) and returns
    /// it, shared, with the reloader that keeps it current.
    pub fn load(home: &Home) -> Result<(LiveConfig, Reloader), ConfigError> {
        // Looked at before reading, so an edit made while loading is seen next time.
        let seen = stamp(&home.config_file);
        let live = LiveConfig::new(Config::load_for(home)?);
        let reloader = Reloader {
            path: home.config_file.clone(),
            named_by: home.config_named_by,
            live: live.clone(),
            seen,
            noted: None,
            failed: None,
        };
        Ok((live, reloader))
    }

    /// Looks at the file once and reloads it when it changed, logging what
    /// happened (each start-only change and each error once).
    pub fn check(&mut self) -> Reloaded {
        let now = stamp(&self.path);
        if now == self.seen {
            return Reloaded::Unchanged;
        }
        self.seen = now;
        let file = match Config::load_named(&self.path, self.named_by) {
            Ok(c) => c,
            Err(e) => {
                let error = e.to_string();
                let first = self.failed.as_ref() != Some(&error);
                if first {
                    tracing::error!(target: "gatehouse::config", "the edited config was not applied; serving with the config loaded before: {error}");
                }
                self.failed = Some(error.clone());
                return Reloaded::Failed { error, first };
            }
        };
        self.failed = None;
        let running = self.live.snapshot();
        let (in_file, in_force) = (AtStart::of(&file), AtStart::of(&running));
        let at_next_start = in_force.differences(&in_file);
        if at_next_start.is_empty() {
            self.noted = None;
        } else if self.noted.as_ref() != Some(&in_file) {
            tracing::warn!(
                target: "gatehouse::config",
                "{}: {} changed; takes effect at next start",
                self.path.display(),
                at_next_start.join(", ")
            );
            self.noted = Some(in_file);
        }
        let mut next = file;
        in_force.put_into(&mut next);
        next.source = running.source.clone().or(next.source);
        let applied = next != *running;
        if applied {
            self.live.replace(Arc::new(next));
            tracing::info!(
                target: "gatehouse::config",
                "config reloaded from {}: budgets, agent tool policies, approval wait and alert thresholds now apply",
                self.path.display()
            );
        }
        Reloaded::Loaded {
            applied,
            at_next_start,
        }
    }

    /// Looks every [`CHECK_EVERY`] on a thread of its own until `stop`.
    pub fn spawn(
        mut self,
        stop: CancellationToken,
    ) -> std::io::Result<std::thread::JoinHandle<()>> {
        std::thread::Builder::new()
            .name("gatehouse-config".into())
            .spawn(move || {
                while !stop.is_cancelled() {
                    std::thread::sleep(CHECK_EVERY);
                    self.check();
                }
            })
    }
}

#[cfg(test)]
mod tests;
