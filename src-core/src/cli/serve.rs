//! `gatehouse serve`: picks the real side effects (stdin/stdout, the system
//! clock, the database and key under the home folder, the span files and
//! OTLP collector, Ctrl-C/SIGTERM) and calls `server::run`. A broken config
//! stops it before anything starts.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use gatehouse::config::reload::Reloader;
use gatehouse::server::{self, Deps, ProcessIdentity};
use gatehouse::store::Store;
use gatehouse::telemetry::otel::{Sinks, Telemetry};
use gatehouse::telemetry::{Redactor, logs};

use super::Ctx;

pub fn run(ctx: Ctx) -> Result<ExitCode> {
    // Fail closed: with a broken config, serve nothing rather than serve with guesses.
    let (live, reloader) =
        Reloader::load(&ctx.home).context("gatehouse serve will not start with a broken config")?;
    let config = live.snapshot();
    let (sinks, otlp_problem) = Sinks::new(
        config.traces.local_files,
        &ctx.home.traces_dir,
        config.retention_days,
        &ctx.env,
    );
    // Telemetry is no guardrail: if it can't start, serve without it and say why.
    let (telemetry, telemetry_problem) = match Telemetry::start(&sinks, &ctx.env) {
        Ok(t) => (t, None),
        Err(e) => (Telemetry::off(), Some(e)),
    };
    let _log = logs::init_serve_with(
        &ctx.home.logs_dir,
        config.retention_days,
        ctx.env.get("GATEHOUSE_LOG").map(String::as_str),
        telemetry.layer(),
    )?;
    if let Some(e) = otlp_problem {
        tracing::warn!("spans and metrics are not exported to OTLP: {e}");
    }
    if let Some(e) = telemetry_problem {
        tracing::warn!("spans are not recorded: {e}");
    }
    let store = Store::open(&ctx.home.db_file)
        .context("gatehouse serve needs its database (run `gatehouse doctor`)")?;
    let redactor = Redactor::load_or_create(&ctx.home.key_file)?;
    let identity = ProcessIdentity::detect(&ctx.env);
    tracing::info!(
        pid = std::process::id(),
        traces = telemetry.traces_on(),
        token = identity.token.is_some(),
        parent_exe = identity.parent_exe.as_deref(),
        upstreams = config.upstreams.len(),
        "gatehouse serve starting"
    );
    let accounts = gatehouse::oauth::Accounts::new(
        store.clone(),
        gatehouse::secrets::Secrets::system(config.secrets),
        Arc::new(config.oauth.clone()),
        ctx.clock.clone(),
    );
    // Edits to config.toml apply while serving (budgets, policies, approval, alerts).
    let stop_reloading = tokio_util::sync::CancellationToken::new();
    let _stop_reloading = stop_reloading.clone().drop_guard();
    if let Err(e) = reloader.spawn(stop_reloading) {
        tracing::warn!("edits to the config apply at the next start only: {e}");
    }
    let deps = Deps {
        store,
        clock: ctx.clock.clone(),
        config: live,
        redactor,
        identity,
        env: ctx.env.clone(),
        accounts: Some(accounts),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("gatehouse")
        .enable_all()
        .build()?;
    let result = runtime.block_on(async {
        let (stdin, stdout) = server::stdio::stdio();
        server::run(stdin, stdout, deps, shutdown_signal()).await
    });
    // When stdin is not a pipe, its reader thread may be parked in a blocking read: don't wait for it.
    runtime.shutdown_timeout(Duration::from_millis(200));
    // The last spans reach their files (and, bounded, the collector).
    telemetry.shutdown();
    tracing::info!("gatehouse serve stopped");
    result?;
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => return std::future::pending().await,
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
