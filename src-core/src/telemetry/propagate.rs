//! W3C trace context in and out: the caller's `traceparent`/`tracestate`
//! from a request's `_meta` become the remote parent of Gatehouse's span, and
//! Gatehouse's own span context goes on to upstreams, in `_meta` for MCP
//! servers and as the `traceparent` header for HTTP (the same text).

use std::str::FromStr;

use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};
use rmcp::model::RequestMetaObject;

use super::trace_id::TraceParent;

/// The caller's trace context, read from a request's `_meta`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Incoming {
    /// The parsed `traceparent`.
    pub parent: TraceParent,
    /// `tracestate`, passed on as sent (vendor data we don't interpret).
    pub tracestate: Option<String>,
}

impl Incoming {
    /// The caller's context from `meta`; `None` when there is no valid
    /// `traceparent` (the call then starts its own trace, as W3C asks).
    pub fn from_meta(meta: &RequestMetaObject) -> Option<Incoming> {
        let parent = meta.get_traceparent().and_then(TraceParent::parse)?;
        let tracestate = meta
            .get_tracestate()
            .map(str::trim)
            .filter(|s| !s.is_empty() && s.len() <= 512)
            .map(str::to_string);
        Some(Incoming { parent, tracestate })
    }

    /// The caller's span as an OpenTelemetry remote span context.
    pub fn span_context(&self) -> Option<SpanContext> {
        let trace_id = TraceId::from_hex(&self.parent.trace_id).ok()?;
        let span_id = SpanId::from_hex(&self.parent.parent_id).ok()?;
        let state = self
            .tracestate
            .as_deref()
            .and_then(|s| TraceState::from_str(s).ok())
            .unwrap_or_default();
        Some(SpanContext::new(
            trace_id,
            span_id,
            TraceFlags::new(self.parent.flags),
            true,
            state,
        ))
    }
}

/// A `traceparent` value: version 00, the trace, the span that is the parent
/// of whatever receives it, and the flags.
pub fn traceparent(trace_id: &str, span_id: &str, flags: u8) -> String {
    format!("00-{trace_id}-{span_id}-{flags:02x}")
}

/// `_meta` for an upstream: `traceparent` naming `span` (Gatehouse's own span
/// context) and the caller's `tracestate`, if any.
pub fn outgoing(
    trace_id: &str,
    span_id: &str,
    flags: u8,
    tracestate: Option<&str>,
) -> RequestMetaObject {
    let mut meta = RequestMetaObject::new();
    meta.set_traceparent(traceparent(trace_id, span_id, flags));
    if let Some(state) = tracestate {
        meta.set_tracestate(state.to_string());
    }
    meta
}

/// Replaces the `traceparent` in `meta` with one naming `cx`, keeping
/// `tracestate`: an upstream request made inside a child span names that span.
pub fn repoint(meta: &mut RequestMetaObject, cx: &SpanContext) {
    if cx.is_valid() {
        meta.set_traceparent(traceparent(
            &cx.trace_id().to_string(),
            &cx.span_id().to_string(),
            cx.trace_flags().to_u8(),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_callers_context_and_builds_a_remote_parent() {
        let mut meta = RequestMetaObject::new();
        meta.set_traceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
        meta.set_tracestate("congo=t61rcWkgMzE");
        let inc = Incoming::from_meta(&meta).unwrap();
        assert_eq!(inc.tracestate.as_deref(), Some("congo=t61rcWkgMzE"));
        let cx = inc.span_context().unwrap();
        assert!(cx.is_remote() && cx.is_valid() && cx.is_sampled());
        assert_eq!(
            cx.trace_id().to_string(),
            "0af7651916cd43dd8448eb211c80319c"
        );
        assert_eq!(cx.span_id().to_string(), "b7ad6b7169203331");
        assert_eq!(cx.trace_state().header(), "congo=t61rcWkgMzE");
    }

    #[test]
    fn no_or_bad_traceparent_is_no_parent() {
        assert!(Incoming::from_meta(&RequestMetaObject::new()).is_none());
        let mut meta = RequestMetaObject::new();
        meta.set_traceparent("00-xyz");
        assert!(Incoming::from_meta(&meta).is_none());
    }

    #[test]
    fn outgoing_meta_names_our_span_and_keeps_tracestate() {
        let mut meta = outgoing(
            "0af7651916cd43dd8448eb211c80319c",
            "00f067aa0ba902b7",
            1,
            Some("congo=t61rcWkgMzE"),
        );
        assert_eq!(
            meta.get_traceparent(),
            Some("00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01")
        );
        let child = SpanContext::new(
            TraceId::from_hex("0af7651916cd43dd8448eb211c80319c").unwrap(),
            SpanId::from_hex("1111111111111111").unwrap(),
            TraceFlags::SAMPLED,
            false,
            TraceState::default(),
        );
        repoint(&mut meta, &child);
        assert_eq!(
            meta.get_traceparent(),
            Some("00-0af7651916cd43dd8448eb211c80319c-1111111111111111-01")
        );
        assert_eq!(meta.get_tracestate(), Some("congo=t61rcWkgMzE"));
    }
}
