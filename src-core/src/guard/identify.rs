//! Stage 1, identify: the agent of this call. A token finds its agent by
//! hash; a tokenless client is named by `clientInfo.name` (else the parent
//! executable) and starts as a pending agent whose calls wait, bounded, for
//! the user's approval. Unknown tokens, denied and revoked agents stop here.
//! Every call re-reads the store, so approve, deny, revoke and rotate take
//! effect at once in every running process.

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
    /// status the caller may hold, creating a pending row for a new tokenless client.
    pub async fn lookup(&self, caller: &Caller) -> Result<AgentRow, Refusal> {
        let store = self.store.clone();
        let now = self.clock.now();
        let row = match &caller.token {
            Some(t) => {
                let hash = token::hash(t);
                blocking(move || store.agent_by_token_hash(&hash))
                    .await?
                    .ok_or(Refusal::Denied(DenyReason::BadToken))?
            }
            None => {
                let name = client_name(caller);
                let exe = caller.parent_exe.clone();
                let row =
                    blocking(move || store.ensure_pending(&name, exe.as_deref(), now)).await?;
                if row.verified {
                    return Err(Refusal::Denied(DenyReason::TokenRequired {
                        agent: row.name,
                    }));
                }
                row
            }
        };
        if row.last_seen.is_none_or(|t| now.0 - t.0 >= TOUCH_EVERY_MS) {
            let store = self.store.clone();
            let (id, exe) = (row.id.clone(), caller.parent_exe.clone());
            blocking(move || store.touch_agent(&id, exe.as_deref(), now)).await?;
        }
        Ok(row)
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
        let row = self.lookup(caller).await?;
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
            let row = blocking(move || store.agent_by_name(&n)).await?;
            // Deleted while waiting: treat as not approved.
            let Some(row) = row else { break };
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
