//! `Call`: one `tools/call` as the guard sees it. Arguments travel as
//! `Redacted` so no stage can log them by accident.

use rmcp::model::{JsonObject, ProgressToken, RequestMetaObject};
use rmcp::service::{Peer, RoleServer};
use tokio_util::sync::CancellationToken;

use crate::telemetry::Redacted;

/// Who is calling, as far as this request tells.
#[derive(Clone, Debug, Default)]
pub struct Caller {
    /// `GATEHOUSE_TOKEN` of the `serve` process, if set.
    pub token: Option<Redacted<String>>,
    /// `clientInfo.name` from `initialize` or the request's `_meta`.
    pub client_name: Option<String>,
    /// The executable that launched `serve` (shown to the user, names tokenless agents as a last resort).
    pub parent_exe: Option<String>,
}

/// One tool call.
#[derive(Debug)]
pub struct Call {
    /// Who.
    pub caller: Caller,
    /// The tool name as sent.
    pub tool: String,
    /// The arguments.
    pub args: Redacted<JsonObject>,
    /// The JSON-RPC request id, as text.
    pub request_id: Option<String>,
    /// The trace this call belongs to (the caller's, or a new one).
    pub trace_id: String,
    /// Trace context to pass on to upstreams: `traceparent` naming
    /// Gatehouse's SERVER span of this call (trace id + its span id, so an
    /// HTTP upstream sending it as a header is that span's child) and the
    /// caller's `tracestate`. With tracing off, the caller's own context.
    pub propagate: RequestMetaObject,
    /// Fires when the client cancels the request.
    pub cancel: CancellationToken,
    /// Fires when the client hangs up: nobody is left to receive an answer.
    pub client_gone: CancellationToken,
    /// Where progress for this call goes: the client and its progress token.
    pub progress: Option<(Peer<RoleServer>, ProgressToken)>,
}
