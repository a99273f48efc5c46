//! Stage 5, record: every call, allowed or refused, becomes one history row
//! and one JSON log line with the same trace id and the same redacted
//! argument summary. No raw argument and no tool result is kept.

use rmcp::model::JsonObject;

use super::blocking;
use super::call::Caller;
use super::outcome::{Outcome, Refusal};
use crate::store::{CallRecord, Store};
use crate::telemetry::Redactor;

/// Writes call records.
#[derive(Clone, Debug)]
pub struct Recorder {
    /// The shared store (history rows).
    pub store: Store,
    /// Summarises arguments and cleans messages.
    pub redactor: Redactor,
}

/// A redacted explanation of `outcome`, without any value the caller sent.
pub fn message(redactor: &Redactor, outcome: &Outcome, args: &JsonObject) -> Option<String> {
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
            Some(redactor.message(why, args))
        }
        Outcome::UpstreamFailed(e) => Some(redactor.message(&e.to_string(), args)),
        Outcome::UnknownTool => Some("no such tool".into()),
        Outcome::BadParams(m) => Some(redactor.message(m, args)),
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
