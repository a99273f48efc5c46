//! The one place an outcome becomes MCP. Guardrail refusals are tool results
//! with `isError: true`, one plain sentence for the model in `content`, and
//! flat machine-readable `structuredContent` (`code`, `retryable`, ...).
//! No `_ =>` arm, on purpose: a new outcome won't compile until someone
//! decides what the client sees.

use rmcp::ErrorData;
use rmcp::model::{CallToolResult, ContentBlock, ResultType};
use serde_json::{Map, Value, json};

use crate::budget::Scope;
use crate::guard::{Outcome, Refusal};
use crate::upstream::UpstreamError;

/// When to retry after a locked keychain: time for the user to answer an unlock prompt.
const KEYCHAIN_RETRY_MS: i64 = 5000;

fn refusal(code: &str, retryable: bool, sentence: String, fields: Value) -> CallToolResult {
    let mut structured = Map::new();
    structured.insert("code".into(), json!(code));
    structured.insert("retryable".into(), json!(retryable));
    if let Value::Object(more) = fields {
        structured.extend(more);
    }
    let mut result = CallToolResult::error(vec![ContentBlock::text(sentence)]);
    result.structured_content = Some(Value::Object(structured));
    result
}

fn seconds(ms: i64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else {
        format!("{:.1} s", ms as f64 / 1000.0)
    }
}

/// `outcome` as the client sees it; `tool` is the name it called.
pub fn to_mcp(outcome: Outcome, tool: &str) -> Result<CallToolResult, ErrorData> {
    Ok(match outcome {
        Outcome::Done(mut result) => {
            // Upstreams on older protocols omit `resultType`; 2026-07-28 clients
            // require it (rmcp strips it again for older clients).
            result.result_type.get_or_insert(ResultType::COMPLETE);
            result
        }
        Outcome::Refused(Refusal::RateLimited(n)) => {
            let key = &n.limit.key;
            let whose = match key.scope {
                Scope::Agent => format!("your own budget of {}", n.limit.budget),
                Scope::Tool => format!(
                    "the budget of {} for {} (shared by all agents)",
                    n.limit.budget, tool
                ),
                Scope::AgentTool => format!("your budget of {} for {}", n.limit.budget, tool),
            };
            refusal(
                "rate_limited",
                true,
                format!(
                    "Rate limited by Gatehouse: {whose} is used up; retry in {} (call gatehouse__budgets to pace yourself).",
                    seconds(n.retry_after_ms)
                ),
                json!({ "retry_after_ms": n.retry_after_ms, "scope": key.scope.name(), "budget": n.limit.budget.to_string() }),
            )
        }
        Outcome::Refused(Refusal::ApprovalPending {
            agent,
            retry_after_ms,
        }) => refusal(
            "approval_pending",
            true,
            format!(
                "Gatehouse is waiting for the user to approve agent \"{agent}\" (in the Gatehouse tray app or with `gatehouse agents approve {agent}`); retry in {}.",
                seconds(retry_after_ms)
            ),
            json!({ "retry_after_ms": retry_after_ms, "agent": agent, "approve_with": format!("gatehouse agents approve {agent}") }),
        ),
        Outcome::Refused(Refusal::Denied(reason)) => refusal(
            "denied",
            false,
            reason.sentence(),
            json!({ "reason": reason.code() }),
        ),
        Outcome::Refused(Refusal::Unavailable(why)) => refusal(
            "system_error",
            true,
            format!(
                "Gatehouse could not check this call, so it refused it: {why}. Retry shortly; if it persists, ask the user to run `gatehouse doctor`."
            ),
            json!({ "retry_after_ms": 1000, "reason": "guard_unavailable" }),
        ),
        Outcome::Refused(Refusal::KeychainUnavailable(why)) => refusal(
            "system_error",
            true,
            format!(
                "Gatehouse could not read the account's tokens from the OS keychain, so it refused the call: {why}. Ask the user to unlock the keychain (or run `gatehouse doctor`), then retry."
            ),
            json!({ "retry_after_ms": KEYCHAIN_RETRY_MS, "reason": "keychain_unavailable" }),
        ),
        Outcome::UpstreamFailed(e) => upstream_error(&e),
        Outcome::UnknownTool => {
            return Err(ErrorData::invalid_params(
                format!(
                    "Unknown tool: {}",
                    crate::telemetry::redact::truncate(tool, 100)
                ),
                None,
            ));
        }
        Outcome::BadParams(message) => return Err(ErrorData::invalid_params(message, None)),
    })
}

fn upstream_error(e: &UpstreamError) -> CallToolResult {
    let mut fields = json!({ "upstream_status": e.upstream_status() });
    if let Some(ms) = e.retry_after_ms() {
        fields["retry_after_ms"] = json!(ms);
    }
    match e {
        UpstreamError::Unavailable { upstream, .. }
        | UpstreamError::Timeout { upstream, .. }
        | UpstreamError::Closed { upstream }
        | UpstreamError::Rpc { upstream, .. }
        | UpstreamError::Http { upstream, .. } => fields["upstream"] = json!(upstream),
        UpstreamError::Cancelled => {}
    }
    if let UpstreamError::Rpc { code, .. } = e {
        fields["upstream_code"] = json!(code);
    }
    let advice = if e.retryable() { " Retry shortly." } else { "" };
    refusal(
        "upstream_error",
        e.retryable(),
        format!("{e}.{advice}"),
        fields,
    )
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;

    use super::*;
    use crate::budget::{BucketKey, Budget, Limit, NotUntil, Period};
    use crate::guard::DenyReason;

    fn structured(r: &CallToolResult) -> &Value {
        r.structured_content.as_ref().unwrap()
    }

    #[test]
    fn rate_limited_is_retryable_with_scope_budget_and_time() {
        let n = NotUntil {
            limit: Limit {
                key: BucketKey {
                    scope: Scope::Tool,
                    agent: None,
                    tool: Some("x__y".into()),
                    period: Period::Minute,
                },
                budget: Budget::new(NonZeroU32::new(5).unwrap(), Period::Minute),
            },
            retry_after_ms: 12_000,
        };
        let r = to_mcp(Outcome::Refused(Refusal::RateLimited(n)), "x__y").unwrap();
        assert_eq!(r.is_error, Some(true));
        assert_eq!(
            structured(&r),
            &json!({"code": "rate_limited", "retryable": true, "retry_after_ms": 12000, "scope": "tool", "budget": "5/minute"})
        );
    }

    #[test]
    fn denied_is_not_retryable() {
        let r = to_mcp(
            Outcome::Refused(Refusal::Denied(DenyReason::BadToken)),
            "x__y",
        )
        .unwrap();
        assert_eq!(structured(&r)["retryable"], json!(false));
        assert_eq!(structured(&r)["reason"], json!("bad_token"));
        assert_eq!(r.content.len(), 1);
    }

    #[test]
    fn a_locked_keychain_is_a_retryable_system_error() {
        let r = to_mcp(
            Outcome::Refused(Refusal::KeychainUnavailable("it is locked".into())),
            "github__x",
        )
        .unwrap();
        assert_eq!(
            structured(&r),
            &json!({"code": "system_error", "retryable": true, "retry_after_ms": 5000, "reason": "keychain_unavailable"})
        );
    }

    #[test]
    fn unknown_tools_are_invalid_params() {
        let e = to_mcp(Outcome::UnknownTool, "nope__x").unwrap_err();
        assert_eq!(e.code.0, -32602);
    }

    #[test]
    fn upstream_errors_carry_status_and_retry() {
        let e = UpstreamError::Unavailable {
            upstream: "u".into(),
            reason: "down".into(),
            retry_after_ms: Some(500),
        };
        let r = to_mcp(Outcome::UpstreamFailed(e), "u__t").unwrap();
        assert_eq!(structured(&r)["upstream_status"], json!(503));
        assert_eq!(structured(&r)["retry_after_ms"], json!(500));
        assert_eq!(structured(&r)["retryable"], json!(true));
    }
}
