//! `Store`: the one SQLite file that every `serve` process, the CLI and the
//! tray share. WAL, `synchronous=NORMAL`, short `BEGIN IMMEDIATE`
//! transactions and a busy handler that retries in ~200 µs sleeps, so no
//! writer starves and anything that must be exact across processes is decided
//! inside one transaction. `meta` holds the flag that pauses every agent.

mod agents;
mod alert_reads;
mod alerts;
mod buckets;
mod checkpoint;
mod connections;
mod history;
mod inline;
mod leases;
mod meta;
mod migrations;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};
use std::time::{Duration, Instant};

use rusqlite::{Connection, ErrorCode, OpenFlags};

pub use agents::{AgentRow, AgentStatus, Lookup, NewAgent, StoredList};
pub use alert_reads::{AuthFailures, BudgetRefusals, HistoryReads, ToolStats};
pub use alerts::{AlertChanges, AlertRow, AlertsChecked, Evaluator, Finding, may_evaluate};
pub use buckets::BucketRow;
pub use checkpoint::Checkpointer;
pub use connections::{ConnectionRow, ConnectionState};
pub use history::{CallRecord, CallStatus, HistoryFilter, HistoryRow};
pub use inline::try_without_waiting;
pub use leases::Lease;

/// How long one statement waits for another process's lock before the store
/// gives up and the guard refuses the call (fail closed).
pub const DEFAULT_BUSY_WAIT: Duration = Duration::from_secs(2);

/// Why the store couldn't answer. Every variant makes the guard refuse the call.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database file can't be opened or created.
    #[error("cannot open the database {path}: {reason}")]
    Open {
        /// The database file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// Another process held the lock longer than the busy wait.
    #[error("the database is locked by another process (waited {0:?}); try again shortly")]
    Busy(Duration),
    /// The file is read-only, on a full disk, or otherwise can't be written.
    #[error("the database can't be written: {0}")]
    Unwritable(String),
    /// The file is not a database or is damaged.
    #[error("the database is damaged or not a Gatehouse database: {0}")]
    Corrupt(String),
    /// The database is newer than this program.
    #[error(
        "the database was written by a newer Gatehouse (schema {found}, this build knows {known}); upgrade Gatehouse"
    )]
    TooNew {
        /// The schema version in the file.
        found: i64,
        /// The newest version this build knows.
        known: i64,
    },
    /// A named agent does not exist.
    #[error("no agent named \"{0}\"; see `gatehouse agents list`")]
    NoSuchAgent(String),
    /// An agent with that name exists already.
    #[error("an agent named \"{0}\" exists already")]
    AgentExists(String),
    /// Any other SQLite failure.
    #[error("database error: {0}")]
    Other(String),
}

impl StoreError {
    fn from_sqlite(e: rusqlite::Error, busy_wait: Duration) -> Self {
        match e.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
                StoreError::Busy(busy_wait)
            }
            Some(
                ErrorCode::ReadOnly
                | ErrorCode::DiskFull
                | ErrorCode::CannotOpen
                | ErrorCode::SystemIoFailure,
            ) => StoreError::Unwritable(e.to_string()),
            Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => {
                StoreError::Corrupt(e.to_string())
            }
            _ => StoreError::Other(e.to_string()),
        }
    }
}

struct Inner {
    path: PathBuf,
    busy_wait: Duration,
    conn: Mutex<Connection>,
    /// Threads waiting for `conn`. While any waits, a no-wait call steps
    /// back instead of taking the connection first: without this, calls made
    /// inline could keep barging in ahead of one that had to wait.
    waiting: AtomicUsize,
}

/// A handle on the shared database; cheap to clone, one connection per process.
#[derive(Clone)]
pub struct Store(Arc<Inner>);

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Store").field(&self.0.path).finish()
    }
}

impl Store {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Self::open_with(path, DEFAULT_BUSY_WAIT)
    }

    /// As `open`, with how long a statement may wait for another process's lock.
    pub fn open_with(path: &Path, busy_wait: Duration) -> Result<Store, StoreError> {
        let open_err = |reason: String| StoreError::Open {
            path: path.to_path_buf(),
            reason,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| open_err(e.to_string()))?;
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn =
            Connection::open_with_flags(path, flags).map_err(|e| open_err(e.to_string()))?;
        install_busy_handler(&mut conn, busy_wait).map_err(|e| open_err(e.to_string()))?;
        let store = Store(Arc::new(Inner {
            path: path.to_path_buf(),
            busy_wait,
            conn: Mutex::new(conn),
            waiting: AtomicUsize::new(0),
        }));
        store.with(|c| {
            c.pragma_update(None, "journal_mode", "WAL")?;
            c.pragma_update(None, "synchronous", "NORMAL")?;
            c.pragma_update(None, "foreign_keys", "ON")?;
            Ok(())
        })?;
        migrations::run(&store)?;
        Ok(store)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.0.path
    }

    /// The connection. In no-wait mode (see [`inline`]) a connection in use
    /// by another thread is `Busy` at once instead of a wait.
    fn lock(&self) -> Result<MutexGuard<'_, Connection>, StoreError> {
        // A panic while holding the lock leaves SQLite consistent (the
        // transaction rolls back on drop), so a poisoned lock is still usable.
        if inline::no_wait() {
            if self.0.waiting.load(Ordering::Acquire) > 0 {
                return Err(StoreError::Busy(Duration::ZERO));
            }
            return match self.0.conn.try_lock() {
                Ok(c) => Ok(c),
                Err(TryLockError::Poisoned(p)) => Ok(p.into_inner()),
                Err(TryLockError::WouldBlock) => Err(StoreError::Busy(Duration::ZERO)),
            };
        }
        self.0.waiting.fetch_add(1, Ordering::AcqRel);
        let conn = self.0.conn.lock().unwrap_or_else(|p| p.into_inner());
        self.0.waiting.fetch_sub(1, Ordering::AcqRel);
        Ok(conn)
    }

    /// Runs `f` on the connection, mapping SQLite errors.
    pub(crate) fn with<T>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let conn = self.lock()?;
        f(&conn).map_err(|e| StoreError::from_sqlite(e, self.0.busy_wait))
    }

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction: the write lock is taken
    /// up front, so the decision and its write can't interleave with another process.
    pub(crate) fn immediate<T, E>(
        &self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let busy = self.0.busy_wait;
        let map = |e: rusqlite::Error| E::from(StoreError::from_sqlite(e, busy));
        let mut conn = self.lock()?;
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(map)?;
        let out = f(&tx)?;
        tx.commit().map_err(map)?;
        Ok(out)
    }

    /// Runs `f` over history aggregates on this process's connection (plain
    /// reads: in WAL mode they wait for no writer and block none).
    pub fn read_history<T>(
        &self,
        f: impl FnOnce(&HistoryReads<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let conn = self.lock()?;
        f(&HistoryReads::new(&conn, self.0.busy_wait))
    }

    /// Checks the database answers and can be written (for `doctor`).
    pub fn check_writable(&self) -> Result<(), StoreError> {
        self.immediate(|tx| {
            tx.execute(
                "INSERT INTO meta(key, value) VALUES('doctor_check', '1')
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [],
            )
            .map_err(|e| StoreError::from_sqlite(e, Duration::ZERO))?;
            Ok::<_, StoreError>(())
        })
    }
}

/// Retries a locked database in short, jittered sleeps until `max_wait`.
/// SQLite's default handler backs off to sleeps of many milliseconds, which
/// let one process starve the others; ~200 µs keeps every writer's turn short.
fn install_busy_handler(conn: &mut Connection, max_wait: Duration) -> rusqlite::Result<()> {
    let mut started: Option<Instant> = None;
    let mut seed: u32 = std::process::id() | 1;
    conn.busy_handler(Some(move |count: i32| {
        if inline::no_wait() {
            // Give up now: the call is retried on a thread where waiting is harmless.
            return false;
        }
        if count == 0 {
            started = Some(Instant::now());
        }
        let waited = started.map_or(Duration::ZERO, |s| s.elapsed());
        if waited >= max_wait {
            return false;
        }
        // xorshift: a little jitter so processes don't retry in lockstep.
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        std::thread::sleep(Duration::from_micros(150 + u64::from(seed % 100)));
        true
    }))
}

#[cfg(test)]
pub(crate) mod testing {
    //! A store in a temporary directory: a real file, as every process shares one.
    use super::*;

    /// A store and the directory that holds it (deleted on drop).
    pub struct TempStore {
        /// The store.
        pub store: Store,
        /// Keeps the directory alive.
        pub _dir: tempfile::TempDir,
    }

    /// A fresh store in a new temp dir.
    pub fn temp_store() -> TempStore {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("gatehouse.db")).unwrap();
        TempStore { store, _dir: dir }
    }
}
