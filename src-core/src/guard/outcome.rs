//! What a guarded call came to. Every stage that stops a call says why with a
//! `Refusal`; a stage that can't decide (database locked, keychain gone)
//! refuses too: `From<StoreError> for Refusal` is how the chain fails closed.

use rmcp::model::CallToolResult;

use crate::budget::NotUntil;
use crate::store::{CallStatus, StoreError};
use crate::upstream::UpstreamError;

/// Why identity or policy said no. `retryable: false` in every case: retrying
/// won't help until the user changes something.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DenyReason {
    /// `GATEHOUSE_TOKEN` matches no agent (wrong, old or rotated token).
    BadToken,
    /// The user denied this agent.
    AgentDenied {
        /// The agent.
        agent: String,
    },
    /// The user revoked this agent.
    AgentRevoked {
        /// The agent.
        agent: String,
    },
    /// A tokenless client used the name of a token agent.
    TokenRequired {
        /// The name it claimed.
        agent: String,
    },
    /// The user paused all agents (`gatehouse pause`, or the tray).
    Paused {
        /// The agent, when it was known.
        agent: Option<String>,
    },
    /// Policy forbids this agent this tool.
    ToolForbidden {
        /// The agent.
        agent: String,
        /// The tool.
        tool: String,
    },
    /// The account behind a built-in tool is not connected (any more).
    NotConnected {
        /// `github` or `google`.
        provider: String,
    },
    /// The provider rejected the refresh token: the user must connect again.
    ReconnectRequired {
        /// `github` or `google`.
        provider: String,
        /// Why (an OAuth error or a sentence; no secret).
        why: String,
    },
}

impl DenyReason {
    /// The `reason` field of the `denied` result.
    pub fn code(&self) -> &'static str {
        match self {
            DenyReason::BadToken => "bad_token",
            DenyReason::AgentDenied { .. } => "agent_denied",
            DenyReason::AgentRevoked { .. } => "agent_revoked",
            DenyReason::TokenRequired { .. } => "token_required",
            DenyReason::Paused { .. } => "paused",
            DenyReason::ToolForbidden { .. } => "tool_forbidden",
            DenyReason::NotConnected { .. } => "not_connected",
            DenyReason::ReconnectRequired { .. } => "reconnect_required",
        }
    }

    /// One plain sentence for the model (and the user reading over its shoulder).
    pub fn sentence(&self) -> String {
        match self {
            DenyReason::BadToken => "Gatehouse refused the call: GATEHOUSE_TOKEN matches no agent (it may have been rotated or mistyped). Ask the user to run `gatehouse agents rotate NAME` and update the client's config.".into(),
            DenyReason::AgentDenied { agent } => format!("Gatehouse refused the call: the user denied agent \"{agent}\". Ask the user to approve it with `gatehouse agents approve {agent}` if that was a mistake."),
            DenyReason::AgentRevoked { agent } => format!("Gatehouse refused the call: agent \"{agent}\" was revoked. The user can issue a new token with `gatehouse agents rotate {agent}`."),
            DenyReason::TokenRequired { agent } => format!("Gatehouse refused the call: \"{agent}\" is a token agent, and this client sent no GATEHOUSE_TOKEN. Add the agent's token to the client's config."),
            DenyReason::Paused { .. } => "Gatehouse refused the call: the user paused all agents in Gatehouse. Nothing will go through until the user resumes them (\"Resume all agents\" in the Gatehouse tray menu, or `gatehouse resume`); tell the user, and don't retry until then.".into(),
            DenyReason::ToolForbidden { agent, tool } => format!("Gatehouse refused the call: agent \"{agent}\" may not call {tool}. Use another tool, or ask the user to allow it."),
            DenyReason::NotConnected { provider } => format!("Gatehouse refused the call: the user's {provider} account is not connected. Ask the user to run `gatehouse connect {provider}`."),
            DenyReason::ReconnectRequired { provider, why } => format!("Gatehouse refused the call: the user's {provider} connection must be renewed ({why}). Do not retry; ask the user to run `gatehouse connect {provider}`."),
        }
    }
}

/// A guard stage stopped the call.
#[derive(Debug)]
pub enum Refusal {
    /// A budget is empty.
    RateLimited(NotUntil),
    /// The agent waits for the user's approval.
    ApprovalPending {
        /// The agent.
        agent: String,
        /// Suggested wait before retrying.
        retry_after_ms: i64,
    },
    /// Identity or policy said no.
    Denied(DenyReason),
    /// A stage could not decide, so the call is refused (fail closed).
    Unavailable(String),
    /// The OS keychain holding the account's tokens is locked or can't be
    /// reached. Transient (an unlock prompt, a session starting), so
    /// retryable, unlike a denial. Holds what the keychain said (no secret).
    KeychainUnavailable(String),
}

impl From<StoreError> for Refusal {
    fn from(e: StoreError) -> Self {
        Refusal::Unavailable(e.to_string())
    }
}

/// How a call ended.
#[derive(Debug)]
pub enum Outcome {
    /// The tool ran; its own `isError` says whether it succeeded.
    Done(CallToolResult),
    /// A guard stage refused it.
    Refused(Refusal),
    /// The upstream failed.
    UpstreamFailed(UpstreamError),
    /// No tool by that name (a JSON-RPC `-32602`, as the MCP spec asks).
    UnknownTool,
    /// The arguments don't fit the tool (a JSON-RPC `-32602`).
    BadParams(String),
}

impl Outcome {
    /// The history/log status.
    pub fn status(&self) -> CallStatus {
        match self {
            Outcome::Done(r) if r.is_error == Some(true) => CallStatus::BusinessError,
            Outcome::Done(_) => CallStatus::Ok,
            Outcome::Refused(Refusal::RateLimited(_)) => CallStatus::RateLimited,
            Outcome::Refused(Refusal::ApprovalPending { .. }) => CallStatus::ApprovalPending,
            Outcome::Refused(Refusal::Denied(_)) => CallStatus::Denied,
            Outcome::Refused(Refusal::Unavailable(_) | Refusal::KeychainUnavailable(_)) => {
                CallStatus::SystemError
            }
            Outcome::UpstreamFailed(e) if e.is_callers_fault() => CallStatus::BusinessError,
            Outcome::UpstreamFailed(_) => CallStatus::SystemError,
            Outcome::UnknownTool | Outcome::BadParams(_) => CallStatus::BusinessError,
        }
    }

    /// The span's `error.type`: `tool_error` when the tool itself reported an
    /// error (as the MCP semantic conventions say), the JSON-RPC code for
    /// protocol errors, else the error contract's code; none on success.
    pub fn error_type(&self) -> Option<&'static str> {
        match self {
            Outcome::Done(r) if r.is_error == Some(true) => Some("tool_error"),
            Outcome::Done(_) => None,
            Outcome::UnknownTool | Outcome::BadParams(_) => Some("-32602"),
            other => other.code(),
        }
    }

    /// For `rate_limited`: the scope of the budget that refused the call, as
    /// history records it for the alert rules.
    pub fn refusal_scope(&self) -> Option<&'static str> {
        match self {
            Outcome::Refused(Refusal::RateLimited(n)) => Some(n.limit.key.scope.name()),
            _ => None,
        }
    }

    /// For `denied`: the reason code, as history records it for the alert rules.
    pub fn deny_reason(&self) -> Option<&'static str> {
        match self {
            Outcome::Refused(Refusal::Denied(reason)) => Some(reason.code()),
            _ => None,
        }
    }

    /// The error contract's `code` (none for a success or a tool's own error).
    pub fn code(&self) -> Option<&'static str> {
        match self {
            Outcome::Done(_) => None,
            Outcome::Refused(Refusal::RateLimited(_)) => Some("rate_limited"),
            Outcome::Refused(Refusal::ApprovalPending { .. }) => Some("approval_pending"),
            Outcome::Refused(Refusal::Denied(_)) => Some("denied"),
            Outcome::Refused(Refusal::Unavailable(_) | Refusal::KeychainUnavailable(_)) => {
                Some("system_error")
            }
            Outcome::UpstreamFailed(UpstreamError::Cancelled) => Some("cancelled"),
            Outcome::UpstreamFailed(_) => Some("upstream_error"),
            Outcome::UnknownTool => Some("unknown_tool"),
            Outcome::BadParams(_) => Some("invalid_params"),
        }
    }
}
