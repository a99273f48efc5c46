//! The spans of one guarded call, named and attributed after the OpenTelemetry
//! semantic conventions for MCP: a SERVER span `tools/call {tool}`, INTERNAL
//! children for the guard stages, a CLIENT child per upstream request. They
//! are `tracing` spans; when tracing is on, `tracing-opentelemetry` makes
//! them OpenTelemetry spans. No attribute ever holds a raw argument value:
//! tool names are the history's labels and arguments the redacted summary.

use opentelemetry::trace::TraceContextExt;
use rmcp::model::RequestMetaObject;
use tracing::Span;
use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::propagate::{self, Incoming};
use super::trace_id::{new_span_id, new_trace_id};

/// The target of every Gatehouse span: the OpenTelemetry layer lets only
/// these through (rmcp's own spans would nest every call under one session).
pub const TARGET: &str = "gatehouse::span";

/// The SERVER span of one `tools/call`, and the trace context it gives the call.
#[derive(Debug)]
pub struct CallSpan {
    /// The span; the guard runs inside it.
    pub span: Span,
    /// The trace id (32 hex): the caller's when it sent a `traceparent`, else
    /// new. The history row and the log line carry the same one.
    pub trace_id: String,
    /// `_meta` for upstreams: `traceparent` naming this span (so upstreams see
    /// Gatehouse's span as their parent) and the caller's `tracestate`.
    pub propagate: RequestMetaObject,
}

/// What the SERVER span is told at the start of a call.
#[derive(Clone, Copy, Debug, Default)]
pub struct ServerInfo<'a> {
    /// The tool as the history shows it (hidden when it is no tool name).
    pub tool: &'a str,
    /// The JSON-RPC request id, as text.
    pub request_id: Option<&'a str>,
    /// The negotiated MCP protocol version.
    pub protocol_version: Option<&'a str>,
}

/// Starts the SERVER span of a call, as a child of the caller's span when
/// `incoming` has one. With tracing off the ids come from `incoming` (passed
/// through unchanged) or are new, exactly as with tracing on.
pub fn server(info: ServerInfo<'_>, incoming: Option<&Incoming>) -> CallSpan {
    let span = tracing::info_span!(
        target: TARGET,
        parent: None,
        "tools/call",
        otel.name = %format_args!("tools/call {}", info.tool),
        otel.kind = "server",
        otel.status_code = Empty,
        mcp.method.name = "tools/call",
        mcp.protocol.version = info.protocol_version,
        gen_ai.operation.name = "execute_tool",
        gen_ai.tool.name = info.tool,
        jsonrpc.request.id = info.request_id,
        network.transport = "pipe",
        error.type = Empty,
        gatehouse.agent.name = Empty,
        gatehouse.agent.verified = Empty,
        gatehouse.outcome = Empty,
        gatehouse.code = Empty,
        gatehouse.args = Empty,
    );
    if let Some(parent) = incoming.and_then(Incoming::span_context) {
        let _ = span.set_parent(opentelemetry::Context::new().with_remote_span_context(parent));
    }
    let tracestate = incoming.and_then(|i| i.tracestate.as_deref());
    let cx = span.context();
    let ours = cx.span().span_context().clone();
    let (trace_id, propagate) = if ours.is_valid() {
        let trace_id = ours.trace_id().to_string();
        let meta = propagate::outgoing(
            &trace_id,
            &ours.span_id().to_string(),
            ours.trace_flags().to_u8(),
            tracestate,
        );
        (trace_id, meta)
    } else if let Some(inc) = incoming {
        // No span of ours is recorded: pass the caller's context through as it came.
        let p = &inc.parent;
        let meta = propagate::outgoing(&p.trace_id, &p.parent_id, p.flags, tracestate);
        (p.trace_id.clone(), meta)
    } else {
        let trace_id = new_trace_id();
        let meta = propagate::outgoing(&trace_id, &new_span_id(), 1, None);
        (trace_id, meta)
    };
    CallSpan {
        span,
        trace_id,
        propagate,
    }
}

/// An INTERNAL child span for one guard stage (`guard.identify`, ...).
pub fn stage(name: &'static str) -> Span {
    tracing::info_span!(target: TARGET, "guard", otel.name = name, otel.kind = "internal")
}

/// The INTERNAL span of a built-in tool running in Gatehouse.
pub fn builtin(tool: &str) -> Span {
    tracing::info_span!(
        target: TARGET,
        "execute_tool",
        otel.name = %format_args!("execute_tool {tool}"),
        otel.kind = "internal",
        gen_ai.operation.name = "execute_tool",
        gen_ai.tool.name = tool,
    )
}

/// The CLIENT span of one request to an upstream MCP server; `tool` is the
/// tool's name at the upstream.
pub fn upstream_request(upstream: &str, tool: &str) -> Span {
    tracing::info_span!(
        target: TARGET,
        "tools/call",
        otel.name = %format_args!("tools/call {tool}"),
        otel.kind = "client",
        otel.status_code = Empty,
        mcp.method.name = "tools/call",
        gen_ai.operation.name = "execute_tool",
        gen_ai.tool.name = tool,
        network.transport = "pipe",
        gatehouse.upstream = upstream,
        error.type = Empty,
    )
}

/// The CLIENT span of one HTTP request to an API behind a built-in tool
/// (GitHub, Gmail), after the OTel HTTP client conventions. Only the method,
/// the host and the answer's status are kept: paths and queries carry
/// argument values (owners, search terms, message ids).
pub fn http_request(method: &str, api: &str, host: &str) -> Span {
    tracing::info_span!(
        target: TARGET,
        "http",
        otel.name = method,
        otel.kind = "client",
        otel.status_code = Empty,
        http.request.method = method,
        server.address = host,
        http.response.status_code = Empty,
        gatehouse.api = api,
        error.type = Empty,
    )
}

/// Repoints `meta`'s `traceparent` at `span` (an upstream request's CLIENT
/// span), so the upstream's span is that span's child. No-op with tracing off.
pub fn propagate_from(span: &Span, meta: &mut RequestMetaObject) {
    let cx = span.context();
    propagate::repoint(meta, cx.span().span_context());
}

/// Marks `span` failed with `error_type` (`error.type`, status ERROR).
pub fn fail(span: &Span, error_type: &str) {
    span.record("error.type", error_type);
    span.record("otel.status_code", "error");
}

/// How a call ended, for its SERVER span (all of it already redacted).
#[derive(Clone, Copy, Debug)]
pub struct Ending<'a> {
    /// The agent, when identified.
    pub agent: Option<&'a str>,
    /// Whether it proved itself with a token.
    pub verified: Option<bool>,
    /// The history status (`ok`, `rate_limited`, ...).
    pub outcome: &'a str,
    /// The error contract's code, if any.
    pub code: Option<&'a str>,
    /// The redacted argument summary (JSON text).
    pub args: &'a str,
    /// `error.type` when the call failed.
    pub error_type: Option<&'a str>,
}

/// Records how the call ended on its SERVER span (the current span while the
/// guard runs).
pub fn end_call(span: &Span, e: Ending<'_>) {
    if span.is_disabled() {
        return;
    }
    if let Some(agent) = e.agent {
        span.record("gatehouse.agent.name", agent);
    }
    if let Some(v) = e.verified {
        span.record("gatehouse.agent.verified", v);
    }
    span.record("gatehouse.outcome", e.outcome);
    if let Some(code) = e.code {
        span.record("gatehouse.code", code);
    }
    span.record("gatehouse.args", e.args);
    if let Some(t) = e.error_type {
        fail(span, t);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::trace_id::TraceParent;

    #[test]
    fn without_tracing_the_callers_context_passes_through() {
        let inc = Incoming {
            parent: TraceParent::parse("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
                .unwrap(),
            tracestate: Some("congo=t61rcWkgMzE".into()),
        };
        let cs = server(ServerInfo::default(), Some(&inc));
        assert_eq!(cs.trace_id, "0af7651916cd43dd8448eb211c80319c");
        assert_eq!(
            cs.propagate.get_traceparent(),
            Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
        );
        assert_eq!(cs.propagate.get_tracestate(), Some("congo=t61rcWkgMzE"));
    }

    /// Collects finished spans in memory.
    #[derive(Debug, Clone, Default)]
    struct Collect(std::sync::Arc<std::sync::Mutex<Vec<opentelemetry_sdk::trace::SpanData>>>);

    impl opentelemetry_sdk::trace::SpanExporter for Collect {
        async fn export(
            &self,
            batch: Vec<opentelemetry_sdk::trace::SpanData>,
        ) -> opentelemetry_sdk::error::OTelSdkResult {
            self.0.lock().unwrap().extend(batch);
            Ok(())
        }
    }

    #[test]
    fn with_tracing_the_callers_trace_continues_and_upstreams_see_our_span_as_parent() {
        use opentelemetry::trace::{SpanKind, TracerProvider as _};
        use tracing_subscriber::prelude::*;
        let got = Collect::default();
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
            .with_simple_exporter(got.clone())
            .build();
        let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("test"));
        let subscriber = tracing_subscriber::registry().with(layer);
        let inc = Incoming {
            parent: TraceParent::parse("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
                .unwrap(),
            tracestate: None,
        };
        let (cs, client_meta) = tracing::subscriber::with_default(subscriber, || {
            let info = ServerInfo {
                tool: "x__y",
                request_id: Some("7"),
                protocol_version: None,
            };
            let cs = server(info, Some(&inc));
            let client = cs.span.in_scope(|| upstream_request("x", "y"));
            let mut meta = cs.propagate.clone();
            propagate_from(&client, &mut meta);
            drop(client);
            let tp = cs.propagate.get_traceparent().map(str::to_string);
            drop(cs.span);
            ((cs.trace_id, tp), meta)
        });
        let spans = got.0.lock().unwrap();
        let server_span = spans
            .iter()
            .find(|s| s.span_kind == SpanKind::Server)
            .unwrap();
        let client_span = spans
            .iter()
            .find(|s| s.span_kind == SpanKind::Client)
            .unwrap();
        assert_eq!(cs.0, "0af7651916cd43dd8448eb211c80319c");
        assert_eq!(server_span.name, "tools/call x__y");
        assert_eq!(server_span.parent_span_id.to_string(), "b7ad6b7169203331");
        // `Call::propagate` (HTTP upstreams) names the SERVER span...
        let ours = TraceParent::parse(cs.1.as_deref().unwrap()).unwrap();
        assert_eq!(ours.trace_id, cs.0);
        assert_eq!(
            ours.parent_id,
            server_span.span_context.span_id().to_string()
        );
        // ...and an upstream MCP request's `_meta` names its CLIENT span, a child of it.
        assert_eq!(
            client_span.parent_span_id,
            server_span.span_context.span_id()
        );
        let sent = TraceParent::parse(client_meta.get_traceparent().unwrap()).unwrap();
        assert_eq!(
            sent.parent_id,
            client_span.span_context.span_id().to_string()
        );
    }

    #[test]
    fn without_a_parent_a_call_starts_its_own_trace() {
        let cs = server(ServerInfo::default(), None);
        assert_eq!(cs.trace_id.len(), 32);
        let tp = TraceParent::parse(cs.propagate.get_traceparent().unwrap()).unwrap();
        assert_eq!(tp.trace_id, cs.trace_id);
    }
}
