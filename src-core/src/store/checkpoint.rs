//! WAL checkpoints off the call path. By default SQLite checkpoints inside
//! whichever commit pushes the WAL past 1,000 pages: that commit then copies
//! the WAL into the database and syncs it, a 3–6 ms stall in the middle of a
//! tool call. A long-running process (`serve`) turns that off on its
//! connection and lets a thread with a connection of its own checkpoint
//! every so often instead. A passive checkpoint waits for nobody and blocks
//! no writer, in this process or any other.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::{Store, StoreError};

/// Checkpoints in the background until dropped; the connection it came from
/// checkpoints on commit again afterwards.
#[derive(Debug)]
pub struct Checkpointer {
    store: Store,
    stop: Option<mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Store {
    /// Moves WAL checkpoints from this connection's commits to a background
    /// thread that checkpoints every `every`. Dropping the handle stops it.
    pub fn checkpoint_in_background(&self, every: Duration) -> Result<Checkpointer, StoreError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn =
            Connection::open_with_flags(self.path(), flags).map_err(|e| StoreError::Open {
                path: self.path().to_path_buf(),
                reason: e.to_string(),
            })?;
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("gatehouse-checkpoint".into())
            .spawn(move || {
                loop {
                    match stopped.recv_timeout(every) {
                        Err(RecvTimeoutError::Timeout) => passive_checkpoint(&conn),
                        // Stopped: one last checkpoint, so little WAL is left behind.
                        _ => return passive_checkpoint(&conn),
                    }
                }
            })
            .map_err(|e| StoreError::Other(format!("cannot start the checkpoint thread: {e}")))?;
        self.set_autocheckpoint(0)?;
        Ok(Checkpointer {
            store: self.clone(),
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    fn set_autocheckpoint(&self, pages: i64) -> Result<(), StoreError> {
        self.with(|c| c.pragma_update(None, "wal_autocheckpoint", pages))
    }
}

fn passive_checkpoint(conn: &Connection) {
    // Busy (another process is checkpointing) or any other failure: the next
    // round, or that other process, does it.
    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
        tracing::debug!(error = %e, "WAL checkpoint skipped");
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        // SQLite's default.
        let _ = self.store.set_autocheckpoint(1000);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::temp_store;

    /// Writes `n` rows of about a page each, one commit per row.
    fn write_rows(store: &Store, from: usize, n: usize) {
        for i in from..from + n {
            store
                .with(|c| {
                    c.execute(
                        "INSERT INTO meta(key, value) VALUES(?1, ?2)",
                        rusqlite::params![format!("k{i}"), "x".repeat(2000)],
                    )
                })
                .unwrap();
        }
    }

    /// Frames in the WAL now. A checkpoint lets the next writer start the WAL
    /// over, so after one commit that follows a complete checkpoint this is small.
    fn wal_frames(store: &Store) -> i64 {
        store
            .with(|c| c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(1)))
            .unwrap()
    }

    fn autocheckpoint(store: &Store) -> i64 {
        store
            .with(|c| c.query_row("PRAGMA wal_autocheckpoint", [], |r| r.get(0)))
            .unwrap()
    }

    #[test]
    fn commits_stop_checkpointing_until_the_handle_is_dropped() {
        let t = temp_store();
        let cp = t
            .store
            .checkpoint_in_background(Duration::from_secs(3600))
            .unwrap();
        assert_eq!(autocheckpoint(&t.store), 0);
        write_rows(&t.store, 0, 1500);
        assert!(wal_frames(&t.store) >= 1500, "no commit checkpointed");
        drop(cp);
        assert_eq!(autocheckpoint(&t.store), 1000, "SQLite's default is back");
    }

    #[test]
    fn the_thread_checkpoints_so_the_wal_starts_over() {
        let t = temp_store();
        let _cp = t
            .store
            .checkpoint_in_background(Duration::from_millis(10))
            .unwrap();
        write_rows(&t.store, 0, 1500);
        std::thread::sleep(Duration::from_millis(200));
        write_rows(&t.store, 1500, 1);
        assert!(
            wal_frames(&t.store) < 10,
            "the WAL was checkpointed and reused"
        );
    }

    #[test]
    fn a_last_checkpoint_is_made_when_it_stops() {
        let t = temp_store();
        let cp = t
            .store
            .checkpoint_in_background(Duration::from_secs(3600))
            .unwrap();
        write_rows(&t.store, 0, 1500);
        drop(cp);
        write_rows(&t.store, 1500, 1);
        assert!(wal_frames(&t.store) < 10);
    }
}
