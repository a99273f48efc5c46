//! Rows of the `meta` table that every process reads: the "pause all agents"
//! flag (set by `gatehouse pause` or the tray, read by identify on every call),
//! and SQLite's change counter, which lets the tray notice other processes' writes cheaply.

use rusqlite::OptionalExtension;

use super::{Store, StoreError};
use crate::clock::UnixMillis;

/// The `meta` key whose presence means every agent is paused; its value is
/// the time (ms) the user paused them.
pub(crate) const PAUSED_KEY: &str = "paused";

impl Store {
    /// Since when every agent is paused, or `None` when calls go through as usual.
    pub fn paused_since(&self) -> Result<Option<UnixMillis>, StoreError> {
        let value: Option<String> = self.with(|c| {
            c.query_row("SELECT value FROM meta WHERE key = ?1", [PAUSED_KEY], |r| {
                r.get(0)
            })
            .optional()
        })?;
        Ok(value.map(|v| UnixMillis(v.parse().unwrap_or(0))))
    }

    /// Pauses every agent from `now` (keeping an earlier pause's time), or
    /// with `None` lets calls through again. Running processes see it on their next call.
    pub fn set_paused(&self, now: Option<UnixMillis>) -> Result<(), StoreError> {
        self.with(|c| match now {
            Some(t) => c.execute(
                "INSERT INTO meta(key, value) VALUES(?1, ?2) ON CONFLICT(key) DO NOTHING",
                [PAUSED_KEY, &t.0.to_string()],
            ),
            None => c.execute("DELETE FROM meta WHERE key = ?1", [PAUSED_KEY]),
        })?;
        Ok(())
    }

    /// SQLite's `PRAGMA data_version`: it changes when another connection (any
    /// other process) commits, and costs no disk read. Writes made through
    /// this same handle don't change it.
    pub fn data_version(&self) -> Result<i64, StoreError> {
        self.with(|c| c.query_row("PRAGMA data_version", [], |r| r.get(0)))
    }
}

#[cfg(test)]
mod tests {
    use crate::clock::UnixMillis;
    use crate::store::Store;
    use crate::store::testing::temp_store;

    #[test]
    fn pause_is_shared_keeps_its_first_time_and_resume_clears_it() {
        let t = temp_store();
        let other = Store::open(t.store.path()).unwrap();
        assert_eq!(other.paused_since().unwrap(), None);
        t.store.set_paused(Some(UnixMillis(5))).unwrap();
        t.store.set_paused(Some(UnixMillis(9))).unwrap();
        assert_eq!(other.paused_since().unwrap(), Some(UnixMillis(5)));
        let found = other.lookup_by_name("nobody").unwrap();
        assert_eq!(found.paused_since, Some(UnixMillis(5)));
        assert!(found.agent.is_none());
        t.store.set_paused(None).unwrap();
        assert_eq!(other.paused_since().unwrap(), None);
    }

    #[test]
    fn another_process_writing_changes_the_data_version() {
        let t = temp_store();
        let other = Store::open(t.store.path()).unwrap();
        let before = t.store.data_version().unwrap();
        assert_eq!(t.store.data_version().unwrap(), before);
        other.set_paused(Some(UnixMillis(1))).unwrap();
        assert_ne!(t.store.data_version().unwrap(), before);
    }

    #[test]
    fn lookups_find_the_agent_and_the_flag_in_one_read() {
        let t = temp_store();
        t.store
            .ensure_pending("cursor", Some("/usr/bin/cursor"), UnixMillis(1))
            .unwrap();
        let found = t.store.lookup_by_name("cursor").unwrap();
        assert_eq!(found.paused_since, None);
        let agent = found.agent.unwrap();
        assert_eq!(agent.name, "cursor");
        assert_eq!(agent.parent_exe.as_deref(), Some("/usr/bin/cursor"));
        assert!(t.store.lookup_by_token_hash("x").unwrap().agent.is_none());
    }
}
