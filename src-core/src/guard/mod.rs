//! The guard: every `tools/call`, built-in or upstream, passes
//! identify → policy → limit → execute → record. The first refusal ends the
//! call; a stage that can't decide refuses (fail closed); every call is
//! recorded, whatever happened. Each stage runs in its own child span of the
//! call's SERVER span, which `handle` runs inside.

pub mod call;
mod execute;
pub mod identify;
pub mod limit;
pub mod outcome;
pub mod policy;
pub mod record;

use std::sync::Arc;
use std::time::Instant;

use tokio_util::task::TaskTracker;
use tracing::Instrument;

pub use call::{Call, Caller};
pub use outcome::{DenyReason, Outcome, Refusal};
pub use record::Recorder;

use crate::clock::SharedClock;
use crate::config::{Config, LiveConfig};
use crate::store::{AgentRow, AgentStatus, CallRecord, Store, StoreError};
use crate::telemetry::otel::metrics;
use crate::telemetry::{Redactor, pii, spans};
use crate::tools::{Catalog, Lookup, ToolEntry, ToolName};
use identify::Identify;

/// Runs a store operation for the guard; a failure refuses the call. It runs
/// right here when it needs no wait (the common case: a few µs, no thread
/// hand-off), else on the blocking pool, where waiting for another process's
/// lock doesn't hold up this async worker. `f` may therefore run twice: it
/// must be a store call that changed nothing when it gave up (see
/// [`crate::store::try_without_waiting`]).
pub(crate) async fn blocking<T, F>(f: F) -> Result<T, Refusal>
where
    T: Send + 'static,
    F: Fn() -> Result<T, StoreError> + Send + 'static,
{
    if let Some(r) = crate::store::try_without_waiting(&f) {
        return r.map_err(Refusal::from);
    }
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r.map_err(Refusal::from),
        Err(e) => Err(Refusal::Unavailable(format!("internal error: {e}"))),
    }
}

/// The pipeline and everything its stages need.
#[derive(Clone, Debug)]
pub struct Guard {
    pub(crate) store: Store,
    pub(crate) clock: SharedClock,
    /// The settings; each call takes one snapshot and keeps it throughout.
    pub(crate) config: LiveConfig,
    pub(crate) catalog: Catalog,
    pub(crate) recorder: Recorder,
    /// Calls in flight, so a stopping server can let them finish and be recorded.
    pub(crate) inflight: TaskTracker,
}

/// What `handle` learned on the way, for the record.
#[derive(Default)]
struct Seen {
    agent: Option<AgentRow>,
    tool: Option<ToolEntry>,
}

impl Guard {
    /// A guard over `store`, with `config` (fixed, or live and reloaded), offering `catalog`.
    pub fn new(
        store: Store,
        clock: SharedClock,
        config: impl Into<LiveConfig>,
        catalog: Catalog,
        redactor: Redactor,
    ) -> Self {
        let config = config.into();
        let recorder = Recorder {
            store: store.clone(),
            redactor,
        };
        Self {
            store,
            clock,
            config,
            catalog,
            recorder,
            inflight: TaskTracker::new(),
        }
    }

    /// Waits (at most `limit`) for calls in flight to finish and be recorded.
    pub async fn drain(&self, limit: std::time::Duration) {
        self.inflight.close();
        if tokio::time::timeout(limit, self.inflight.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                calls = self.inflight.len(),
                "calls still running at shutdown were not recorded"
            );
        }
    }

    /// The settings this guard runs with now (one consistent version).
    pub fn config(&self) -> Arc<Config> {
        self.config.snapshot()
    }

    /// Runs one call through the pipeline and records it.
    pub async fn handle(&self, call: Call) -> Outcome {
        let _inflight = self.inflight.token();
        let time = self.clock.now();
        let started = Instant::now();
        let args = call.args.expose().clone();
        let (trace_id, request_id, tool_sent) = (
            call.trace_id.clone(),
            call.request_id.clone(),
            call.tool.clone(),
        );
        // Only a bad token needs it afterwards, to name the source of the failure.
        let caller = call.caller.clone();
        let mut seen = Seen::default();
        // One version of the settings for the whole call, whatever a reload does meanwhile.
        let config = self.config.snapshot();
        let outcome = self.run(call, &config, &mut seen).await;

        let redactor = &self.recorder.redactor;
        let safe = seen
            .tool
            .as_ref()
            .map(|t| t.safe.clone())
            .unwrap_or_default();
        let agent = seen
            .agent
            .as_ref()
            .map(|a| a.name.clone())
            .or_else(|| refused_agent(&outcome));
        let latency = started.elapsed();
        let tool = seen
            .tool
            .map_or_else(|| tool_label(redactor, &tool_sent), |t| t.name.to_string());
        let bad_token = matches!(
            outcome,
            Outcome::Refused(Refusal::Denied(DenyReason::BadToken))
        );
        let message = if bad_token {
            Some(record::bad_token_message(redactor, &caller))
        } else {
            record::message(redactor, &outcome, &args, &tool)
        };
        let record = CallRecord {
            time,
            trace_id,
            request_id,
            verified: seen.agent.as_ref().map(|a| a.verified),
            agent,
            tool,
            status: outcome.status(),
            code: outcome.code().map(str::to_string),
            latency_us: latency.as_micros() as i64,
            args: redactor.summarize(&args, &safe).to_string(),
            message,
            // What the alert rules read: facts, never the message's wording.
            refusal_scope: outcome.refusal_scope().map(str::to_string),
            deny_reason: outcome.deny_reason().map(str::to_string),
            client: bad_token.then(|| record::client_label(redactor, &caller)),
        };
        let error_type = outcome.error_type();
        spans::end_call(
            &tracing::Span::current(),
            spans::Ending {
                agent: record.agent.as_deref(),
                verified: record.verified,
                outcome: record.status.name(),
                code: record.code.as_deref(),
                args: &record.args,
                error_type,
            },
        );
        metrics::record_call(latency.as_secs_f64(), &record.tool, error_type);
        self.recorder
            .write(record)
            .instrument(spans::stage("guard.record"))
            .await;
        outcome
    }

    async fn run(&self, call: Call, config: &Config, seen: &mut Seen) -> Outcome {
        let identify = Identify {
            store: &self.store,
            clock: &self.clock,
            wait: config.approval_wait,
        };
        let agent = match identify
            .approved(&call.caller, &call.cancel, &call.client_gone)
            .instrument(spans::stage("guard.identify"))
            .await
        {
            Ok(a) => seen.agent.insert(a).clone(),
            Err(r) => return Outcome::Refused(r),
        };
        let allowed = spans::stage("guard.policy")
            .in_scope(|| policy::check(&config.policy_for(&agent.name), &agent, &call.tool));
        if let Err(r) = allowed {
            return Outcome::Refused(r);
        }
        // Waits, bounded, for upstreams still starting: worth its own span.
        let found = self
            .catalog
            .lookup(&call.tool)
            .instrument(spans::stage("guard.lookup"))
            .await;
        let tool = match found {
            Lookup::Found(t) => seen.tool.insert(t).clone(),
            Lookup::Unavailable(e) => return Outcome::UpstreamFailed(e),
            Lookup::Unknown => return Outcome::UnknownTool,
        };
        let permit = match limit::take(
            &self.store,
            &config.limits,
            &agent.name,
            &tool,
            self.clock.now(),
        )
        .instrument(spans::stage("guard.limit"))
        .await
        {
            Ok(p) => p,
            Err(r) => return Outcome::Refused(r),
        };
        execute::run(self, config, &agent, &tool, call, permit).await
    }

    /// `sent` as history, logs and spans name the tool: as sent when it is a
    /// well-formed tool name with nothing personal in it, else hidden.
    pub fn tool_label(&self, sent: &str) -> String {
        tool_label(&self.recorder.redactor, sent)
    }

    /// The tools `agent` may call (policy applied, as `config` has it);
    /// none when its stored tool lists can't be read.
    pub async fn visible(&self, config: &Config, agent: &AgentRow) -> Vec<ToolEntry> {
        let policy = config.policy_for(&agent.name);
        let rules = match policy::Rules::new(&policy, agent) {
            Ok(rules) => rules,
            Err(refusal) => {
                tracing::warn!(agent = %agent.name, refusal = ?refusal, "tools/list: the agent's tool lists can't be used; no tools listed");
                return Vec::new();
            }
        };
        self.catalog
            .list()
            .await
            .into_iter()
            .filter(|t| rules.allows(t.name.as_str()))
            .collect()
    }

    /// What `tools/list` shows `caller`: the tools it may call. A pending
    /// agent sees what it may call once approved (its calls then wait for the
    /// user); denied, revoked and unknown-token callers see nothing.
    pub async fn list_tools(&self, caller: &Caller) -> Vec<ToolEntry> {
        let config = self.config.snapshot();
        let identify = Identify {
            store: &self.store,
            clock: &self.clock,
            wait: config.approval_wait,
        };
        match identify.lookup(caller).await {
            Ok(agent) if matches!(agent.status, AgentStatus::Approved | AgentStatus::Pending) => {
                self.visible(&config, &agent).await
            }
            Ok(agent) => {
                tracing::warn!(agent = %agent.name, status = agent.status.name(), "tools/list: agent may not call tools");
                Vec::new()
            }
            Err(r) => {
                tracing::warn!(refusal = ?r, "tools/list: caller not identified");
                Vec::new()
            }
        }
    }
}

/// The agent a refusal names, when identify stopped the call.
fn refused_agent(outcome: &Outcome) -> Option<String> {
    match outcome {
        Outcome::Refused(Refusal::Denied(
            DenyReason::AgentDenied { agent }
            | DenyReason::AgentRevoked { agent }
            | DenyReason::TokenRequired { agent },
        ))
        | Outcome::Refused(Refusal::ApprovalPending { agent, .. }) => Some(agent.clone()),
        Outcome::Refused(Refusal::Denied(DenyReason::Paused { agent })) => agent.clone(),
        _ => None,
    }
}

/// A tool name as the history shows it: as sent when it is a well-formed
/// tool name with nothing personal in it, else hidden like any value.
fn tool_label(redactor: &Redactor, sent: &str) -> String {
    if ToolName::parse(sent).is_ok() && !pii::has_pii(sent) {
        sent.to_string()
    } else {
        format!("<tool:{} #{}>", sent.chars().count(), redactor.hash(sent))
    }
}
