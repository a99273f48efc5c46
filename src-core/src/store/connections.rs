//! Connection rows: one per OAuth provider the user connected. Metadata
//! only (scopes, expiry, whether it needs reconnecting, and where in the
//! keychain its tokens are); the tokens and the account's login or email
//! (personal data) live in the keychain entry and never touch the
//! database. `generation` counts refreshes, so processes can tell a token
//! another process refreshed from the one they hold.

use rusqlite::{OptionalExtension, Row, params};

use super::{Store, StoreError};
use crate::clock::UnixMillis;

/// Whether a connection can be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectionState {
    /// Tokens are in the keychain and (as far as we know) valid.
    Connected,
    /// The provider rejected the refresh token (or the tokens are gone): the
    /// user must run `gatehouse connect` again.
    NeedsReconnect,
}

impl ConnectionState {
    /// `connected` or `needs_reconnect`.
    pub fn name(self) -> &'static str {
        match self {
            ConnectionState::Connected => "connected",
            ConnectionState::NeedsReconnect => "needs_reconnect",
        }
    }
}

/// One connection as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionRow {
    /// `github` or `google`.
    pub provider: String,
    /// The OAuth client the tokens were issued to (refreshes must use it).
    pub client_id: String,
    /// The scopes granted.
    pub scopes: Vec<String>,
    /// When the access token expires; `None`: it does not.
    pub expires: Option<UnixMillis>,
    /// Whether a refresh token is held.
    pub refreshable: bool,
    /// Usable, or waiting for the user to reconnect.
    pub state: ConnectionState,
    /// Why it needs reconnecting (no secret in it).
    pub state_reason: Option<String>,
    /// Which keychain holds the tokens (`secret-service`, `keyutils`, ...).
    pub secret_store: String,
    /// The name of the keychain entry.
    pub secret_key: String,
    /// Bumped at every refresh.
    pub generation: i64,
    /// When the user connected.
    pub connected: UnixMillis,
    /// When the tokens were last refreshed.
    pub refreshed: Option<UnixMillis>,
}

const COLUMNS: &str = "provider, client_id, scopes, expires_ms, refreshable, state, \
     state_reason, secret_store, secret_key, generation, connected_ms, refreshed_ms";

fn from_row(r: &Row<'_>) -> rusqlite::Result<ConnectionRow> {
    let scopes: String = r.get(2)?;
    Ok(ConnectionRow {
        provider: r.get(0)?,
        client_id: r.get(1)?,
        scopes: scopes.split_whitespace().map(str::to_string).collect(),
        expires: r.get::<_, Option<i64>>(3)?.map(UnixMillis),
        refreshable: r.get(4)?,
        // Anything unexpected is treated as unusable (fail closed).
        state: match r.get::<_, String>(5)?.as_str() {
            "connected" => ConnectionState::Connected,
            _ => ConnectionState::NeedsReconnect,
        },
        state_reason: r.get(6)?,
        secret_store: r.get(7)?,
        secret_key: r.get(8)?,
        generation: r.get(9)?,
        connected: UnixMillis(r.get(10)?),
        refreshed: r.get::<_, Option<i64>>(11)?.map(UnixMillis),
    })
}

impl Store {
    /// The connection to `provider`, if any.
    pub fn connection(&self, provider: &str) -> Result<Option<ConnectionRow>, StoreError> {
        self.with(|c| {
            c.query_row(
                &format!("SELECT {COLUMNS} FROM connections WHERE provider = ?1"),
                [provider],
                from_row,
            )
            .optional()
        })
    }

    /// Every connection, by provider.
    pub fn connections(&self) -> Result<Vec<ConnectionRow>, StoreError> {
        self.with(|c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {COLUMNS} FROM connections ORDER BY provider"
            ))?;
            stmt.query_map([], from_row)?.collect()
        })
    }

    /// Inserts or replaces the connection to `row.provider`; returns the row it replaced.
    pub fn save_connection(
        &self,
        row: &ConnectionRow,
    ) -> Result<Option<ConnectionRow>, StoreError> {
        let busy = self.0.busy_wait;
        self.immediate(|tx| {
            let map = |e| StoreError::from_sqlite(e, busy);
            let old = tx
                .query_row(
                    &format!("SELECT {COLUMNS} FROM connections WHERE provider = ?1"),
                    [&row.provider],
                    from_row,
                )
                .optional()
                .map_err(map)?;
            tx.execute(
                &format!(
                    "INSERT OR REPLACE INTO connections ({COLUMNS})
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
                ),
                params![
                    row.provider,
                    row.client_id,
                    row.scopes.join(" "),
                    row.expires.map(|t| t.0),
                    row.refreshable,
                    row.state.name(),
                    row.state_reason,
                    row.secret_store,
                    row.secret_key,
                    row.generation,
                    row.connected.0,
                    row.refreshed.map(|t| t.0),
                ],
            )
            .map_err(map)?;
            Ok(old)
        })
    }

    /// Records a refresh of `provider`'s tokens made from `generation`; false
    /// (and nothing written) when the row moved on meanwhile.
    pub fn record_refresh(
        &self,
        provider: &str,
        generation: i64,
        expires: Option<UnixMillis>,
        scopes: &[String],
        refreshable: bool,
        now: UnixMillis,
    ) -> Result<bool, StoreError> {
        self.with(|c| {
            let n = c.execute(
                "UPDATE connections SET generation = generation + 1, expires_ms = ?3,
                     scopes = ?4, refreshable = ?5, refreshed_ms = ?6
                 WHERE provider = ?1 AND generation = ?2",
                params![
                    provider,
                    generation,
                    expires.map(|t| t.0),
                    scopes.join(" "),
                    refreshable,
                    now.0
                ],
            )?;
            Ok(n == 1)
        })
    }

    /// Marks `provider` (at `generation`) as needing reconnection, saying why.
    pub fn mark_needs_reconnect(
        &self,
        provider: &str,
        generation: i64,
        reason: &str,
    ) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                "UPDATE connections SET state = 'needs_reconnect', state_reason = ?3,
                     generation = generation + 1
                 WHERE provider = ?1 AND generation = ?2",
                params![provider, generation, reason],
            )
            .map(|_| ())
        })
    }

    /// Deletes the connection to `provider`; returns it.
    pub fn delete_connection(&self, provider: &str) -> Result<Option<ConnectionRow>, StoreError> {
        let busy = self.0.busy_wait;
        self.immediate(|tx| {
            let map = |e| StoreError::from_sqlite(e, busy);
            let old = tx
                .query_row(
                    &format!("SELECT {COLUMNS} FROM connections WHERE provider = ?1"),
                    [provider],
                    from_row,
                )
                .optional()
                .map_err(map)?;
            tx.execute("DELETE FROM connections WHERE provider = ?1", [provider])
                .map_err(map)?;
            Ok(old)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::temp_store;

    fn row(generation: i64) -> ConnectionRow {
        ConnectionRow {
            provider: "github".into(),
            client_id: "cid".into(),
            scopes: vec!["repo".into(), "notifications".into()],
            expires: Some(UnixMillis(5_000)),
            refreshable: true,
            state: ConnectionState::Connected,
            state_reason: None,
            secret_store: "mock".into(),
            secret_key: "github/k1".into(),
            generation,
            connected: UnixMillis(1_000),
            refreshed: None,
        }
    }

    #[test]
    fn a_connection_round_trips_and_a_reconnect_returns_the_old_row() {
        let t = temp_store();
        assert_eq!(t.store.save_connection(&row(0)).unwrap(), None);
        assert_eq!(t.store.connection("github").unwrap(), Some(row(0)));
        let mut again = row(0);
        again.secret_key = "github/k2".into();
        assert_eq!(t.store.save_connection(&again).unwrap(), Some(row(0)));
        assert_eq!(t.store.connections().unwrap(), vec![again]);
    }

    #[test]
    fn a_refresh_applies_once_per_generation() {
        let t = temp_store();
        t.store.save_connection(&row(3)).unwrap();
        let scopes = vec!["repo".to_string()];
        let exp = Some(UnixMillis(9_000));
        assert!(
            t.store
                .record_refresh("github", 3, exp, &scopes, true, UnixMillis(7))
                .unwrap()
        );
        assert!(
            !t.store
                .record_refresh("github", 3, exp, &scopes, true, UnixMillis(8))
                .unwrap()
        );
        let r = t.store.connection("github").unwrap().unwrap();
        assert_eq!(
            (r.generation, r.expires, r.refreshed),
            (4, exp, Some(UnixMillis(7)))
        );
        t.store
            .mark_needs_reconnect("github", 4, "invalid_grant")
            .unwrap();
        let r = t.store.connection("github").unwrap().unwrap();
        assert_eq!(r.state, ConnectionState::NeedsReconnect);
        assert_eq!(r.state_reason.as_deref(), Some("invalid_grant"));
        assert!(t.store.delete_connection("github").unwrap().is_some());
        assert!(t.store.connection("github").unwrap().is_none());
    }
}
