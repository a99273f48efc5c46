//! Store calls made straight from an async task. Most store calls take a few
//! microseconds; handing each to a blocking-pool thread costs more than the
//! call (a wake-up and a context switch each way). So a call first runs
//! where it is, in *no-wait* mode: if the connection is busy in this process
//! or another process holds the write lock, it gives up at once instead of
//! waiting, and the caller retries it on a blocking thread, where waiting is
//! harmless. A statement that couldn't get its lock changed nothing, so the
//! retry is safe for calls built from such statements and transactions.

use std::cell::Cell;

use super::StoreError;

thread_local! {
    /// Set while a store call runs in no-wait mode on this thread.
    static NO_WAIT: Cell<bool> = const { Cell::new(false) };
}

/// Whether store calls on this thread must not wait for a lock.
pub(super) fn no_wait() -> bool {
    NO_WAIT.with(Cell::get)
}

/// Resets the flag even if the call panics.
struct Reset;

impl Drop for Reset {
    fn drop(&mut self) {
        NO_WAIT.with(|f| f.set(false));
    }
}

/// Runs `f` now if it needs no wait. `None` when it would have had to wait
/// for the connection or for another process's write lock; `f` then changed
/// nothing that a retry would not change again (every store call is a
/// single statement or one transaction, or a sequence of such that may be
/// repeated).
pub fn try_without_waiting<T>(
    f: impl FnOnce() -> Result<T, StoreError>,
) -> Option<Result<T, StoreError>> {
    NO_WAIT.with(|flag| flag.set(true));
    let _reset = Reset;
    match f() {
        Err(StoreError::Busy(_)) => None,
        other => Some(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::UnixMillis;
    use crate::store::Store;
    use crate::store::testing::temp_store;

    #[test]
    fn a_free_store_answers_at_once() {
        let t = temp_store();
        let got = try_without_waiting(|| t.store.agent_by_name("nobody"));
        assert!(matches!(got, Some(Ok(None))));
        assert!(!no_wait(), "the flag is reset afterwards");
    }

    #[test]
    fn a_connection_in_use_in_this_process_gives_up_instead_of_waiting() {
        let t = temp_store();
        let store = t.store.clone();
        let held = store.0.conn.lock().unwrap();
        let started = std::time::Instant::now();
        assert!(try_without_waiting(|| t.store.agent_by_name("x")).is_none());
        assert!(started.elapsed() < std::time::Duration::from_millis(500));
        drop(held);
        assert!(try_without_waiting(|| t.store.agent_by_name("x")).is_some());
    }

    #[test]
    fn a_call_steps_back_while_another_thread_waits_for_the_connection() {
        let t = temp_store();
        // A thread is queued for the connection: an inline call must not barge in ahead of it.
        t.store
            .0
            .waiting
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        assert!(try_without_waiting(|| t.store.agent_by_name("x")).is_none());
        t.store
            .0
            .waiting
            .fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
        assert!(try_without_waiting(|| t.store.agent_by_name("x")).is_some());
        // A waiting call counts itself only while it waits.
        t.store.agent_by_name("x").unwrap();
        assert_eq!(
            t.store.0.waiting.load(std::sync::atomic::Ordering::Acquire),
            0
        );
    }

    #[test]
    fn another_processs_write_lock_gives_up_and_changes_nothing() {
        let t = temp_store();
        // A second connection to the same file stands in for another process.
        let other = Store::open(t.store.path()).unwrap();
        other.with(|c| c.execute_batch("BEGIN IMMEDIATE")).unwrap();
        let write = || {
            t.store
                .ensure_pending("newcomer", None, UnixMillis(1))
                .map(|_| ())
        };
        assert!(try_without_waiting(write).is_none());
        other.with(|c| c.execute_batch("ROLLBACK")).unwrap();
        assert!(t.store.agent_by_name("newcomer").unwrap().is_none());
        assert!(matches!(try_without_waiting(write), Some(Ok(()))));
        assert!(t.store.agent_by_name("newcomer").unwrap().is_some());
    }
}
