//! The MCP server over any byte pipe: stdio in `serve`, an in-memory duplex
//! in tests. `run` starts the upstreams (without waiting for them), answers
//! the client through the guard, forwards upstream log messages and tool-list
//! changes, evaluates alerts in the background, and stops everything when
//! the client hangs up or `shutdown` fires.
// MCP logging is deprecated in 2026-07-28 (SEP-2577) but current clients and
// upstreams (2025-06-18, 2025-11-25) use it, so Gatehouse still forwards it.
#![allow(deprecated)]

pub mod caller;
pub mod handler;
pub mod reply;
pub mod stdio;
pub mod transport;

#[cfg(test)]
mod tests;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::ServiceExt;
use rmcp::model::LoggingLevel;
use rmcp::service::{Peer, RoleServer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

pub use caller::ProcessIdentity;
pub use handler::{Handler, PROTOCOL_VERSIONS};
use transport::ServerTransport;

use crate::clock::SharedClock;
use crate::config::LiveConfig;
use crate::guard::Guard;
use crate::home::EnvMap;
use crate::store::Store;
use crate::telemetry::Redactor;
use crate::tools::Catalog;
use crate::upstream::{UpstreamEvent, Upstreams};

/// How often old history rows are deleted while serving.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// How often the WAL is checkpointed in the background while serving.
pub const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// Everything `serve` touches outside its own memory, passed in so tests can swap any of it.
pub struct Deps {
    /// The one SQLite file every process opens, so budgets and approvals are exact across them.
    pub store: Store,
    /// Wall-clock milliseconds, which buckets refill from.
    pub clock: SharedClock,
    /// The checked configuration; `serve` swaps it when config.toml is edited
    /// ([`crate::config::reload`]). What started things (upstreams,
    /// `[server]`) is read once, here at the start.
    pub config: LiveConfig,
    /// Summarises arguments with the per-install key.
    pub redactor: Redactor,
    /// The token and parent executable of this process.
    pub identity: ProcessIdentity,
    /// The environment upstream children inherit (minus Gatehouse's credentials).
    pub env: EnvMap,
    /// Connected GitHub/Google accounts (tokens in the keychain); `None` offers no such tools.
    pub accounts: Option<crate::oauth::Accounts>,
}

/// The server could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The MCP session could not be established.
    #[error("the MCP session failed: {0}")]
    Session(String),
}

/// Serves one client on (`read`, `write`) until it hangs up or `shutdown`
/// resolves; then stops the upstreams.
pub async fn run<R, W>(
    read: R,
    write: W,
    deps: Deps,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError>
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    // Keep WAL checkpoints out of tool calls; without the thread, commits do them as usual.
    let _checkpoints = deps
        .store
        .checkpoint_in_background(CHECKPOINT_EVERY)
        .map_err(|e| tracing::warn!(error = %e, "WAL checkpoints stay on commits"))
        .ok();
    let stop_upstreams = CancellationToken::new();
    let config = deps.config.snapshot();
    let upstreams = Upstreams::start(
        &config.upstreams,
        &config.server,
        &deps.env,
        &deps.redactor,
        stop_upstreams.clone(),
    );
    let _stop_on_exit = stop_upstreams.clone().drop_guard();
    let guard = Arc::new(Guard::new(
        deps.store.clone(),
        deps.clock.clone(),
        deps.config.clone(),
        match deps.accounts {
            Some(a) => Catalog::new(upstreams.clone()).with_accounts(a),
            None => Catalog::new(upstreams.clone()),
        },
        deps.redactor,
    ));
    tokio::spawn(prune_history(
        deps.store.clone(),
        deps.clock.clone(),
        config.retention_days,
        stop_upstreams.clone(),
    ));
    tokio::spawn(crate::alerts::watch::run(
        deps.store.clone(),
        deps.clock.clone(),
        deps.config.clone(),
        stop_upstreams.clone(),
    ));
    let log_level = Arc::new(Mutex::new(LoggingLevel::Info));
    let client_gone = CancellationToken::new();
    let handler = Handler {
        guard: guard.clone(),
        client_gone: client_gone.clone(),
        identity: Arc::new(deps.identity),
        log_level: log_level.clone(),
    };
    let transport = ServerTransport::new(read, write, config.server.max_message_bytes, client_gone);
    tokio::pin!(shutdown);
    let running = tokio::select! {
        r = handler.serve(transport) => match r {
            Ok(running) => running,
            // The client went away before the session began: nothing to serve.
            Err(rmcp::service::ServerInitializeError::ConnectionClosed(_)) => return Ok(()),
            Err(e) => return Err(ServeError::Session(e.to_string())),
        },
        () = &mut shutdown => return Ok(()),
    };
    tokio::spawn(forward_events(
        upstreams.subscribe(),
        running.peer().clone(),
        log_level,
    ));
    let session = running.cancellation_token();
    tokio::select! {
        r = running.waiting() => {
            if let Err(e) = r {
                tracing::warn!(error = %e, "the MCP session ended abnormally");
            }
        }
        () = &mut shutdown => session.cancel(),
    }
    // Calls still running get a moment to finish and be recorded.
    guard.drain(Duration::from_secs(2)).await;
    stop_upstreams.cancel();
    // Give supervisors a moment to stop their children's process groups.
    tokio::time::sleep(Duration::from_millis(50)).await;
    Ok(())
}

/// Sends upstream log messages (at or above the client's level) and
/// tool-list changes to the client.
async fn forward_events(
    mut events: broadcast::Receiver<UpstreamEvent>,
    peer: Peer<RoleServer>,
    level: Arc<Mutex<LoggingLevel>>,
) {
    loop {
        match events.recv().await {
            Ok(UpstreamEvent::ToolsChanged) => {
                if peer.notify_tool_list_changed().await.is_err() {
                    return;
                }
            }
            Ok(UpstreamEvent::Log(params)) => {
                let min = *level.lock().unwrap_or_else(|p| p.into_inner());
                if severity(params.level) >= severity(min)
                    && peer.notify_logging_message(params).await.is_err()
                {
                    return;
                }
            }
            Err(broadcast::error::RecvError::Lagged(n)) => {
                tracing::warn!(
                    skipped = n,
                    "upstream log messages were dropped: the client reads too slowly"
                );
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

async fn prune_history(
    store: Store,
    clock: SharedClock,
    retention_days: u32,
    stop: CancellationToken,
) {
    loop {
        let cutoff = clock.now().plus(-i64::from(retention_days) * 86_400_000);
        let s = store.clone();
        match tokio::task::spawn_blocking(move || s.prune_history(cutoff)).await {
            Ok(Ok(n)) if n > 0 => {
                tracing::info!(deleted = n, retention_days, "old history deleted")
            }
            Ok(Err(e)) => tracing::warn!(error = %e, "could not delete old history"),
            _ => {}
        }
        tokio::select! {
            () = tokio::time::sleep(PRUNE_EVERY) => {}
            () = stop.cancelled() => return,
        }
    }
}

/// RFC 5424 severity order of MCP log levels (rmcp's enum has no ordering).
fn severity(level: LoggingLevel) -> u8 {
    match level {
        LoggingLevel::Debug => 0,
        LoggingLevel::Info => 1,
        LoggingLevel::Notice => 2,
        LoggingLevel::Warning => 3,
        LoggingLevel::Error => 4,
        LoggingLevel::Critical => 5,
        LoggingLevel::Alert => 6,
        LoggingLevel::Emergency => 7,
    }
}
