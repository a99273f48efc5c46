//! The rmcp `ServerHandler`: `tools/list` and `tools/call` go through the
//! guard; everything else is rmcp's default. Thin on purpose: parse the
//! request, call the library, map the outcome.
// logging/setLevel is deprecated in 2026-07-28 (SEP-2577); older clients still send it.
#![allow(deprecated)]

use std::borrow::Cow;
use std::sync::{Arc, Mutex};

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CustomRequest, CustomResult, ErrorCode,
    Implementation, ListToolsResult, LoggingLevel, PaginatedRequestParams, ProtocolVersion,
    ServerCapabilities, ServerConfig, SetLevelRequestMethod, SetLevelRequestParams,
};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::{ErrorData, ServerHandler};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::caller::{self, ProcessIdentity};
use super::reply;
use crate::guard::Guard;
use crate::telemetry::propagate::Incoming;
use crate::telemetry::spans;

/// The protocol versions Gatehouse speaks.
pub const PROTOCOL_VERSIONS: &[ProtocolVersion] = &[
    ProtocolVersion::V_2025_06_18,
    ProtocolVersion::V_2025_11_25,
    ProtocolVersion::V_2026_07_28,
];

const INSTRUCTIONS: &str = "Gatehouse guards these tools: each call is checked against your identity, \
the user's policy and your budgets, and recorded. A refused call returns isError with structuredContent \
{code, retryable, ...}: on rate_limited wait retry_after_ms before retrying; on denied do not retry. \
Call gatehouse__budgets to see what you have left.";

/// Serves one client.
#[derive(Clone)]
pub struct Handler {
    pub(crate) guard: Arc<Guard>,
    pub(crate) identity: Arc<ProcessIdentity>,
    /// The minimum level of upstream log messages forwarded to the client.
    pub(crate) log_level: Arc<Mutex<LoggingLevel>>,
    /// Cancelled when the client hangs up.
    pub(crate) client_gone: CancellationToken,
}

fn is_2026_or_later(ctx: &RequestContext<RoleServer>) -> bool {
    ctx.protocol_version()
        .is_some_and(|v| v.as_str() >= ProtocolVersion::V_2026_07_28.as_str())
}

impl ServerHandler for Handler {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_tool_list_changed()
                .enable_logging()
                .build(),
        )
        .with_server_info(Implementation::new("gatehouse", env!("CARGO_PKG_VERSION")))
        .with_instructions(INSTRUCTIONS)
    }

    fn supported_protocol_versions(&self) -> Cow<'static, [ProtocolVersion]> {
        Cow::Borrowed(PROTOCOL_VERSIONS)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let caller = caller::caller(&self.identity, &ctx);
        let tools = self
            .guard
            .list_tools(&caller)
            .await
            .into_iter()
            .map(|t| t.tool)
            .collect();
        Ok(ListToolsResult::with_all_items(tools))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let label = self.guard.tool_label(&request.name);
        let request_id = caller::request_id(&ctx);
        let span = spans::server(
            spans::ServerInfo {
                tool: &label,
                request_id: Some(&request_id),
                protocol_version: ctx.protocol_version().as_ref().map(|v| v.as_str()),
            },
            Incoming::from_meta(&ctx.meta).as_ref(),
        );
        let call = caller::call(
            &self.identity,
            request,
            &ctx,
            &self.client_gone,
            (span.trace_id, span.propagate),
        );
        let tool = call.tool.clone();
        let outcome = self.guard.handle(call).instrument(span.span).await;
        reply::to_mcp(outcome, &tool).map(CallToolResponse::Complete)
    }

    async fn on_custom_request(
        &self,
        request: CustomRequest,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<CustomResult, ErrorData> {
        let method = crate::telemetry::redact::truncate(&request.method, 100);
        Err(ErrorData::new(
            ErrorCode::METHOD_NOT_FOUND,
            format!("Method not found: {method}"),
            None,
        ))
    }

    async fn set_level(
        &self,
        request: SetLevelRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        if is_2026_or_later(&ctx) {
            return Err(ErrorData::method_not_found::<SetLevelRequestMethod>());
        }
        *self.log_level.lock().unwrap_or_else(|p| p.into_inner()) = request.level;
        Ok(())
    }
}
