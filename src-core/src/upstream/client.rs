//! Gatehouse as an MCP client of one upstream: it hands progress to the call
//! that asked for it, log messages to the connected client, and re-reads the
//! tool list when the upstream says it changed.
// Upstream log messages use MCP logging, deprecated in 2026-07-28 (SEP-2577) but current.
#![allow(deprecated)]

use std::sync::Arc;

use rmcp::ClientHandler;
use rmcp::model::{
    ClientCapabilities, ClientConfig, Implementation, LoggingMessageNotificationParam,
    ProgressNotificationParam,
};
use rmcp::service::{NotificationContext, RoleClient};
use tokio::sync::{Notify, broadcast};

use super::UpstreamEvent;
use super::forward::ProgressRoutes;

/// The handler rmcp calls for messages from the upstream.
#[derive(Clone)]
pub struct UpstreamClient {
    /// The upstream's name, prefixed to forwarded log messages.
    pub name: String,
    /// Where progress for in-flight calls goes.
    pub routes: ProgressRoutes,
    /// Log messages and tool-list changes for the connected client.
    pub events: broadcast::Sender<UpstreamEvent>,
    /// Wakes the supervisor to re-read the tool list.
    pub relist: Arc<Notify>,
}

impl ClientHandler for UpstreamClient {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("gatehouse", env!("CARGO_PKG_VERSION")),
        )
    }

    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _cx: NotificationContext<RoleClient>,
    ) {
        self.routes.forward(params).await;
    }

    async fn on_logging_message(
        &self,
        mut params: LoggingMessageNotificationParam,
        _cx: NotificationContext<RoleClient>,
    ) {
        params.logger = Some(match params.logger.take() {
            Some(l) => format!("{}/{l}", self.name),
            None => self.name.clone(),
        });
        let _ = self.events.send(UpstreamEvent::Log(params));
    }

    async fn on_tool_list_changed(&self, _cx: NotificationContext<RoleClient>) {
        self.relist.notify_one();
    }
}
