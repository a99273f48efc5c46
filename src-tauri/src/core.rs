//! `Core`: the src-core handles the app works with, found the way the CLI
//! finds them (`GATEHOUSE_HOME`, else the platform folders). The database is
//! opened on first use and again after a failure, and the config file is read
//! on every use, so a file the user repairs is picked up without a restart.
//! The keychain is passed in (the OS keychain in the app, a mock in tests).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use gatehouse::agents::Agents;
use gatehouse::agents::snippets::Launch;
use gatehouse::clock::SharedClock;
use gatehouse::config::Config;
use gatehouse::home::{EnvMap, Home};
use gatehouse::oauth::Accounts;
use gatehouse::secrets::{Choice, Secrets};
use gatehouse::store::Store;

use crate::error::UiError;

/// Makes the keychain handle for a `[secrets] store` choice:
/// `Secrets::system` in the app, one mock store in tests.
pub type SecretsFactory = Arc<dyn Fn(Choice) -> Secrets + Send + Sync>;

/// What every command and the watcher share.
pub struct Core {
    /// Where the config, database and logs are.
    pub home: Home,
    /// The environment the app started with (for `GATEHOUSE_HOME` in client config).
    pub env: EnvMap,
    /// Now; tests pass a fake.
    pub clock: SharedClock,
    /// The `gatehouse` executable that client config launches.
    pub gatehouse_exe: PathBuf,
    /// The open database, once it opened.
    store: Mutex<Option<Store>>,
    /// Makes the keychain handle for the configured choice.
    make_secrets: SecretsFactory,
    /// The keychain handle last made, kept while the choice stays (opening
    /// the Secret Service is a D-Bus handshake: once is enough).
    secrets: Mutex<Option<(Choice, Secrets)>>,
    /// Set after the app itself wrote to the store: SQLite's change counter
    /// only sees other processes' writes, so the watcher also looks here.
    changed: AtomicBool,
}

impl Core {
    /// A core over `home`; nothing is opened yet.
    pub fn new(
        home: Home,
        env: EnvMap,
        clock: SharedClock,
        gatehouse_exe: PathBuf,
        make_secrets: SecretsFactory,
    ) -> Self {
        Self {
            home,
            env,
            clock,
            gatehouse_exe,
            store: Mutex::new(None),
            make_secrets,
            secrets: Mutex::new(None),
            changed: AtomicBool::new(true),
        }
    }

    /// The shared database, opened (and migrated) on first use.
    pub fn store(&self) -> Result<Store, UiError> {
        let mut slot = self.store.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = slot.as_ref() {
            return Ok(s.clone());
        }
        let s = Store::open(&self.home.db_file).map_err(UiError::Database)?;
        *slot = Some(s.clone());
        Ok(s)
    }

    /// Drops the open database after an error, so the next use opens it anew
    /// (the user may have moved a damaged file away).
    pub fn forget_store(&self) {
        *self.store.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// The configuration in the file now (the embedded defaults when there is none).
    pub fn config(&self) -> Result<Config, UiError> {
        Config::load_for(&self.home).map_err(UiError::Config)
    }

    /// Agent operations.
    pub fn agents(&self) -> Result<Agents, UiError> {
        Ok(Agents::new(self.store()?, self.clock.clone()))
    }

    /// The keychain that `[secrets] store` in `config` names.
    pub fn secrets(&self, config: &Config) -> Secrets {
        let mut slot = self.secrets.lock().unwrap_or_else(|p| p.into_inner());
        match slot.as_ref() {
            Some((choice, s)) if *choice == config.secrets => s.clone(),
            _ => {
                let s = (self.make_secrets)(config.secrets);
                *slot = Some((config.secrets, s.clone()));
                s
            }
        }
    }

    /// The connected accounts, with the config and keychain as they are now.
    pub fn accounts(&self) -> Result<Accounts, UiError> {
        let config = self.config()?;
        let secrets = self.secrets(&config);
        Ok(Accounts::new(
            self.store()?,
            secrets,
            Arc::new(config.oauth),
            self.clock.clone(),
        ))
    }

    /// What a client runs to start Gatehouse as the agent holding `token`.
    pub fn launch<'a>(&'a self, token: &'a str, exe: &'a str) -> Launch<'a> {
        Launch {
            command: exe,
            token,
            home: self
                .env
                .get("GATEHOUSE_HOME")
                .map(String::as_str)
                .filter(|h| !h.is_empty()),
        }
    }

    /// Notes that the app changed the store, for the watcher.
    pub fn mark_changed(&self) {
        self.changed.store(true, Ordering::SeqCst);
    }

    /// Whether the app changed the store since the last call (and clears it).
    pub fn take_changed(&self) -> bool {
        self.changed.swap(false, Ordering::SeqCst)
    }
}

/// The `gatehouse` executable for client config: `GATEHOUSE_BIN`, else the
/// one installed beside the tray (both go to `/usr/bin` from the package;
/// `target/debug` holds both in a build), else the one on `PATH`, else the bare name.
pub fn find_gatehouse(env: &EnvMap, tray_exe: Option<PathBuf>) -> PathBuf {
    if let Some(bin) = env.get("GATEHOUSE_BIN").filter(|b| !b.is_empty()) {
        return PathBuf::from(bin);
    }
    let beside = tray_exe.and_then(|t| Some(t.parent()?.join("gatehouse")));
    if let Some(b) = beside.filter(|b| b.is_file()) {
        return b;
    }
    env.get("PATH")
        .and_then(|p| {
            std::env::split_paths(p)
                .map(|d| d.join("gatehouse"))
                .find(|c| c.is_file())
        })
        .unwrap_or_else(|| PathBuf::from("gatehouse"))
}

#[cfg(test)]
pub(crate) mod testing {
    //! A core over a temporary home, with a fake clock.
    use std::sync::Arc;

    use gatehouse::clock::{FakeClock, UnixMillis};
    use gatehouse::home::{EnvMap, Home};
    use gatehouse::secrets::Secrets;

    use super::Core;

    /// A core whose home `prepare` may fill first, with a mock keychain; the
    /// folder lives as long as the `TempDir`.
    pub fn core_in(prepare: impl FnOnce(&std::path::Path)) -> (Core, tempfile::TempDir) {
        let mock = Secrets::mock();
        core_with(prepare, Arc::new(move |_| mock.clone()))
    }

    /// A core whose keychain `make_secrets` makes.
    pub fn core_with(
        prepare: impl FnOnce(&std::path::Path),
        make_secrets: super::SecretsFactory,
    ) -> (Core, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        prepare(dir.path());
        let core = Core::new(
            Home::in_dir(dir.path()),
            EnvMap::new(),
            Arc::new(FakeClock::new(UnixMillis(1_700_000_000_000))),
            "gatehouse".into(),
            make_secrets,
        );
        (core, dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gatehouse_is_found_beside_the_tray_before_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let (beside, on_path) = (dir.path().join("bin"), dir.path().join("path"));
        std::fs::create_dir_all(&beside).unwrap();
        std::fs::create_dir_all(&on_path).unwrap();
        std::fs::write(on_path.join("gatehouse"), "").unwrap();
        let env = EnvMap::from([("PATH".into(), on_path.display().to_string())]);
        let tray = Some(beside.join("gatehouse-tray"));
        assert_eq!(
            find_gatehouse(&env, tray.clone()),
            on_path.join("gatehouse")
        );
        std::fs::write(beside.join("gatehouse"), "").unwrap();
        assert_eq!(find_gatehouse(&env, tray.clone()), beside.join("gatehouse"));
        let mut env = env;
        env.insert("GATEHOUSE_BIN".into(), "/opt/gh".into());
        assert_eq!(find_gatehouse(&env, tray), PathBuf::from("/opt/gh"));
    }
}
