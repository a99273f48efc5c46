//! Stage 5, record: every call, allowed or refused, becomes one history row
//! and one JSON log line with the same trace id and the same redacted
//! argument summary. No raw argument and no tool result is kept.

use rmcp::model::JsonObject;

use super::blocking;
use super::call::Caller;
use super::outcome::{Outcome, Refusal};
use crate::store::{CallRecord, Store};
use crate::telemetry::Redactor;
use crate::upstream::UpstreamError;

/// Writes call records.
#[derive(Clone, Debug)]
pub struct Recorder {
    /// The shared store (history rows).
    pub store: Store,
    /// Summarises arguments and cleans messages.
    pub redactor: Redactor,
}

/// A redacted explanation of `outcome` (a call of `tool`, as the history
/// labels it), without any value the caller sent. Text an upstream or serde
/// wrote is never kept: it quotes arguments in forms (JSON-escaped, as a
/// repr) that no search for the values would find. Such a record keeps the
/// structured facts and the text's length and keyed hash; the client got
/// the whole text.
pub fn message(
    redactor: &Redactor,
    outcome: &Outcome,
    args: &JsonObject,
    tool: &str,
) -> Option<String> {
    match outcome {
        Outcome::Done(_) => None,
        Outcome::Refused(Refusal::RateLimited(n)) => Some(format!(
            "{} budget {} is empty; retry after {} ms",
            n.limit.key.scope.name(),
            n.limit.budget,
            n.retry_after_ms
        )),
        Outcome::Refused(Refusal::ApprovalPending { .. }) => {
            Some("waiting for the user's approval".into())
        }
        Outcome::Refused(Refusal::Denied(reason)) => Some(reason.code().into()),
        Outcome::Refused(Refusal::Unavailable(why) | Refusal::KeychainUnavailable(why)) => {
            // Gatehouse's own sentences (a store error, a damaged policy, the keychain).
            Some(redactor.message(why, args))
        }
        Outcome::UpstreamFailed(e) => Some(upstream_message(redactor, e, args)),
        Outcome::UnknownTool => Some("no such tool".into()),
        Outcome::BadParams(m) => Some(format!(
            "invalid arguments for {tool} ({})",
            redactor.marker(m)
        )),
    }
}

/// An upstream failure as kept: who, which code or status, what kind; the
/// upstream's (or API's) own message only as length and hash.
fn upstream_message(redactor: &Redactor, e: &UpstreamError, args: &JsonObject) -> String {
    match e {
        UpstreamError::Rpc {
            upstream,
            code,
            message,
        } => format!(
            "upstream \"{upstream}\" returned error {code} (message: {})",
            redactor.marker(message)
        ),
        UpstreamError::Http {
            upstream,
            status: 0,
            message,
            ..
        } => format!(
            "the {upstream} API gave no answer (message: {})",
            redactor.marker(message)
        ),
        UpstreamError::Http {
            upstream,
            status,
            message,
            ..
        } => format!(
            "the {upstream} API answered HTTP {status} (message: {})",
            redactor.marker(message)
        ),
        // Gatehouse's sentences; an Unavailable reason quotes an upstream
        // only as `Upstream::keep` allows (scrubbed before its first call).
        UpstreamError::Unavailable { .. }
        | UpstreamError::Timeout { .. }
        | UpstreamError::Closed { .. }
        | UpstreamError::Cancelled => redactor.message(&e.to_string(), args),
    }
}

/// Who sent a bad token, for the history message (`bad_token from client
/// "cursor"`) that names the source of auth failures.
pub fn bad_token_message(redactor: &Redactor, caller: &Caller) -> String {
    format!(
        "bad_token from client \"{}\"",
        client_label(redactor, caller)
    )
}

/// The client behind a call, as history names it (the `client` column the
/// auth-failure alert groups by): its cleaned name (else its executable's),
/// hidden like a value when it looks personal.
pub fn client_label(redactor: &Redactor, caller: &Caller) -> String {
    let name = super::identify::client_name(caller);
    let raw = caller.client_name.as_deref().unwrap_or_default();
    if crate::telemetry::pii::has_pii(&name) || crate::telemetry::pii::has_pii(raw) {
        format!(
            "<client:{} #{}>",
            name.chars().count(),
            redactor.hash(&name)
        )
    } else {
        name
    }
}

impl Recorder {
    /// Writes `record` to the history and the log. A history that can't be
    /// written is logged as an error: the log line still has the call.
    pub async fn write(&self, record: CallRecord) {
        tracing::info!(
            target: "gatehouse::call",
            time = %record.time,
            trace_id = %record.trace_id,
            request_id = record.request_id.as_deref(),
            agent = record.agent.as_deref(),
            verified = record.verified,
            tool = %record.tool,
            args = %record.args,
            latency_ms = record.latency_us as f64 / 1000.0,
            status = record.status.name(),
            code = record.code.as_deref(),
            message = record.message.as_deref(),
            "call"
        );
        let store = self.store.clone();
        let trace_id = record.trace_id.clone();
        if let Err(e) = blocking(move || store.insert_call(&record)).await {
            tracing::error!(trace_id = %trace_id, error = ?e, "the call could not be written to the history");
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn args() -> JsonObject {
        json!({"query": "Project \"merger\" Zürich"})
            .as_object()
            .unwrap()
            .clone()
    }

    fn kept(outcome: &Outcome) -> String {
        message(&Redactor::with_key([1; 32]), outcome, &args(), "x__find").unwrap()
    }

    #[test]
    fn upstream_and_serde_texts_are_kept_as_length_and_hash_only() {
        let rpc = kept(&Outcome::UpstreamFailed(UpstreamError::Rpc {
            upstream: "x".into(),
            code: -32000,
            message: r#"no match for "Project \"merger\" Z\u00fcrich""#.into(),
        }));
        assert!(
            rpc.starts_with("upstream \"x\" returned error -32000 (message: <str:"),
            "{rpc}"
        );
        let http = kept(&Outcome::UpstreamFailed(UpstreamError::Http {
            upstream: "github".into(),
            status: 422,
            message: "Validation Failed: 'Project \"merger\"' is taken".into(),
            retry_after_ms: None,
        }));
        assert!(
            http.starts_with("the github API answered HTTP 422 (message: <str:"),
            "{http}"
        );
        let serde = kept(&Outcome::BadParams(
            r#"x__find: invalid type: string "Project \"merger\" Zürich", expected u64"#.into(),
        ));
        assert!(
            serde.starts_with("invalid arguments for x__find (<str:"),
            "{serde}"
        );
        for m in [&rpc, &http, &serde] {
            assert!(!m.contains("merger") && !m.contains("rich"), "{m}");
        }
    }

    #[test]
    fn gatehouse_sentences_stay_readable() {
        let m = kept(&Outcome::UpstreamFailed(UpstreamError::Timeout {
            upstream: "x".into(),
            after: std::time::Duration::from_secs(60),
        }));
        assert_eq!(m, "upstream \"x\" did not answer within 60s");
    }
}
