//! Numbered schema migrations, applied in order inside one transaction each;
//! `PRAGMA user_version` records the last one applied. Never edit a migration
//! that has shipped: add the next one.

use super::{Store, StoreError};

/// Each entry moves the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: agents, buckets, history, meta.
    "
    CREATE TABLE agents (
        id           TEXT PRIMARY KEY,
        name         TEXT NOT NULL UNIQUE,
        status       TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'revoked')),
        verified     INTEGER NOT NULL DEFAULT 0,
        token_hash   TEXT UNIQUE,
        parent_exe   TEXT,
        allow_tools  TEXT NOT NULL DEFAULT '[]',
        deny_tools   TEXT NOT NULL DEFAULT '[]',
        created_ms   INTEGER NOT NULL,
        updated_ms   INTEGER NOT NULL,
        last_seen_ms INTEGER
    );
    CREATE TABLE buckets (
        id         TEXT PRIMARY KEY,
        scope      TEXT NOT NULL,
        agent      TEXT,
        tool       TEXT,
        period     TEXT NOT NULL,
        tokens     REAL NOT NULL,
        updated_ms INTEGER NOT NULL
    );
    CREATE TABLE history (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        time_ms    INTEGER NOT NULL,
        trace_id   TEXT NOT NULL,
        request_id TEXT,
        agent      TEXT,
        verified   INTEGER,
        tool       TEXT NOT NULL,
        status     TEXT NOT NULL,
        code       TEXT,
        latency_us INTEGER NOT NULL,
        args       TEXT NOT NULL,
        message    TEXT
    );
    CREATE INDEX history_time ON history (time_ms);
    CREATE INDEX history_agent ON history (agent, time_ms);
    CREATE INDEX history_tool ON history (tool, time_ms);
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    ",
    // 2: alerts (one row per episode), an index for the alert rules' history
    // reads, and the structured refusal facts those rules read (never parsed
    // from messages): which budget refused, why a call was denied, and the
    // client that sent a bad token.
    "
    ALTER TABLE history ADD COLUMN refusal_scope TEXT;
    ALTER TABLE history ADD COLUMN deny_reason TEXT;
    ALTER TABLE history ADD COLUMN client TEXT;
    CREATE TABLE alerts (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        kind        TEXT NOT NULL CHECK (kind IN ('error_rate', 'latency_spike', 'budget_exhausted', 'auth_failures')),
        subject     TEXT NOT NULL,
        state       TEXT NOT NULL CHECK (state IN ('open', 'resolved')),
        opened_ms   INTEGER NOT NULL,
        updated_ms  INTEGER NOT NULL,
        resolved_ms INTEGER,
        why         TEXT NOT NULL
    );
    CREATE UNIQUE INDEX alerts_one_open ON alerts (kind, subject) WHERE state = 'open';
    CREATE INDEX alerts_opened ON alerts (opened_ms);
    CREATE INDEX history_status ON history (status, time_ms);
    ",
    // 3: OAuth connections (metadata only: tokens and the account's login or
    // email live in the OS keychain) and leases.
    "
    CREATE TABLE connections (
        provider     TEXT PRIMARY KEY,
        client_id    TEXT NOT NULL,
        scopes       TEXT NOT NULL,
        expires_ms   INTEGER,
        refreshable  INTEGER NOT NULL,
        state        TEXT NOT NULL CHECK (state IN ('connected', 'needs_reconnect')),
        state_reason TEXT,
        secret_store TEXT NOT NULL,
        secret_key   TEXT NOT NULL,
        generation   INTEGER NOT NULL,
        connected_ms INTEGER NOT NULL,
        refreshed_ms INTEGER
    );
    CREATE TABLE leases (
        name       TEXT PRIMARY KEY,
        holder     TEXT NOT NULL,
        expires_ms INTEGER NOT NULL
    );
    ",
];

/// The schema version this build writes.
pub const LATEST: i64 = MIGRATIONS.len() as i64;

/// Brings the database to `LATEST`. Several processes may start at once: the
/// version is read and each step applied inside `BEGIN IMMEDIATE`, so exactly
/// one of them applies it.
pub fn run(store: &Store) -> Result<(), StoreError> {
    // The common case needs no write lock, so a busy database doesn't stop start-up.
    let current: i64 = store.with(|c| c.query_row("PRAGMA user_version", [], |r| r.get(0)))?;
    if current == LATEST {
        return Ok(());
    }
    loop {
        let applied = store.immediate(|tx| {
            let version: i64 = tx
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .map_err(|e| StoreError::from_sqlite(e, store.0.busy_wait))?;
            if version > LATEST {
                return Err(StoreError::TooNew {
                    found: version,
                    known: LATEST,
                });
            }
            let Some(sql) = MIGRATIONS.get(version as usize) else {
                return Ok(false);
            };
            tx.execute_batch(sql)
                .and_then(|()| tx.pragma_update(None, "user_version", version + 1))
                .map_err(|e| StoreError::from_sqlite(e, store.0.busy_wait))?;
            Ok(true)
        })?;
        if !applied {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::temp_store;

    #[test]
    fn a_new_database_gets_the_latest_schema_and_reopening_changes_nothing() {
        let t = temp_store();
        let v: i64 = t
            .store
            .with(|c| c.query_row("PRAGMA user_version", [], |r| r.get(0)))
            .unwrap();
        assert_eq!(v, LATEST);
        let again = Store::open(t.store.path()).unwrap();
        run(&again).unwrap();
    }

    #[test]
    fn a_database_from_a_newer_build_is_refused() {
        let t = temp_store();
        t.store
            .with(|c| c.pragma_update(None, "user_version", LATEST + 1))
            .unwrap();
        assert!(matches!(
            Store::open(t.store.path()),
            Err(StoreError::TooNew { .. })
        ));
    }

    #[test]
    fn a_file_that_is_not_a_database_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gatehouse.db");
        std::fs::write(&path, vec![0x42u8; 4096]).unwrap();
        let err = Store::open(&path).unwrap_err().to_string();
        assert!(
            err.contains("not a database") || err.contains("damaged"),
            "{err}"
        );
    }
}
