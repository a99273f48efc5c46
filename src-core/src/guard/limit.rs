//! Stage 3, limit: one atomic decision over every budget that applies to
//! this agent calling this tool (agent, tool, agent × tool). Only this stage
//! makes the `Permit` that execute requires; a refusal deducts nothing.

use super::blocking;
use super::outcome::Refusal;
use crate::clock::UnixMillis;
use crate::config::LimitsConfig;
use crate::store::Store;
use crate::tools::{ToolEntry, ToolKind};

/// Proof that the limit stage let the call through. It can't be built
/// elsewhere, so no path reaches execute without passing here.
#[derive(Debug)]
pub struct Permit(());

/// Takes a token from every bucket of `agent` calling `tool`, or refuses.
/// `gatehouse__budgets` takes none: an agent can always ask what it has left.
pub async fn take(
    store: &Store,
    limits: &LimitsConfig,
    agent: &str,
    tool: &ToolEntry,
    now: UnixMillis,
) -> Result<Permit, Refusal> {
    if tool.kind == ToolKind::Budgets {
        return Ok(Permit(()));
    }
    let buckets = limits.limits_for(agent, tool.name.as_str());
    if buckets.is_empty() {
        return Ok(Permit(()));
    }
    let store = store.clone();
    match blocking(move || store.take(&buckets, now)).await? {
        Ok(()) => Ok(Permit(())),
        Err(not_until) => Err(Refusal::RateLimited(not_until)),
    }
}
