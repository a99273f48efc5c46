//! `RawConfig`: a serde mirror of `config.toml` exactly as written. Every field
//! is optional and nothing is checked beyond its TOML type; unknown keys are
//! rejected so a typo can't silently leave a guardrail at its default.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// `[server]`
    pub server: Option<RawServer>,
    /// `[approval]`
    pub approval: Option<RawApproval>,
    /// `[history]`
    pub history: Option<RawHistory>,
    /// `[traces]`
    pub traces: Option<super::alerts::RawTraces>,
    /// `[alerts]`
    pub alerts: Option<super::alerts::RawAlerts>,
    /// `[limits]` and its sub-tables.
    pub limits: Option<RawLimitsSection>,
    /// `[agents."NAME"]`: per-agent tool policy.
    pub agents: Option<BTreeMap<String, RawAgentPolicy>>,
    /// `[[upstream]]`
    pub upstream: Option<Vec<RawUpstream>>,
    /// `[oauth]`: GitHub and Google clients and endpoints.
    pub oauth: Option<super::oauth::RawOAuth>,
    /// `[secrets]`: which keychain holds tokens.
    pub secrets: Option<super::oauth::RawSecrets>,
}

/// `[server]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    /// Longest JSON-RPC line accepted from a client or an upstream.
    pub max_message_bytes: Option<Spanned<u64>>,
    /// How long `tools/list` waits for upstreams that are still starting.
    pub upstream_start_seconds: Option<Spanned<u64>>,
    /// How long one upstream call may take before it fails.
    pub upstream_call_seconds: Option<Spanned<u64>>,
}

/// `[approval]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawApproval {
    /// How long a pending agent's call waits for the user.
    pub wait_seconds: Option<Spanned<u64>>,
}

/// `[history]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHistory {
    /// Days of history kept.
    pub retention_days: Option<Spanned<u64>>,
}

/// `[limits]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLimitsSection {
    /// `[limits.agent]`: each agent's own budgets.
    pub agent: Option<RawLimits>,
    /// `[limits.tool]`: each tool's budgets, shared by all agents.
    pub tool: Option<RawLimits>,
    /// `[limits.tools."T"]`: one tool's override.
    pub tools: Option<BTreeMap<String, RawLimits>>,
    /// `[limits.agents."N"]`: one agent's override and its per-tool budgets.
    pub agents: Option<BTreeMap<String, RawAgentLimits>>,
}

/// A budget table as written: `per_second`, `per_minute`, `per_hour`, `per_day`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    /// Calls per second.
    pub per_second: Option<Spanned<u64>>,
    /// Calls per minute.
    pub per_minute: Option<Spanned<u64>>,
    /// Calls per hour.
    pub per_hour: Option<Spanned<u64>>,
    /// Calls per day.
    pub per_day: Option<Spanned<u64>>,
}

/// `[limits.agents."N"]`: the agent's own budgets plus `tools."T"` tables.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAgentLimits {
    /// Calls per second.
    pub per_second: Option<Spanned<u64>>,
    /// Calls per minute.
    pub per_minute: Option<Spanned<u64>>,
    /// Calls per hour.
    pub per_hour: Option<Spanned<u64>>,
    /// Calls per day.
    pub per_day: Option<Spanned<u64>>,
    /// `[limits.agents."N".tools."T"]`: agent × tool budgets.
    pub tools: Option<BTreeMap<String, RawLimits>>,
}

impl RawAgentLimits {
    /// The agent's own budgets, as a plain budget table.
    pub fn own(&self) -> RawLimits {
        RawLimits {
            per_second: self.per_second.clone(),
            per_minute: self.per_minute.clone(),
            per_hour: self.per_hour.clone(),
            per_day: self.per_day.clone(),
        }
    }
}

/// `[agents."N"]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAgentPolicy {
    /// When non-empty, only tools matching one of these patterns (`*` wildcard).
    pub allow_tools: Option<Vec<Spanned<String>>>,
    /// Tools matching any of these patterns are refused. Deny wins over allow.
    pub deny_tools: Option<Vec<Spanned<String>>>,
}

/// `[[upstream]]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUpstream {
    /// The prefix its tools get: `<name>__<tool>`.
    pub name: Spanned<String>,
    /// The program to run.
    pub command: Spanned<String>,
    /// Its arguments.
    pub args: Option<Vec<String>>,
    /// Extra environment for it (Gatehouse's own token is never passed on).
    pub env: Option<BTreeMap<String, String>>,
    /// Its working directory.
    pub cwd: Option<String>,
}
