//! Where Gatehouse keeps its files: the config, the one shared SQLite database,
//! logs, traces and the redaction key. `GATEHOUSE_HOME=DIR` puts everything in
//! one folder (tests, portable installs); otherwise the platform's usual places.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The process environment as a map, passed in so tests never touch `std::env`.
pub type EnvMap = HashMap<String, String>;

/// Reads the real environment once, at the binary's edge.
pub fn process_env() -> EnvMap {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}

/// An environment of `pairs`, for tests.
#[cfg(test)]
pub fn env_of(pairs: &[(&str, &str)]) -> EnvMap {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Every path Gatehouse reads or writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Home {
    /// `config.toml`; absent means embedded defaults, unless `config_named_by` is set.
    pub config_file: PathBuf,
    /// The variable that named `config_file` (`GATEHOUSE_CONFIG`), when one did:
    /// then a missing file is an error, never a silent fall-back to the defaults.
    pub config_named_by: Option<&'static str>,
    /// The SQLite database every process shares.
    pub db_file: PathBuf,
    /// Daily JSON log files.
    pub logs_dir: PathBuf,
    /// OTLP JSON-lines trace files.
    pub traces_dir: PathBuf,
    /// The per-install HMAC key that redaction hashes with (0600).
    pub key_file: PathBuf,
}

/// No place to keep files could be found.
#[derive(Debug, thiserror::Error)]
#[error("cannot find a home directory for Gatehouse; set GATEHOUSE_HOME to a writable folder")]
pub struct NoHome;

impl Home {
    /// Everything inside one folder.
    pub fn in_dir(dir: impl AsRef<Path>) -> Self {
        let dir = dir.as_ref();
        Self {
            config_file: dir.join("config.toml"),
            config_named_by: None,
            db_file: dir.join("gatehouse.db"),
            logs_dir: dir.join("logs"),
            traces_dir: dir.join("traces"),
            key_file: dir.join("redaction.key"),
        }
    }

    /// `GATEHOUSE_HOME` when set, else the platform directories
    /// (`~/.config/gatehouse` and `~/.local/share/gatehouse` on Linux).
    /// `GATEHOUSE_CONFIG` names another config file.
    pub fn from_env(env: &EnvMap) -> Result<Self, NoHome> {
        let mut home = match env.get("GATEHOUSE_HOME").filter(|v| !v.is_empty()) {
            Some(dir) => Self::in_dir(dir),
            None => {
                let dirs = directories::ProjectDirs::from("dev", "gatehouse", "gatehouse")
                    .ok_or(NoHome)?;
                let data = dirs.data_dir();
                Self {
                    config_file: dirs.config_dir().join("config.toml"),
                    config_named_by: None,
                    db_file: data.join("gatehouse.db"),
                    logs_dir: data.join("logs"),
                    traces_dir: data.join("traces"),
                    key_file: data.join("redaction.key"),
                }
            }
        };
        if let Some(file) = env.get("GATEHOUSE_CONFIG").filter(|v| !v.is_empty()) {
            home.config_file = PathBuf::from(file);
            home.config_named_by = Some("GATEHOUSE_CONFIG");
        }
        Ok(home)
    }

    /// The folder holding the database (and the key), created if missing.
    pub fn data_dir(&self) -> &Path {
        self.db_file.parent().unwrap_or(Path::new("."))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gatehouse_home_puts_everything_in_one_folder() {
        let env = EnvMap::from([("GATEHOUSE_HOME".into(), "/tmp/gh".into())]);
        let home = Home::from_env(&env).unwrap();
        assert_eq!(home.db_file, PathBuf::from("/tmp/gh/gatehouse.db"));
        assert_eq!(home.config_file, PathBuf::from("/tmp/gh/config.toml"));
        assert_eq!(home.logs_dir, PathBuf::from("/tmp/gh/logs"));
    }

    #[test]
    fn gatehouse_config_overrides_the_config_path() {
        let env = EnvMap::from([
            ("GATEHOUSE_HOME".into(), "/tmp/gh".into()),
            ("GATEHOUSE_CONFIG".into(), "/etc/gh.toml".into()),
        ]);
        let home = Home::from_env(&env).unwrap();
        assert_eq!(home.config_file, PathBuf::from("/etc/gh.toml"));
        assert_eq!(home.config_named_by, Some("GATEHOUSE_CONFIG"));
        let implicit = Home::from_env(&EnvMap::from([("GATEHOUSE_HOME".into(), "/x".into())]));
        assert_eq!(implicit.unwrap().config_named_by, None);
    }
}
