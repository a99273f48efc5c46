//! Stage 1, identify: the agent of this call. A token finds its agent by
//! hash; a tokenless client is named by `clientInfo.name` (else the parent
//! executable) and starts as a pending agent whose calls wait, bounded, for
//! the user's approval. Unknown tokens, denied and revoked agents stop here.
//! Every call re-reads the store, so approve, deny, revoke, rotate and
//! "pause all agents" (read in the same statement as the agent) take effect
//! at once in every running process.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::blocking;
use super::call::Caller;
use super::outcome::{DenyReason, Refusal};
use crate::agents::{AgentName, token};
use crate::clock::SharedClock;
use crate::store::{AgentRow, AgentStatus, Store};

/// How often a waiting call looks for the user's decision.
pub const APPROVAL_POLL: Duration = Duration::from_millis(200);
/// `retry_after_ms` of an `approval_pending` refusal.
pub const APPROVAL_RETRY_MS: i64 = 2_000;
/// `last_seen` is written at most this often per agent (it costs a write).
const TOUCH_EVERY_MS: i64 = 1_000;
/// The name of a tokenless client that gives no name and has no parent executable.
const NAMELESS: &str = "unnamed-client";

/// What identify needs.
pub struct Identify<'a> {
    /// The shared store.
    pub store: &'a Store,
    /// Now.
    pub clock: &'a SharedClock,
    /// How long a pending agent's call waits (`approval.wait_seconds`).
    pub wait: Duration,
}

/// The tokenless name of `caller`.
pub fn client_name(caller: &Caller) -> String {
    caller
        .client_name
        .as_deref()
        .and_then(AgentName::from_client)
        .or_else(|| {
            let exe = caller.parent_exe.as_deref()?;
            let base = std::path::Path::new(exe).file_name()?.to_str()?;
            AgentName::from_client(base)
        })
        .map_or_else(|| NAMELESS.to_string(), |n| n.to_string())
}

/// What identify read for one call.
struct Found {
    /// The caller's agent, or why it has none.
    agent: Result<AgentRow, Refusal>,
    /// Whether the user paused all agents: every call is then refused.
    paused: bool,
}

fn paused(agent: Option<String>) -> Refusal {
    Refusal::Denied(DenyReason::Paused { agent })
}

fn settled(row: AgentRow) -> Result<Option<AgentRow>, Refusal> {
    match row.status {
        AgentStatus::Approved => Ok(Some(row)),
        AgentStatus::Pending => Ok(None),
        AgentStatus::Denied => Err(Refusal::Denied(DenyReason::AgentDenied { agent: row.name })),
        AgentStatus::Revoked => Err(Refusal::Denied(DenyReason::AgentRevoked {
            agent: row.name,
        })),
    }
}

impl Identify<'_> {
    /// The agent's row as it stands now, without waiting: `Ok(row)` for any
    /// status the caller may hold, creating a pending row for a new tokenless
    /// client. Ignores a pause (`tools/list` still lists tools while paused).
    pub async fn lookup(&self, caller: &Caller) -> Result<AgentRow, Refusal> {
        self.find(caller).await?.agent
    }

    /// The caller's agent (or why it has none) and whether the user paused all
    /// agents, both from the same store read. The outer `Err`: no decision.
    async fn find(&self, caller: &Caller) -> Result<Found, Refusal> {
        let store = self.store.clone();
        let now = self.clock.now();
        let (paused, row) = match &caller.token {
            Some(t) => {
                let hash = token::hash(t);
                let found = blocking(move || store.lookup_by_token_hash(&hash)).await?;
                (found.paused_since.is_some(), found.agent)
            }
            None => {
                let name = client_name(caller);
                let exe = caller.parent_exe.clone();
                let (since, row) = blocking(move || {
                    let found = store.lookup_by_name(&name)?;
                    let row = match found.agent {
                        Some(row) => row,
                        None => store.ensure_pending(&name, exe.as_deref(), now)?,
                    };
                    Ok((found.paused_since, row))
                })
                .await?;
                (since.is_some(), Some(row))
            }
        };
        let agent = match row {
            None => Err(Refusal::Denied(DenyReason::BadToken)),
            Some(row) if caller.token.is_none() && row.verified => {
                Err(Refusal::Denied(DenyReason::TokenRequired {
                    agent: row.name,
                }))
            }
            Some(row) => Ok(row),
        };
        if let Ok(row) = &agent
            && row.last_seen.is_none_or(|t| now.0 - t.0 >= TOUCH_EVERY_MS)
        {
            let store = self.store.clone();
            let (id, exe) = (row.id.clone(), caller.parent_exe.clone());
            blocking(move || store.touch_agent(&id, exe.as_deref(), now)).await?;
        }
        Ok(Found { agent, paused })
    }

    /// The approved agent of `caller`. A pending agent's call waits up to
    /// `wait` for the user (or until the client cancels or hangs up), then is
    /// refused with `approval_pending`.
    pub async fn approved(
        &self,
        caller: &Caller,
        cancel: &CancellationToken,
        client_gone: &CancellationToken,
    ) -> Result<AgentRow, Refusal> {
        let found = self.find(caller).await?;
        if found.paused {
            return Err(paused(found.agent.ok().map(|a| a.name)));
        }
        let row = found.agent?;
        let name = row.name.clone();
        if let Some(row) = settled(row)? {
            return Ok(row);
        }
        tracing::info!(agent = %name, wait_ms = self.wait.as_millis() as u64, "call waits for the user's approval");
        let deadline = tokio::time::Instant::now() + self.wait;
        loop {
            let now = tokio::time::Instant::now();
            if now >= deadline {
                break;
            }
            tokio::select! {
                () = tokio::time::sleep(APPROVAL_POLL.min(deadline - now)) => {}
                () = cancel.cancelled() => break,
                () = client_gone.cancelled() => break,
            }
            let store = self.store.clone();
            let n = name.clone();
            let found = blocking(move || store.lookup_by_name(&n)).await?;
            if found.paused_since.is_some() {
                return Err(paused(Some(name)));
            }
            // Deleted while waiting: treat as not approved.
            let Some(row) = found.agent else { break };
            if let Some(row) = settled(row)? {
                return Ok(row);
            }
        }
        Err(Refusal::ApprovalPending {
            agent: name,
            retry_after_ms: APPROVAL_RETRY_MS,
        })
    }
}
