//! One call to an upstream, in its own CLIENT span: sent with that span's
//! trace context in `_meta` (so the upstream's span is its child),
//! its progress routed back to the caller's progress token, cancelled
//! upstream when the caller cancels, bounded by the call timeout.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::model::{
    CallToolRequest, CallToolRequestParams, CallToolResult, CancelledNotificationParam,
    ClientRequest, JsonObject, ProgressNotificationParam, ProgressToken, RequestMetaObject,
    ServerResult,
};
use rmcp::service::{Peer, PeerRequestOptions, RoleServer, ServiceError};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::{UpState, Upstream, UpstreamError};
use crate::telemetry::spans;

/// What a forwarded call carries besides its arguments.
pub struct Forward {
    /// `traceparent`/`tracestate` for the upstream's `_meta`.
    pub meta: RequestMetaObject,
    /// Fires when the client cancels the call.
    pub cancel: CancellationToken,
    /// Where to send the upstream's progress: the client and its progress token.
    pub progress: Option<(Peer<RoleServer>, ProgressToken)>,
}

/// Upstream progress token → the client waiting for it.
#[derive(Clone, Default)]
pub struct ProgressRoutes(Arc<Mutex<HashMap<ProgressToken, Route>>>);

/// The client waiting for an upstream's progress, and its own progress token.
type Route = (Peer<RoleServer>, ProgressToken);

impl ProgressRoutes {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ProgressToken, Route>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sends an upstream's progress to the client that made the call, under the client's token.
    pub async fn forward(&self, mut params: ProgressNotificationParam) {
        let route = self.lock().get(&params.progress_token).cloned();
        if let Some((peer, token)) = route {
            params.progress_token = token;
            let _ = peer.notify_progress(params).await;
        }
    }
}

impl Upstream {
    /// Calls `tool` (its name at the upstream) with `args`.
    pub async fn call(
        &self,
        tool: &str,
        args: JsonObject,
        fwd: Forward,
        start_wait: Duration,
        timeout: Duration,
    ) -> Result<CallToolResult, UpstreamError> {
        let span = spans::upstream_request(self.name().as_str(), tool);
        let result = self
            .call_inner(tool, args, fwd, start_wait, timeout, &span)
            .instrument(span.clone())
            .await;
        if let Err(e) = &result {
            spans::fail(&span, e.error_type());
        }
        result
    }

    async fn call_inner(
        &self,
        tool: &str,
        args: JsonObject,
        mut fwd: Forward,
        start_wait: Duration,
        timeout: Duration,
        span: &tracing::Span,
    ) -> Result<CallToolResult, UpstreamError> {
        let name = self.name().to_string();
        let peer = match self.settled(start_wait).await {
            UpState::Up { peer, .. } => peer,
            UpState::Starting => {
                return Err(UpstreamError::Unavailable {
                    upstream: name,
                    reason: "it is still starting".into(),
                    retry_after_ms: Some(1000),
                });
            }
            UpState::Down { reason, retry_at } => {
                let ms = retry_at
                    .saturating_duration_since(std::time::Instant::now())
                    .as_millis() as i64;
                return Err(UpstreamError::Unavailable {
                    upstream: name,
                    reason,
                    retry_after_ms: Some(ms.max(100)),
                });
            }
        };
        // The upstream's span is a child of this request's CLIENT span.
        spans::propagate_from(span, &mut fwd.meta);
        // From here on, what it writes may quote these arguments.
        self.mark_called();
        let params = CallToolRequestParams::new(tool.to_string()).with_arguments(args);
        let options = PeerRequestOptions::with_timeout(timeout)
            .reset_timeout_on_progress()
            .with_meta(fwd.meta);
        let handle = peer
            .send_request_with_option(
                ClientRequest::CallToolRequest(CallToolRequest::new(params)),
                options,
            )
            .await
            .map_err(|e| map_error(&name, e, timeout))?;
        let up_token = handle.progress_token.clone();
        let up_id = handle.id.clone();
        if let Some(route) = fwd.progress {
            self.routes.lock().insert(up_token.clone(), route);
        }
        let result = tokio::select! {
            r = handle.await_response() => r.map_err(|e| map_error(&name, e, timeout)),
            () = fwd.cancel.cancelled() => {
                let note = CancelledNotificationParam::new(Some(up_id), Some("cancelled by the client".into()));
                let _ = peer.notify_cancelled(note).await;
                Err(UpstreamError::Cancelled)
            }
        };
        self.routes.lock().remove(&up_token);
        match result? {
            ServerResult::CallToolResult(r) => Ok(r),
            _ => Err(UpstreamError::Rpc {
                upstream: name,
                code: -32603,
                message: "the upstream answered tools/call with something other than a tool result"
                    .into(),
            }),
        }
    }
}

fn map_error(upstream: &str, e: ServiceError, timeout: Duration) -> UpstreamError {
    let upstream = upstream.to_string();
    match e {
        ServiceError::McpError(e) => UpstreamError::Rpc {
            upstream,
            code: e.code.0,
            message: e.message.to_string(),
        },
        ServiceError::Timeout { .. } => UpstreamError::Timeout {
            upstream,
            after: timeout,
        },
        ServiceError::Cancelled { .. } => UpstreamError::Cancelled,
        _ => UpstreamError::Closed { upstream },
    }
}
