//! `gatehouse doctor`: checks paths, config, database, redaction key, the
//! token in the environment, the OS keychain and connected accounts, and each upstream, and says how to fix each
//! problem it finds. It changes nothing except a probe row in the database.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::agents::token;
use crate::config::{Config, ConfigError};
use crate::home::{EnvMap, Home};
use crate::secrets::{Secrets, StoreKind};
use crate::store::{AgentStatus, ConnectionState, Store};
use crate::telemetry::{Redacted, Redactor};
use crate::upstream::{UpState, Upstreams};

/// How one check came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Fine.
    Ok,
    /// Works, but worth a look.
    Warn,
    /// Broken: `serve` will refuse or fail.
    Fail,
}

/// One check.
#[derive(Clone, Debug, Serialize)]
pub struct Check {
    /// What was checked.
    pub name: String,
    /// The verdict.
    pub level: Level,
    /// What was found.
    pub detail: String,
    /// How to fix it, when not ok.
    pub fix: Option<String>,
}

fn check(name: &str, level: Level, detail: impl Into<String>, fix: Option<&str>) -> Check {
    Check {
        name: name.into(),
        level,
        detail: detail.into(),
        fix: fix.map(str::to_string),
    }
}

fn writable_dir(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let probe = dir.join(".gatehouse-doctor");
    std::fs::write(&probe, b"ok").map_err(|e| e.to_string())?;
    let _ = std::fs::remove_file(probe);
    Ok(())
}

/// Runs every check. With `start_upstreams`, each upstream is started and
/// asked for its tools (waiting up to `upstream_start_seconds`).
pub async fn run(home: &Home, env: &EnvMap, start_upstreams: bool) -> Vec<Check> {
    let mut out = Vec::new();
    let config = match Config::load_for(home) {
        Ok(c) => {
            let detail = match &c.source {
                Some(p) if p.exists() => format!("{} is valid", p.display()),
                _ => format!(
                    "no config file at {}; the embedded defaults serve",
                    home.config_file.display()
                ),
            };
            out.push(check("config", Level::Ok, detail, None));
            Some(c)
        }
        Err(e) => {
            let fix = match &e {
                ConfigError::Missing { variable, .. } => format!(
                    "create the file (an empty file means the defaults), point {variable} at your config file, or unset {variable} to use config.toml in the Gatehouse folder"
                ),
                ConfigError::Read { .. } => "make the file readable by this user".to_string(),
                ConfigError::Invalid { .. } => "edit the file at the line named (`docs/configuration.md` lists every key); running `gatehouse serve` processes keep the config they loaded before until then, and `serve` won't start".to_string(),
            };
            out.push(check("config", Level::Fail, e.to_string(), Some(&fix)));
            None
        }
    };
    for (name, dir) in [
        ("data folder", home.data_dir()),
        ("logs folder", home.logs_dir.as_path()),
    ] {
        out.push(match writable_dir(dir) {
            Ok(()) => check(
                name,
                Level::Ok,
                format!("{} is writable", dir.display()),
                None,
            ),
            Err(e) => check(
                name,
                Level::Fail,
                format!("{}: {e}", dir.display()),
                Some("make the folder writable, or set GATEHOUSE_HOME to a writable folder"),
            ),
        });
    }
    let store = match Store::open(&home.db_file) {
        Ok(s) => match s.check_writable() {
            Ok(()) => {
                out.push(check(
                    "database",
                    Level::Ok,
                    format!("{} opens and is writable", home.db_file.display()),
                    None,
                ));
                Some(s)
            }
            Err(e) => {
                out.push(check("database", Level::Fail, e.to_string(), Some("check the file's permissions and free disk space; stop other processes holding it locked")));
                None
            }
        },
        Err(e) => {
            out.push(check("database", Level::Fail, e.to_string(), Some("move the damaged file away (Gatehouse creates a new one), or fix its permissions")));
            None
        }
    };
    out.push(match Redactor::load_or_create(&home.key_file) {
        Ok(_) => key_permissions(&home.key_file),
        Err(e) => check(
            "redaction key",
            Level::Fail,
            e.to_string(),
            Some("make the data folder writable; the key is created on first use"),
        ),
    });
    if let (Some(store), Some(t)) = (
        &store,
        env.get("GATEHOUSE_TOKEN").filter(|t| !t.trim().is_empty()),
    ) {
        let hash = token::hash(&Redacted::new(t.clone()));
        out.push(match store.agent_by_token_hash(&hash) {
            Ok(Some(a)) if a.status == AgentStatus::Approved => check(
                "token",
                Level::Ok,
                format!("GATEHOUSE_TOKEN is agent \"{}\"", a.name),
                None,
            ),
            Ok(Some(a)) => check(
                "token",
                Level::Warn,
                format!(
                    "GATEHOUSE_TOKEN is agent \"{}\", which is {}",
                    a.name,
                    a.status.name()
                ),
                Some("approve it, or `gatehouse agents rotate NAME` for a revoked one"),
            ),
            Ok(None) => check(
                "token",
                Level::Fail,
                "GATEHOUSE_TOKEN matches no agent: every call will be denied",
                Some("`gatehouse agents rotate NAME` and put the new token in the client's config"),
            ),
            Err(e) => check("token", Level::Fail, e.to_string(), None),
        });
    }
    if let Some(config) = &config {
        out.extend(keychain_checks(config, store.as_ref()).await);
    }
    if let Some(config) = config {
        out.extend(upstream_checks(&config, env, start_upstreams).await);
    }
    out
}

/// The keychain new tokens would go to (a probe entry is written, read and
/// deleted), and each connection's tokens (found or not; never shown).
async fn keychain_checks(config: &Config, store: Option<&Store>) -> Vec<Check> {
    let secrets = Secrets::system(config.secrets);
    let rows = store.and_then(|s| s.connections().ok()).unwrap_or_default();
    let mut out = vec![match secrets.check().await {
        Ok(StoreKind::Keyutils) => check(
            "keychain",
            Level::Warn,
            "OAuth tokens go to the kernel keyutils keyring (no Secret Service answers): they are lost at reboot",
            Some(
                "run inside a desktop session with a Secret Service (GNOME Keyring, KWallet), or accept reconnecting after a reboot",
            ),
        ),
        Ok(kind) => check(
            "keychain",
            Level::Ok,
            format!("OAuth tokens go to {}", kind.describe()),
            None,
        ),
        Err(e) => check(
            "keychain",
            // Without connected accounts nothing needs the keychain yet.
            if rows.is_empty() {
                Level::Warn
            } else {
                Level::Fail
            },
            e.to_string(),
            Some(
                "unlock or start your keyring (see docs/configuration.md, [secrets]); Gatehouse never stores tokens in a file",
            ),
        ),
    }];
    for row in rows {
        let name = format!("connection {}", row.provider);
        let Some(kind) = StoreKind::parse(&row.secret_store) else {
            out.push(check(
                &name,
                Level::Fail,
                format!("unknown keychain \"{}\"", row.secret_store),
                Some("reconnect it"),
            ));
            continue;
        };
        let fix = format!("run `gatehouse connect {}`", row.provider);
        out.push(
            match (row.state, secrets.get(kind, &row.secret_key).await) {
                (ConnectionState::NeedsReconnect, _) => check(
                    &name,
                    Level::Warn,
                    format!(
                        "needs reconnecting: {}",
                        row.state_reason.unwrap_or_default()
                    ),
                    Some(&fix),
                ),
                (_, Ok(Some(_))) => check(
                    &name,
                    Level::Ok,
                    format!("tokens found in {}", kind.describe()),
                    None,
                ),
                (_, Ok(None)) => check(
                    &name,
                    Level::Fail,
                    format!("its tokens are missing from {}", kind.describe()),
                    Some(&fix),
                ),
                (_, Err(e)) => check(
                    &name,
                    Level::Fail,
                    e.to_string(),
                    Some("unlock the keychain"),
                ),
            },
        );
    }
    out
}

fn key_permissions(path: &Path) -> Check {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(m) = std::fs::metadata(path)
            && m.permissions().mode() & 0o077 != 0
        {
            return check(
                "redaction key",
                Level::Warn,
                format!("{} can be read by other users", path.display()),
                Some("chmod 600 the file"),
            );
        }
    }
    check(
        "redaction key",
        Level::Ok,
        format!("{} is private", path.display()),
        None,
    )
}

async fn upstream_checks(config: &Config, env: &EnvMap, start: bool) -> Vec<Check> {
    let mut out = Vec::new();
    for u in &config.upstreams {
        let name = format!("upstream {}", u.name);
        let found = if u.command.contains('/') {
            Path::new(&u.command).exists()
        } else {
            env.get("PATH")
                .map(|p| std::env::split_paths(p).any(|d| d.join(&u.command).is_file()))
                .unwrap_or(false)
        };
        if !found {
            out.push(check(
                &name,
                Level::Fail,
                format!("command `{}` not found", u.command),
                Some("install it, or give its full path in [[upstream]] command"),
            ));
        } else if !start {
            out.push(check(
                &name,
                Level::Ok,
                format!("command `{}` found (not started: --no-start)", u.command),
                None,
            ));
        }
    }
    if !start || config.upstreams.is_empty() || out.iter().any(|c| c.level == Level::Fail) {
        return out;
    }
    let stop = CancellationToken::new();
    // Nothing is called, so nothing they write is hashed: any key will do.
    let redactor = crate::telemetry::Redactor::ephemeral();
    let ups = Upstreams::start(
        &config.upstreams,
        &config.server,
        env,
        &redactor,
        stop.clone(),
    );
    ups.settled(config.server.upstream_start.max(Duration::from_secs(5)))
        .await;
    for up in ups.all().iter().map(Arc::as_ref) {
        let name = format!("upstream {}", up.name());
        out.push(match up.state() {
            UpState::Up { tools, .. } => check(&name, Level::Ok, format!("started; {} tools", tools.len()), None),
            UpState::Starting => check(&name, Level::Warn, "still starting after upstream_start_seconds", Some("raise [server] upstream_start_seconds, or install its packages ahead (no npx at start-up)")),
            UpState::Down { reason, .. } => check(&name, Level::Fail, reason, Some("run its command by hand to see why it fails")),
        });
    }
    stop.cancel();
    tokio::time::sleep(Duration::from_millis(100)).await;
    out
}
