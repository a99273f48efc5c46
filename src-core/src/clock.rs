//! Wall-clock time in milliseconds since the Unix epoch, passed in wherever a
//! decision depends on time (bucket refill, approval waits, retention) so tests
//! can move time by hand while still using a real SQLite file.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// Milliseconds since the Unix epoch. Bucket rows shared across processes store
/// this, which is why we don't use `Instant`: it means nothing to another process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixMillis(pub i64);

impl UnixMillis {
    /// Milliseconds from `earlier` to `self`, zero when time went backwards.
    pub fn saturating_since(self, earlier: UnixMillis) -> i64 {
        (self.0 - earlier.0).max(0)
    }

    /// This instant plus `ms` milliseconds.
    pub fn plus(self, ms: i64) -> UnixMillis {
        UnixMillis(self.0.saturating_add(ms))
    }

    /// RFC 3339 text in UTC with millisecond precision, as every `--json` field shows times.
    pub fn to_rfc3339(self) -> String {
        let nanos = i128::from(self.0) * 1_000_000;
        match time::OffsetDateTime::from_unix_timestamp_nanos(nanos) {
            Ok(t) => t
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_else(|_| self.0.to_string()),
            Err(_) => self.0.to_string(),
        }
    }
}

impl fmt::Display for UnixMillis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

/// Where "now" comes from.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current time.
    fn now(&self) -> UnixMillis;
}

/// A shared clock handle.
pub type SharedClock = Arc<dyn Clock>;

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> UnixMillis {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        UnixMillis(i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
    }
}

/// A clock that only moves when told to; it may also be set backwards to test
/// that nothing mints tokens when the system clock jumps back.
#[derive(Debug)]
pub struct FakeClock(AtomicI64);

impl FakeClock {
    /// A fake clock starting at `start`.
    pub fn new(start: UnixMillis) -> Self {
        Self(AtomicI64::new(start.0))
    }

    /// Moves time forward (or backward, with a negative `ms`).
    pub fn advance(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }

    /// Sets the time.
    pub fn set(&self, t: UnixMillis) {
        self.0.store(t.0, Ordering::SeqCst);
    }
}

impl Clock for FakeClock {
    fn now(&self) -> UnixMillis {
        UnixMillis(self.0.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saturating_since_never_goes_negative() {
        assert_eq!(UnixMillis(5).saturating_since(UnixMillis(10)), 0);
        assert_eq!(UnixMillis(10).saturating_since(UnixMillis(5)), 5);
    }

    #[test]
    fn formats_as_rfc3339_utc() {
        assert_eq!(
            UnixMillis(1_700_000_000_123).to_rfc3339(),
            "2023-11-14T22:13:20.123Z"
        );
    }

    #[test]
    fn fake_clock_moves_both_ways() {
        let c = FakeClock::new(UnixMillis(1000));
        c.advance(500);
        assert_eq!(c.now(), UnixMillis(1500));
        c.advance(-2000);
        assert_eq!(c.now(), UnixMillis(-500));
    }
}
