//! `LiveConfig`: the configuration a running `serve` uses right now. A
//! reload ([`super::reload`]) swaps it whole; a reader takes one snapshot
//! (an `Arc<Config>`) and keeps it for the whole call, so one call never
//! mixes the limits of one version of the file with the policy of another.

use std::sync::{Arc, RwLock};

use super::Config;

/// The current configuration, shared by every task of a process. Cheap to
/// clone (all clones see the same swaps).
#[derive(Clone, Debug)]
pub struct LiveConfig(Arc<RwLock<Arc<Config>>>);

impl LiveConfig {
    /// Starts with `config`.
    pub fn new(config: Config) -> Self {
        Self::from(Arc::new(config))
    }

    /// The configuration now: one consistent version, kept by the caller as
    /// long as it needs it (a reload meanwhile doesn't change it).
    pub fn snapshot(&self) -> Arc<Config> {
        // A panic while swapping leaves the old or the new Arc, both whole.
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Makes `config` the configuration of every later snapshot.
    pub(crate) fn replace(&self, config: Arc<Config>) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = config;
    }
}

impl From<Arc<Config>> for LiveConfig {
    fn from(config: Arc<Config>) -> Self {
        Self(Arc::new(RwLock::new(config)))
    }
}

impl From<Config> for LiveConfig {
    fn from(config: Config) -> Self {
        Self::new(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_snapshot_stays_whole_while_the_config_is_replaced() {
        let live = LiveConfig::new(Config::defaults());
        let before = live.snapshot();
        let mut next = Config::defaults();
        next.approval_wait = Duration::from_secs(3);
        live.clone().replace(Arc::new(next));
        assert_eq!(before.approval_wait, Duration::from_secs(20));
        assert_eq!(live.snapshot().approval_wait, Duration::from_secs(3));
    }
}
