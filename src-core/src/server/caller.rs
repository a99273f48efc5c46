//! Who is calling and in which trace, read from one request: the process's
//! token, `clientInfo` (from `initialize`, or the request's `_meta` on
//! 2026-07-28, which has no handshake) and the parent executable. The trace
//! context comes from `telemetry::spans`, which reads `_meta`.

use rmcp::model::{CallToolRequestParams, RequestMetaObject};
use rmcp::service::{RequestContext, RoleServer};
use tokio_util::sync::CancellationToken;

use crate::guard::{Call, Caller};
use crate::home::EnvMap;
use crate::telemetry::Redacted;

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

/// The JSON-RPC id of the request in `ctx`, as text.
pub fn request_id(ctx: &RequestContext<RoleServer>) -> String {
    match &ctx.id {
        rmcp::model::NumberOrString::Number(n) => n.to_string(),
        rmcp::model::NumberOrString::String(s) => s.to_string(),
    }
}

/// A `Call` for the guard from one `tools/call` request, in the trace
/// `trace` (its id, and the context to pass on: see `telemetry::spans::server`).
pub fn call(
    identity: &ProcessIdentity,
    req: CallToolRequestParams,
    ctx: &RequestContext<RoleServer>,
    client_gone: &CancellationToken,
    trace: (String, RequestMetaObject),
) -> Call {
    let (trace_id, propagate) = trace;
    let progress = ctx.meta.get_progress_token().map(|t| (ctx.peer.clone(), t));
    Call {
        caller: caller(identity, ctx),
        tool: req.name.to_string(),
        args: Redacted::new(req.arguments.unwrap_or_default()),
        request_id: Some(request_id(ctx)),
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
