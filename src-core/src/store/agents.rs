//! Agent rows: identity, approval state, the hash of a token agent's token,
//! and the tool policy set from the CLI or the tray.

use rusqlite::types::ValueRef;
use rusqlite::{OptionalExtension, Row, params};

use super::meta::PAUSED_KEY;
use super::{Store, StoreError};
use crate::clock::UnixMillis;

/// Where an agent stands with the user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AgentStatus {
    /// Seen but not yet approved; its calls wait, then get `approval_pending`.
    Pending,
    /// May call tools (subject to policy and budgets).
    Approved,
    /// The user said no.
    Denied,
    /// Was approved, then revoked; its token no longer works.
    Revoked,
}

impl AgentStatus {
    /// `pending`, `approved`, `denied` or `revoked`.
    pub fn name(self) -> &'static str {
        match self {
            AgentStatus::Pending => "pending",
            AgentStatus::Approved => "approved",
            AgentStatus::Denied => "denied",
            AgentStatus::Revoked => "revoked",
        }
    }

    fn parse(s: &str) -> AgentStatus {
        match s {
            "approved" => AgentStatus::Approved,
            "denied" => AgentStatus::Denied,
            "revoked" => AgentStatus::Revoked,
            // Anything unexpected is treated as not approved (fail closed).
            _ => AgentStatus::Pending,
        }
    }
}

/// One agent as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentRow {
    /// Stable id (random, hex).
    pub id: String,
    /// Unique name.
    pub name: String,
    /// Approval state.
    pub status: AgentStatus,
    /// Whether it proves itself with a token (`false`: identified by its client name).
    pub verified: bool,
    /// The executable of the process that launched `serve` for it, last seen.
    pub parent_exe: Option<String>,
    /// Tool patterns allowed from the CLI/tray (empty: all).
    pub allow_tools: StoredList,
    /// Tool patterns denied from the CLI/tray.
    pub deny_tools: StoredList,
    /// When it was created.
    pub created: UnixMillis,
    /// When it last made a request.
    pub last_seen: Option<UnixMillis>,
}

/// One of an agent's tool lists as read from the database. The policy
/// stage parses the patterns; a list it can't read refuses every call of
/// the agent (fail closed), never counts as empty (which would allow all).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoredList {
    /// The patterns, as stored.
    Patterns(Vec<String>),
    /// The stored text is no JSON list of strings (a damaged row, or one
    /// another program wrote).
    Unreadable,
}

impl StoredList {
    /// The patterns; none when the list can't be read.
    pub fn patterns(&self) -> &[String] {
        match self {
            StoredList::Patterns(p) => p,
            StoredList::Unreadable => &[],
        }
    }

    /// The list in a column: a JSON list of strings, or unreadable (any
    /// other text, or no text at all).
    fn read(v: ValueRef<'_>) -> Self {
        match v {
            ValueRef::Text(t) => serde_json::from_slice::<Vec<String>>(t)
                .map_or(StoredList::Unreadable, StoredList::Patterns),
            _ => StoredList::Unreadable,
        }
    }
}

const COLUMNS: &str =
    "id, name, status, verified, parent_exe, allow_tools, deny_tools, created_ms, last_seen_ms";

fn from_row(r: &Row<'_>) -> rusqlite::Result<AgentRow> {
    from_row_at(r, 0)
}

/// The agent in `COLUMNS` starting at column `at`.
fn from_row_at(r: &Row<'_>, at: usize) -> rusqlite::Result<AgentRow> {
    Ok(AgentRow {
        id: r.get(at)?,
        name: r.get(at + 1)?,
        status: AgentStatus::parse(&r.get::<_, String>(at + 2)?),
        verified: r.get(at + 3)?,
        parent_exe: r.get(at + 4)?,
        allow_tools: StoredList::read(r.get_ref(at + 5)?),
        deny_tools: StoredList::read(r.get_ref(at + 6)?),
        created: UnixMillis(r.get(at + 7)?),
        last_seen: r.get::<_, Option<i64>>(at + 8)?.map(UnixMillis),
    })
}

/// What identify reads on every call, in one statement for a known agent:
/// the caller's agent (if any) and whether the user paused all agents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lookup {
    /// Since when all agents are paused (`gatehouse pause`, the tray); `None`: not paused.
    pub paused_since: Option<UnixMillis>,
    /// The agent found, if any.
    pub agent: Option<AgentRow>,
}

/// The pause flag from `meta` (a scalar subquery: a primary-key read) and the
/// agent's columns, in one statement. (A `LEFT JOIN` that also answers when no
/// agent matches costs 5 times as much; an unknown caller is rare and reads
/// the flag on its own.)
fn lookup_sql(column: &str) -> String {
    format!(
        "SELECT (SELECT value FROM meta WHERE key = '{PAUSED_KEY}'), {COLUMNS} FROM agents WHERE {column} = ?1"
    )
}

fn paused_value(v: Option<String>) -> Option<UnixMillis> {
    v.map(|v| UnixMillis(v.parse().unwrap_or(0)))
}

/// `lookup_sql(column)` for `key`; the flag alone when no agent matches.
fn lookup(c: &rusqlite::Connection, column: &str, key: &str) -> rusqlite::Result<Lookup> {
    let found = c
        .prepare_cached(&lookup_sql(column))?
        .query_row([key], |r| {
            Ok(Lookup {
                paused_since: paused_value(r.get(0)?),
                agent: Some(from_row_at(r, 1)?),
            })
        })
        .optional()?;
    match found {
        Some(l) => Ok(l),
        None => Ok(Lookup {
            paused_since: paused_value(
                c.prepare_cached("SELECT value FROM meta WHERE key = ?1")?
                    .query_row([PAUSED_KEY], |r| r.get(0))
                    .optional()?,
            ),
            agent: None,
        }),
    }
}

/// A new agent to insert.
pub struct NewAgent<'a> {
    /// Its name.
    pub name: &'a str,
    /// Initial status.
    pub status: AgentStatus,
    /// SHA-256 of its token, hex, for token agents.
    pub token_hash: Option<&'a str>,
    /// The launching executable, for tokenless agents.
    pub parent_exe: Option<&'a str>,
}

/// A new random agent id (16 hex digits).
fn new_id() -> Result<String, StoreError> {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b)
        .map_err(|e| StoreError::Other(format!("no randomness for an agent id: {e}")))?;
    Ok(hex::encode(b))
}

impl Store {
    /// The agent whose token hashes to `token_hash`.
    pub fn agent_by_token_hash(&self, token_hash: &str) -> Result<Option<AgentRow>, StoreError> {
        self.with(|c| {
            c.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM agents WHERE token_hash = ?1"
            ))?
            .query_row([token_hash], from_row)
            .optional()
        })
    }

    /// The agent whose token hashes to `token_hash`, and the pause flag, in one read.
    pub fn lookup_by_token_hash(&self, token_hash: &str) -> Result<Lookup, StoreError> {
        self.with(|c| lookup(c, "token_hash", token_hash))
    }

    /// The agent named `name`, and the pause flag, in one read.
    pub fn lookup_by_name(&self, name: &str) -> Result<Lookup, StoreError> {
        self.with(|c| lookup(c, "name", name))
    }

    /// The agent named `name`.
    pub fn agent_by_name(&self, name: &str) -> Result<Option<AgentRow>, StoreError> {
        self.with(|c| {
            c.prepare_cached(&format!("SELECT {COLUMNS} FROM agents WHERE name = ?1"))?
                .query_row([name], from_row)
                .optional()
        })
    }

    /// Every agent, by name.
    pub fn list_agents(&self) -> Result<Vec<AgentRow>, StoreError> {
        self.with(|c| {
            c.prepare(&format!("SELECT {COLUMNS} FROM agents ORDER BY name"))?
                .query_map([], from_row)?
                .collect()
        })
    }

    /// Inserts a new agent; its name must be free.
    pub fn insert_agent(&self, a: &NewAgent<'_>, now: UnixMillis) -> Result<AgentRow, StoreError> {
        let id = new_id()?;
        self.immediate(|tx| {
            let taken: bool = tx
                .query_row("SELECT count(*) FROM agents WHERE name = ?1", [a.name], |r| {
                    r.get::<_, i64>(0)
                })
                .map(|n| n > 0)
                .map_err(|e| StoreError::from_sqlite(e, self.0.busy_wait))?;
            if taken {
                return Err(StoreError::AgentExists(a.name.to_string()));
            }
            tx.execute(
                "INSERT INTO agents (id, name, status, verified, token_hash, parent_exe, created_ms, updated_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
                params![id, a.name, a.status.name(), a.token_hash.is_some(), a.token_hash, a.parent_exe, now.0],
            )
            .map_err(|e| StoreError::from_sqlite(e, self.0.busy_wait))?;
            Ok(())
        })?;
        self.agent_by_name(a.name)?
            .ok_or_else(|| StoreError::NoSuchAgent(a.name.to_string()))
    }

    /// The tokenless agent `name`, created as pending if it is new. Exactly one
    /// row results even when several processes see the same new client at once.
    /// A known agent costs one read, no write.
    pub fn ensure_pending(
        &self,
        name: &str,
        parent_exe: Option<&str>,
        now: UnixMillis,
    ) -> Result<AgentRow, StoreError> {
        if let Some(row) = self.agent_by_name(name)? {
            return Ok(row);
        }
        let id = new_id()?;
        self.with(|c| {
            c.prepare_cached(
                "INSERT INTO agents (id, name, status, verified, parent_exe, created_ms, updated_ms)
                 VALUES (?1, ?2, 'pending', 0, ?3, ?4, ?4) ON CONFLICT(name) DO NOTHING",
            )?
            .execute(params![id, name, parent_exe, now.0])
        })?;
        self.agent_by_name(name)?
            .ok_or_else(|| StoreError::NoSuchAgent(name.to_string()))
    }

    /// Sets an agent's status.
    pub fn set_agent_status(
        &self,
        name: &str,
        status: AgentStatus,
        now: UnixMillis,
    ) -> Result<AgentRow, StoreError> {
        let n = self.with(|c| {
            c.execute(
                "UPDATE agents SET status = ?2, updated_ms = ?3 WHERE name = ?1",
                params![name, status.name(), now.0],
            )
        })?;
        if n == 0 {
            return Err(StoreError::NoSuchAgent(name.to_string()));
        }
        self.agent_by_name(name)?
            .ok_or_else(|| StoreError::NoSuchAgent(name.to_string()))
    }

    /// Replaces a token agent's token hash (the old token stops working at once).
    pub fn set_token_hash(
        &self,
        name: &str,
        token_hash: &str,
        now: UnixMillis,
    ) -> Result<(), StoreError> {
        let n = self.with(|c| {
            c.execute(
                "UPDATE agents SET token_hash = ?2, verified = 1, updated_ms = ?3 WHERE name = ?1",
                params![name, token_hash, now.0],
            )
        })?;
        if n == 0 {
            return Err(StoreError::NoSuchAgent(name.to_string()));
        }
        Ok(())
    }

    /// Sets an agent's allow and/or deny tool patterns; a `None` list is
    /// kept as it is. One statement, so a concurrent change of the other
    /// list is never overwritten with what this process read before.
    pub fn set_agent_tools(
        &self,
        name: &str,
        allow: Option<&[String]>,
        deny: Option<&[String]>,
        now: UnixMillis,
    ) -> Result<AgentRow, StoreError> {
        let json = |v: Option<&[String]>| {
            v.map(|v| serde_json::to_string(v).unwrap_or_else(|_| "[]".into()))
        };
        let n = self.with(|c| {
            c.execute(
                "UPDATE agents SET allow_tools = coalesce(?2, allow_tools),
                     deny_tools = coalesce(?3, deny_tools), updated_ms = ?4 WHERE name = ?1",
                params![name, json(allow), json(deny), now.0],
            )
        })?;
        if n == 0 {
            return Err(StoreError::NoSuchAgent(name.to_string()));
        }
        self.agent_by_name(name)?
            .ok_or_else(|| StoreError::NoSuchAgent(name.to_string()))
    }

    /// Records that an agent made a request (and from which executable).
    pub fn touch_agent(
        &self,
        id: &str,
        parent_exe: Option<&str>,
        now: UnixMillis,
    ) -> Result<(), StoreError> {
        self.with(|c| {
            c.prepare_cached(
                "UPDATE agents SET last_seen_ms = ?2, parent_exe = coalesce(?3, parent_exe) WHERE id = ?1",
            )?
            .execute(params![id, now.0, parent_exe])
        })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::temp_store;

    #[test]
    fn pending_agents_are_created_once_and_keep_their_status() {
        let t = temp_store();
        let a = t
            .store
            .ensure_pending("cursor", Some("/usr/bin/cursor"), UnixMillis(1))
            .unwrap();
        assert_eq!(a.status, AgentStatus::Pending);
        assert!(!a.verified);
        t.store
            .set_agent_status("cursor", AgentStatus::Approved, UnixMillis(2))
            .unwrap();
        let b = t
            .store
            .ensure_pending("cursor", None, UnixMillis(3))
            .unwrap();
        assert_eq!(b.id, a.id);
        assert_eq!(b.status, AgentStatus::Approved);
    }

    #[test]
    fn token_agents_are_found_by_hash_and_names_are_unique() {
        let t = temp_store();
        let new = NewAgent {
            name: "claude",
            status: AgentStatus::Approved,
            token_hash: Some("abc"),
            parent_exe: None,
        };
        let a = t.store.insert_agent(&new, UnixMillis(5)).unwrap();
        assert!(a.verified);
        assert_eq!(
            t.store.agent_by_token_hash("abc").unwrap().unwrap().name,
            "claude"
        );
        assert!(t.store.agent_by_token_hash("abd").unwrap().is_none());
        assert!(matches!(
            t.store.insert_agent(&new, UnixMillis(6)),
            Err(StoreError::AgentExists(_))
        ));
    }

    #[test]
    fn unknown_agents_are_a_clear_error() {
        let t = temp_store();
        assert!(matches!(
            t.store
                .set_agent_status("nobody", AgentStatus::Approved, UnixMillis(1)),
            Err(StoreError::NoSuchAgent(_))
        ));
    }
}
