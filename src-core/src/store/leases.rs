//! Lease rows: "one process at a time" across every process sharing the
//! database, e.g. refreshing a rotating OAuth token, which only one request
//! may spend. A lease expires on its own, so a holder that crashed can't
//! block the others for longer than its time to live.

use rusqlite::{OptionalExtension, params};

use super::{Store, StoreError};
use crate::clock::UnixMillis;

/// A lease held by this process; release it when done.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    /// What it guards, e.g. `oauth-refresh:github`.
    pub name: String,
    /// Who holds it (unique per attempt).
    pub holder: String,
}

impl Store {
    /// Takes the lease `name` for `holder` until `now + ttl_ms`, if nobody
    /// else holds a live one. Decided in one `BEGIN IMMEDIATE` transaction.
    pub fn try_lease(
        &self,
        name: &str,
        holder: &str,
        now: UnixMillis,
        ttl_ms: i64,
    ) -> Result<Option<Lease>, StoreError> {
        let busy = self.0.busy_wait;
        self.immediate(|tx| {
            let map = |e| StoreError::from_sqlite(e, busy);
            let current: Option<(String, i64)> = tx
                .query_row(
                    "SELECT holder, expires_ms FROM leases WHERE name = ?1",
                    [name],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(map)?;
            if let Some((h, expires)) = current
                && h != holder
                && expires > now.0
            {
                return Ok(None);
            }
            tx.execute(
                "INSERT OR REPLACE INTO leases (name, holder, expires_ms) VALUES (?1, ?2, ?3)",
                params![name, holder, now.0 + ttl_ms],
            )
            .map_err(map)?;
            Ok(Some(Lease {
                name: name.to_string(),
                holder: holder.to_string(),
            }))
        })
    }

    /// Whether nobody holds a live lease `name` at `now`.
    pub fn lease_free(&self, name: &str, now: UnixMillis) -> Result<bool, StoreError> {
        self.with(|c| {
            let expires: Option<i64> = c
                .query_row(
                    "SELECT expires_ms FROM leases WHERE name = ?1",
                    [name],
                    |r| r.get(0),
                )
                .optional()?;
            Ok(expires.is_none_or(|e| e <= now.0))
        })
    }

    /// Gives `lease` back (only if still held by its holder).
    pub fn release_lease(&self, lease: &Lease) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                "DELETE FROM leases WHERE name = ?1 AND holder = ?2",
                params![lease.name, lease.holder],
            )
            .map(|_| ())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::temp_store;

    #[test]
    fn one_holder_at_a_time_until_release_or_expiry() {
        let t = temp_store();
        let s = &t.store;
        let a = s.try_lease("x", "a", UnixMillis(0), 1000).unwrap().unwrap();
        assert_eq!(s.try_lease("x", "b", UnixMillis(10), 1000).unwrap(), None);
        s.release_lease(&a).unwrap();
        let b = s
            .try_lease("x", "b", UnixMillis(20), 1000)
            .unwrap()
            .unwrap();
        // A holder that never releases loses the lease when it expires.
        assert_eq!(s.try_lease("x", "c", UnixMillis(1019), 1000).unwrap(), None);
        assert!(
            s.try_lease("x", "c", UnixMillis(1021), 1000)
                .unwrap()
                .is_some()
        );
        // Releasing a lease someone else took over changes nothing.
        s.release_lease(&b).unwrap();
        assert_eq!(s.try_lease("x", "d", UnixMillis(1030), 1000).unwrap(), None);
    }
}
