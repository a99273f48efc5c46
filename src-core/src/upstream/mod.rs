//! MCP servers put behind the guardrails. Each `[[upstream]]` is spawned as
//! a child process and supervised (restarted with backoff when it dies); its
//! tools are re-exported as `<name>__<tool>` through the same guard as
//! everything else. Progress, log messages and cancellations pass through.
// Upstream log messages use MCP logging, deprecated in 2026-07-28 (SEP-2577) but current.
#![allow(deprecated)]

mod client;
mod forward;
mod process;
mod text;
mod transport;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use rmcp::model::{LoggingMessageNotificationParam, Tool};
use rmcp::service::{Peer, RoleClient};
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;

pub use forward::Forward;

use crate::config::{ServerSettings, UpstreamConfig};
use crate::home::EnvMap;
use crate::telemetry::Redactor;
use crate::tools::UpstreamName;

/// Where an upstream stands.
#[derive(Clone, Debug)]
pub enum UpState {
    /// Being spawned or initialised (first start).
    Starting,
    /// Serving.
    Up {
        /// The MCP client connected to it.
        peer: Peer<RoleClient>,
        /// Its tools, under their own names.
        tools: Arc<Vec<Tool>>,
    },
    /// Not running; a restart is scheduled.
    Down {
        /// Why, in a sentence (no values from calls).
        reason: String,
        /// When the next start is attempted.
        retry_at: Instant,
    },
}

/// Something an upstream did that the connected client should hear about.
#[derive(Clone, Debug)]
pub enum UpstreamEvent {
    /// An upstream's tool list changed (it started, restarted or said so).
    ToolsChanged,
    /// An upstream sent a log message.
    Log(LoggingMessageNotificationParam),
}

/// Why a call to an upstream failed.
#[derive(Clone, Debug, thiserror::Error)]
pub enum UpstreamError {
    /// Not running (starting, crashed, restarting).
    #[error("upstream \"{upstream}\" is not available: {reason}")]
    Unavailable {
        /// The upstream.
        upstream: String,
        /// Why.
        reason: String,
        /// When the next start is attempted, in ms from now.
        retry_after_ms: Option<i64>,
    },
    /// No answer in time.
    #[error("upstream \"{upstream}\" did not answer within {after:?}")]
    Timeout {
        /// The upstream.
        upstream: String,
        /// The limit.
        after: Duration,
    },
    /// The connection closed during the call (the process died).
    #[error("upstream \"{upstream}\" stopped during the call; it is being restarted")]
    Closed {
        /// The upstream.
        upstream: String,
    },
    /// The upstream answered with a JSON-RPC error.
    #[error("upstream \"{upstream}\" returned error {code}: {message}")]
    Rpc {
        /// The upstream.
        upstream: String,
        /// The JSON-RPC code.
        code: i32,
        /// Its message, for the client only: it may quote arguments, escaped,
        /// so records keep its length and hash (`guard::record`).
        message: String,
    },
    /// The client cancelled the call.
    #[error("the call was cancelled by the client")]
    Cancelled,
    /// An HTTP API behind a built-in tool (GitHub, Gmail) answered with an error.
    #[error("{message}")]
    Http {
        /// The tool family: `github`, `gmail`.
        upstream: String,
        /// The HTTP status (0: no answer at all).
        status: u16,
        /// What happened (the provider's message, scrubbed), for the client
        /// only: it may quote arguments, so records keep its length and hash.
        message: String,
        /// When the provider says a retry may succeed, in ms from now.
        retry_after_ms: Option<i64>,
    },
}

impl UpstreamError {
    /// Whether retrying the same call later may succeed.
    pub fn retryable(&self) -> bool {
        match self {
            UpstreamError::Unavailable { .. }
            | UpstreamError::Timeout { .. }
            | UpstreamError::Closed { .. } => true,
            // Rate limits, server errors and no answer at all may pass; other 4xx won't.
            UpstreamError::Http {
                status,
                retry_after_ms,
                ..
            } => *status == 0 || *status == 429 || *status >= 500 || retry_after_ms.is_some(),
            UpstreamError::Rpc { .. } | UpstreamError::Cancelled => false,
        }
    }

    /// The HTTP status this maps onto (`upstream_status`): 503 unavailable,
    /// 504 timeout, 502 anything else the upstream did wrong.
    pub fn upstream_status(&self) -> u16 {
        match self {
            UpstreamError::Unavailable { .. } => 503,
            UpstreamError::Timeout { .. } => 504,
            UpstreamError::Cancelled => 499,
            UpstreamError::Closed { .. } | UpstreamError::Rpc { .. } => 502,
            // No answer at all is a bad gateway too.
            UpstreamError::Http { status: 0, .. } => 502,
            UpstreamError::Http { status, .. } => *status,
        }
    }

    /// An upstream rejecting the arguments is the caller's mistake, not a system failure.
    pub fn is_callers_fault(&self) -> bool {
        matches!(self, UpstreamError::Rpc { code, .. } if *code == -32602)
            || matches!(self, UpstreamError::Cancelled)
            || matches!(self, UpstreamError::Http { status, .. } if matches!(status, 400 | 404 | 409 | 410 | 422))
    }

    /// The upstream request span's `error.type`.
    pub fn error_type(&self) -> &'static str {
        match self {
            UpstreamError::Unavailable { .. } => "unavailable",
            UpstreamError::Timeout { .. } => "timeout",
            UpstreamError::Closed { .. } => "closed",
            UpstreamError::Rpc { .. } => "rpc_error",
            UpstreamError::Cancelled => "cancelled",
            UpstreamError::Http { status: 0, .. } => "no_answer",
            UpstreamError::Http { .. } => "http_error",
        }
    }

    /// When the caller may retry, if known.
    pub fn retry_after_ms(&self) -> Option<i64> {
        match self {
            UpstreamError::Unavailable { retry_after_ms, .. }
            | UpstreamError::Http { retry_after_ms, .. } => *retry_after_ms,
            UpstreamError::Closed { .. } => Some(1000),
            _ => None,
        }
    }
}

/// One configured upstream and its live state.
pub struct Upstream {
    /// Its configuration.
    pub config: UpstreamConfig,
    state: watch::Sender<UpState>,
    routes: forward::ProgressRoutes,
    /// Set when the first tool call is forwarded to it: from then on what it
    /// writes (stderr, error messages) may echo arguments (`text.rs`).
    called: AtomicBool,
    /// Hashes what it writes once `called` is set.
    redactor: Redactor,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream")
            .field("name", &self.config.name)
            .finish()
    }
}

impl Upstream {
    /// `config`, not started yet; `redactor` hashes what it writes after its first call.
    fn new(config: UpstreamConfig, redactor: Redactor) -> Self {
        Self {
            config,
            state: watch::channel(UpState::Starting).0,
            routes: forward::ProgressRoutes::default(),
            called: AtomicBool::new(false),
            redactor,
        }
    }

    /// The current state.
    pub fn state(&self) -> UpState {
        self.state.borrow().clone()
    }

    /// The name.
    pub fn name(&self) -> &UpstreamName {
        &self.config.name
    }

    /// Waits until the upstream is no longer starting, at most `limit`.
    pub async fn settled(&self, limit: Duration) -> UpState {
        let mut rx = self.state.subscribe();
        let waited =
            tokio::time::timeout(limit, rx.wait_for(|s| !matches!(s, UpState::Starting))).await;
        match waited {
            Ok(Ok(state)) => state.clone(),
            _ => self.state(),
        }
    }
}

/// Every configured upstream of this process.
#[derive(Clone)]
pub struct Upstreams {
    items: Arc<Vec<Arc<Upstream>>>,
    events: broadcast::Sender<UpstreamEvent>,
    settings: ServerSettings,
}

impl std::fmt::Debug for Upstreams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.items.iter().map(|u| u.name()))
            .finish()
    }
}

impl Upstreams {
    /// No upstreams.
    pub fn none(settings: ServerSettings) -> Self {
        Self {
            items: Arc::new(Vec::new()),
            events: broadcast::channel(64).0,
            settings,
        }
    }

    /// Starts every configured upstream in the background (none is awaited)
    /// and supervises it until `shutdown`. `env` is the environment children
    /// inherit; Gatehouse's credentials are withheld from it (see `process`).
    /// `redactor` hashes what upstreams write once they have been called.
    pub fn start(
        configs: &[UpstreamConfig],
        settings: &ServerSettings,
        env: &EnvMap,
        redactor: &Redactor,
        shutdown: CancellationToken,
    ) -> Self {
        let (events, _) = broadcast::channel(256);
        let mut items = Vec::new();
        for config in configs {
            let up = Arc::new(Upstream::new(config.clone(), redactor.clone()));
            tokio::spawn(process::supervise(
                up.clone(),
                settings.clone(),
                env.clone(),
                events.clone(),
                shutdown.clone(),
            ));
            items.push(up);
        }
        Self {
            items: Arc::new(items),
            events,
            settings: settings.clone(),
        }
    }

    /// Every upstream.
    pub fn all(&self) -> &[Arc<Upstream>] {
        &self.items
    }

    /// The upstream named `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<Upstream>> {
        self.items.iter().find(|u| u.name().as_str() == name)
    }

    /// Events for the connected client.
    pub fn subscribe(&self) -> broadcast::Receiver<UpstreamEvent> {
        self.events.subscribe()
    }

    /// The `[server]` settings the upstreams run with.
    pub fn settings(&self) -> &ServerSettings {
        &self.settings
    }

    /// Waits (at most `limit` in all) until no upstream is still starting.
    pub async fn settled(&self, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        for up in self.items.iter() {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            up.settled(left).await;
        }
    }
}
