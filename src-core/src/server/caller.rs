//! Who is calling and in which trace, read from one request: the process's
//! token, `clientInfo` (from `initialize`, or the request's `_meta` on
//! 2026-07-28, which has no handshake), the parent executable, and the W3C
//! trace context in `_meta`.

use rmcp::model::{CallToolRequestParams, RequestMetaObject};
use rmcp::service::{RequestContext, RoleServer};
use tokio_util::sync::CancellationToken;

use crate::guard::{Call, Caller};
use crate::home::EnvMap;
use crate::telemetry::Redacted;
use crate::telemetry::trace_id::{TraceParent, new_span_id, new_trace_id};

/// What is fixed for the life of a `serve` process.
#[derive(Clone, Debug, Default)]
pub struct ProcessIdentity {
    /// `GATEHOUSE_TOKEN`, if set.
    pub token: Option<Redacted<String>>,
    /// The executable that launched us.
    pub parent_exe: Option<String>,
}

impl ProcessIdentity {
    /// Reads the token from `env` and the parent executable from the OS.
    pub fn detect(env: &EnvMap) -> Self {
        let token = env
            .get("GATEHOUSE_TOKEN")
            .map(|t| t.trim())
            .filter(|t| !t.is_empty())
            .map(|t| Redacted::new(t.to_string()));
        Self {
            token,
            parent_exe: parent_exe(),
        }
    }
}

#[cfg(target_os = "linux")]
fn parent_exe() -> Option<String> {
    let ppid = std::os::unix::process::parent_id();
    std::fs::read_link(format!("/proc/{ppid}/exe"))
        .ok()
        .map(|p| p.display().to_string())
}

#[cfg(not(target_os = "linux"))]
fn parent_exe() -> Option<String> {
    None
}

/// The caller of the request in `ctx`.
pub fn caller(identity: &ProcessIdentity, ctx: &RequestContext<RoleServer>) -> Caller {
    Caller {
        token: identity.token.clone(),
        client_name: ctx.client_info().map(|i| i.name.to_string()),
        parent_exe: identity.parent_exe.clone(),
    }
}

/// The trace id of a request and the context to pass on: the caller's
/// `traceparent` when valid (one user request, one trace), else a new trace.
pub fn trace(meta: &RequestMetaObject) -> (String, RequestMetaObject) {
    let mut propagate = RequestMetaObject::new();
    match meta.get_traceparent().and_then(TraceParent::parse) {
        Some(parent) => {
            propagate.set_traceparent(format!(
                "00-{}-{}-{:02x}",
                parent.trace_id, parent.parent_id, parent.flags
            ));
            if let Some(state) = meta.get_tracestate() {
                propagate.set_tracestate(state.to_string());
            }
            (parent.trace_id, propagate)
        }
        None => {
            let trace_id = new_trace_id();
            propagate.set_traceparent(format!("00-{trace_id}-{}-01", new_span_id()));
            (trace_id, propagate)
        }
    }
}

/// A `Call` for the guard from one `tools/call` request.
pub fn call(
    identity: &ProcessIdentity,
    req: CallToolRequestParams,
    ctx: &RequestContext<RoleServer>,
    client_gone: &CancellationToken,
) -> Call {
    let (trace_id, propagate) = trace(&ctx.meta);
    let progress = ctx.meta.get_progress_token().map(|t| (ctx.peer.clone(), t));
    Call {
        caller: caller(identity, ctx),
        tool: req.name.to_string(),
        args: Redacted::new(req.arguments.unwrap_or_default()),
        request_id: Some(match &ctx.id {
            rmcp::model::NumberOrString::Number(n) => n.to_string(),
            rmcp::model::NumberOrString::String(s) => s.to_string(),
        }),
        trace_id,
        propagate,
        cancel: ctx.ct.clone(),
        client_gone: client_gone.clone(),
        progress,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_valid_traceparent_keeps_its_trace() {
        let mut meta = RequestMetaObject::new();
        meta.set_traceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
        meta.set_tracestate("congo=t61rcWkgMzE");
        let (id, out) = trace(&meta);
        assert_eq!(id, "0af7651916cd43dd8448eb211c80319c");
        assert_eq!(out.get_tracestate(), Some("congo=t61rcWkgMzE"));
    }

    #[test]
    fn no_or_bad_traceparent_starts_a_new_trace() {
        let mut meta = RequestMetaObject::new();
        meta.set_traceparent("garbage");
        let (id, out) = trace(&meta);
        assert_eq!(id.len(), 32);
        assert!(out.get_traceparent().unwrap().contains(&id));
    }

    #[test]
    fn the_token_comes_from_the_environment_trimmed() {
        let env = EnvMap::from([("GATEHOUSE_TOKEN".into(), " gth_x \n".into())]);
        assert_eq!(
            ProcessIdentity::detect(&env).token.unwrap().expose(),
            "gth_x"
        );
        let empty = EnvMap::from([("GATEHOUSE_TOKEN".into(), "".into())]);
        assert!(ProcessIdentity::detect(&empty).token.is_none());
    }
}
