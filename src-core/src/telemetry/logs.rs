//! Log output. `serve` writes JSON lines to daily files in `logs/`, and
//! warnings to stderr, which clients show in their MCP logs. Nothing goes to
//! stdout. Each line is one `write` to the file, made by the thread that logs
//! it: no line is ever dropped or left in a buffer, and no per-line hand-off
//! to a writer thread sits in a tool call's path (a write to the page cache
//! costs a few µs; a thread wake-up costs more).
//! rmcp's own events are capped at ERROR: its warnings and debug output quote
//! error messages and raw lines, which may hold argument values.

use std::path::Path;

use tracing::Level;
use tracing_appender::rolling::{RollingFileAppender, Rotation};
use tracing_subscriber::filter::{EnvFilter, filter_fn};
use tracing_subscriber::prelude::*;

use super::otel::BoxedLayer;

/// Logging in place for as long as it lives. Lines are written as they are
/// logged, so there is nothing to flush; the guard keeps the API of writers
/// that buffer.
#[must_use = "keep the guard until the process ends"]
pub struct LogGuard {
    _private: (),
}

/// Logging could not start.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The log folder can't be created or written.
    #[error("cannot write logs in {dir}: {reason}")]
    Dir {
        /// The folder.
        dir: String,
        /// Why.
        reason: String,
    },
    /// `GATEHOUSE_LOG` is not a valid filter.
    #[error("GATEHOUSE_LOG is not a valid log filter: {0}")]
    Filter(String),
}

fn not_noisy_rmcp(meta: &tracing::Metadata<'_>) -> bool {
    !meta.target().starts_with("rmcp") || *meta.level() <= Level::ERROR
}

/// Log lines are events: the spans of calls (which these layers never print)
/// are left to the OpenTelemetry layer, so they cost no formatting here.
fn for_logs(meta: &tracing::Metadata<'_>) -> bool {
    not_noisy_rmcp(meta) && !(meta.is_span() && meta.target() == super::spans::TARGET)
}

fn filter(spec: Option<&str>, default: &str) -> Result<EnvFilter, LogError> {
    EnvFilter::builder()
        .parse(spec.filter(|s| !s.is_empty()).unwrap_or(default))
        .map_err(|e| LogError::Filter(e.to_string()))
}

/// Logging for `serve`: JSON files in `logs_dir` (kept `keep_days` files) and
/// warnings on stderr. `spec` is `GATEHOUSE_LOG` (EnvFilter syntax) for the file.
pub fn init_serve(
    logs_dir: &Path,
    keep_days: u32,
    spec: Option<&str>,
) -> Result<LogGuard, LogError> {
    init_serve_with(logs_dir, keep_days, spec, None)
}

/// As `init_serve`, plus `spans` (the OpenTelemetry layer, when traces are on).
pub fn init_serve_with(
    logs_dir: &Path,
    keep_days: u32,
    spec: Option<&str>,
    spans: Option<BoxedLayer>,
) -> Result<LogGuard, LogError> {
    let dir_err = |e: &dyn std::fmt::Display| LogError::Dir {
        dir: logs_dir.display().to_string(),
        reason: e.to_string(),
    };
    std::fs::create_dir_all(logs_dir).map_err(|e| dir_err(&e))?;
    let appender = RollingFileAppender::builder()
        .rotation(Rotation::DAILY)
        .filename_prefix("gatehouse")
        .filename_suffix("jsonl")
        .max_log_files(keep_days.max(1) as usize)
        .build(logs_dir)
        .map_err(|e| dir_err(&e))?;
    let file = tracing_subscriber::fmt::layer()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_writer(appender)
        .with_filter(filter(spec, "info")?)
        .with_filter(filter_fn(for_logs));
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_target(false)
        .with_filter(filter(None, "warn")?)
        .with_filter(filter_fn(for_logs));
    // A second init (tests that run serve in-process) keeps the first subscriber.
    let _ = tracing_subscriber::registry()
        .with(spans)
        .with(file)
        .with(stderr)
        .try_init();
    Ok(LogGuard { _private: () })
}

/// Logging for CLI commands: warnings and errors on stderr only.
pub fn init_cli(spec: Option<&str>) -> LogGuard {
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_target(false)
        .with_filter(filter(spec, "warn").unwrap_or_else(|_| EnvFilter::new("warn")))
        .with_filter(filter_fn(not_noisy_rmcp));
    let _ = tracing_subscriber::registry().with(layer).try_init();
    LogGuard { _private: () }
}
