//! Spawning and supervising one upstream: start it, list its tools, wait for
//! it to end, restart with exponential backoff (500 ms doubling to 60 s, reset
//! after a minute of good health). Children get Gatehouse's environment minus
//! its credentials, run in their own process group, and die with Gatehouse.

use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rmcp::ServiceExt;
use rmcp::service::{Peer, RoleClient};
use tokio::process::{Child, Command};
use tokio::sync::{Notify, broadcast, oneshot};
use tokio_util::sync::CancellationToken;

use super::client::UpstreamClient;
use super::transport::UpstreamTransport;
use super::{UpState, Upstream, UpstreamEvent};
use crate::config::ServerSettings;
use crate::home::EnvMap;
use crate::wire::lines::{Line, LineReader};

/// First restart delay; doubles per failure up to `MAX_BACKOFF`.
const MIN_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// An upstream that ran this long counts as healthy: its next restart is quick again.
const HEALTHY_AFTER: Duration = Duration::from_secs(60);
/// How long the MCP handshake may take (a first `npx` run downloads packages).
const HANDSHAKE: Duration = Duration::from_secs(60);
/// Whether Gatehouse's environment variable `name` is kept from upstream
/// children (unless their `[[upstream]] env` table sets it): every
/// `GATEHOUSE_*` variable (the agent's token, an OAuth client secret, the
/// home folder where the redaction key lies, which would let an upstream
/// reverse argument hashes) and the OTLP exporter's headers (a collector's
/// API key). No credential of Gatehouse's passes through.
fn withheld(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    upper.starts_with("GATEHOUSE_")
        || (upper.starts_with("OTEL_EXPORTER_OTLP_") && upper.ends_with("HEADERS"))
}

/// Keeps supervising `up` until `shutdown`.
pub(super) async fn supervise(
    up: Arc<Upstream>,
    settings: ServerSettings,
    env: EnvMap,
    events: broadcast::Sender<UpstreamEvent>,
    shutdown: CancellationToken,
) {
    let spawner = Spawner::new();
    let mut backoff = MIN_BACKOFF;
    let name = up.name().to_string();
    loop {
        let began = Instant::now();
        let ended = tokio::select! {
            r = run_once(&up, &settings, &env, &events, &spawner, &shutdown) => r,
            () = shutdown.cancelled() => return,
        };
        if shutdown.is_cancelled() {
            return;
        }
        if began.elapsed() >= HEALTHY_AFTER {
            backoff = MIN_BACKOFF;
        }
        tracing::warn!(upstream = %name, reason = %ended, retry_in_ms = backoff.as_millis() as u64, "upstream is down");
        up.state.send_replace(UpState::Down {
            reason: ended,
            retry_at: Instant::now() + backoff,
        });
        let _ = events.send(UpstreamEvent::ToolsChanged);
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            () = shutdown.cancelled() => return,
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Runs the upstream once; returns why it ended.
async fn run_once(
    up: &Arc<Upstream>,
    settings: &ServerSettings,
    env: &EnvMap,
    events: &broadcast::Sender<UpstreamEvent>,
    spawner: &Spawner,
    shutdown: &CancellationToken,
) -> String {
    let name = up.name().to_string();
    let mut child = match spawner.spawn(command(up, env)).await {
        Ok(c) => c,
        Err(e) => return format!("cannot start `{}`: {e}", up.config.command),
    };
    let pid = child.id();
    let (Some(stdin), Some(stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return "the child's stdio could not be opened".into();
    };
    tokio::spawn(log_stderr(up.clone(), stderr));
    let relist = Arc::new(Notify::new());
    let handler = UpstreamClient {
        name: name.clone(),
        routes: up.routes.clone(),
        events: events.clone(),
        relist: relist.clone(),
    };
    let transport = UpstreamTransport::new(&name, stdout, stdin, settings.max_message_bytes);
    let running = match tokio::time::timeout(HANDSHAKE, handler.serve(transport)).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            let why = format!("the MCP handshake failed: {}", up.keep(&e.to_string()));
            return stop(child, pid, why).await;
        }
        Err(_) => return stop(child, pid, format!("no MCP handshake within {HANDSHAKE:?}")).await,
    };
    let peer = running.peer().clone();
    if let Err(e) = publish_tools(up, &peer, events).await {
        running.cancellation_token().cancel();
        return stop(child, pid, e).await;
    }
    tracing::info!(upstream = %name, pid, "upstream is up");
    let stop_service = running.cancellation_token();
    let waiting = running.waiting();
    tokio::pin!(waiting);
    let reason = loop {
        tokio::select! {
            r = &mut waiting => break format!("it exited ({})", match r { Ok(q) => format!("{q:?}"), Err(e) => e.to_string() }),
            () = relist.notified() => {
                if let Err(e) = publish_tools(up, &peer, events).await {
                    tracing::warn!(upstream = %name, error = %e, "re-reading the tool list failed");
                }
            }
            () = shutdown.cancelled() => {
                stop_service.cancel();
                break "Gatehouse is shutting down".into();
            }
        }
    };
    stop(child, pid, reason).await
}

async fn publish_tools(
    up: &Upstream,
    peer: &Peer<RoleClient>,
    events: &broadcast::Sender<UpstreamEvent>,
) -> Result<(), String> {
    let tools = tokio::time::timeout(HANDSHAKE, peer.list_all_tools())
        .await
        .map_err(|_| "tools/list timed out".to_string())?
        // The upstream's error message, kept as `keep` allows.
        .map_err(|e| format!("tools/list failed: {}", up.keep(&e.to_string())))?;
    up.state.send_replace(UpState::Up {
        peer: peer.clone(),
        tools: Arc::new(tools),
    });
    let _ = events.send(UpstreamEvent::ToolsChanged);
    Ok(())
}

fn command(up: &Upstream, env: &EnvMap) -> Command {
    let c = &up.config;
    let mut cmd = Command::new(&c.command);
    cmd.args(&c.args)
        .env_clear()
        .envs(env.iter().filter(|(k, _)| !withheld(k)))
        // Set explicitly for this upstream: passed even when withheld above.
        .envs(&c.env)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(cwd) = &c.cwd {
        cmd.current_dir(cwd);
    }
    #[cfg(unix)]
    {
        // Its own group, so the whole tree (e.g. npx → node) can be stopped together.
        cmd.process_group(0);
    }
    #[cfg(target_os = "linux")]
    // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            // Die with the thread that spawned us (the Spawner's, which lives as long as Gatehouse).
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    cmd
}

/// Stops the child's process group: SIGTERM, a second's grace, then SIGKILL.
async fn stop(mut child: Child, pid: Option<u32>, reason: String) -> String {
    #[cfg(unix)]
    if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) {
        // SAFETY: signalling a process group we created.
        unsafe { libc::kill(-pid, libc::SIGTERM) };
        if tokio::time::timeout(Duration::from_secs(1), child.wait())
            .await
            .is_err()
        {
            unsafe { libc::kill(-pid, libc::SIGKILL) };
        }
    }
    let _ = child.kill().await;
    reason
}

/// The upstream's stderr into our log, line by line, as `Upstream::keep`
/// allows: scrubbed until its first call, then as length and hash (it may
/// echo arguments).
async fn log_stderr(up: Arc<Upstream>, stderr: tokio::process::ChildStderr) {
    let name = up.name().to_string();
    let mut lines = LineReader::new(stderr, 16 * 1024);
    loop {
        match lines.next().await {
            Line::Whole(l) => {
                let text = up.keep(&String::from_utf8_lossy(&l));
                tracing::info!(target: "gatehouse::upstream::stderr", upstream = %name, line = %text);
            }
            Line::Oversized { .. } => {
                tracing::info!(target: "gatehouse::upstream::stderr", upstream = %name, "(a very long stderr line was skipped)")
            }
            Line::Eof | Line::Failed(_) => return,
        }
    }
}

type SpawnRequest = (Command, oneshot::Sender<std::io::Result<Child>>);

/// Spawns children from one long-lived thread: Linux's parent-death signal
/// fires when the spawning *thread* exits, so it must not be a pooled thread
/// that may retire. The thread ends when the supervisor drops the spawner.
struct Spawner(std::sync::mpsc::Sender<SpawnRequest>);

impl Spawner {
    fn new() -> Self {
        let (tx, rx) = std::sync::mpsc::channel::<SpawnRequest>();
        let handle = tokio::runtime::Handle::current();
        std::thread::Builder::new()
            .name("gatehouse-spawn".into())
            .spawn(move || {
                let _rt = handle.enter();
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
            })
            .expect("spawn the upstream spawner thread");
        Self(tx)
    }

    async fn spawn(&self, cmd: Command) -> std::io::Result<Child> {
        let (tx, rx) = oneshot::channel();
        self.0
            .send((cmd, tx))
            .map_err(|_| std::io::Error::other("the spawner thread stopped"))?;
        rx.await
            .map_err(|_| std::io::Error::other("the spawner thread stopped"))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gatehouse_variables_and_otlp_headers_are_withheld() {
        for name in [
            "GATEHOUSE_TOKEN",
            "GATEHOUSE_HOME",
            "GATEHOUSE_CLIENT_SECRET",
            "GATEHOUSE_CONFIG",
            "OTEL_EXPORTER_OTLP_HEADERS",
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
            "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
        ] {
            assert!(withheld(name), "{name}");
        }
        for name in [
            "PATH",
            "HOME",
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "OTEL_SERVICE_NAME",
            "MY_GATEHOUSE_NOTE",
        ] {
            assert!(!withheld(name), "{name}");
        }
    }
}
