//! The `mcp.server.operation.duration` histogram of the OTel semantic
//! conventions for MCP, exported when an OTLP endpoint is set. Recording is an
//! in-memory aggregation; a periodic reader exports it from its own thread.
//! Failed exports are logged at most once a minute.

use std::sync::Mutex;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Histogram, MeterProvider};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::{SdkMeterProvider, Temporality};

/// The instrument's name.
pub const DURATION: &str = "mcp.server.operation.duration";

/// Bucket boundaries the MCP semantic conventions recommend, in seconds.
const BOUNDARIES: [f64; 14] = [
    0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];

static HISTOGRAM: OnceLock<Histogram<f64>> = OnceLock::new();

/// Creates the histogram on `provider`; calls recorded before (or without) it
/// cost nothing. Only the first provider of a process counts.
pub fn install(provider: &SdkMeterProvider) {
    let h = provider
        .meter("gatehouse")
        .f64_histogram(DURATION)
        .with_unit("s")
        .with_description("Duration of MCP requests handled by Gatehouse, guard included.")
        .with_boundaries(BOUNDARIES.to_vec())
        .build();
    let _ = HISTOGRAM.set(h);
}

/// Records one `tools/call` that took `seconds`; `tool` is the history's
/// label and `error_type` the span's `error.type`.
pub fn record_call(seconds: f64, tool: &str, error_type: Option<&str>) {
    let Some(h) = HISTOGRAM.get() else { return };
    let mut attrs = vec![
        KeyValue::new("mcp.method.name", "tools/call"),
        KeyValue::new("gen_ai.tool.name", tool.to_string()),
        KeyValue::new("gen_ai.operation.name", "execute_tool"),
        KeyValue::new("network.transport", "pipe"),
    ];
    if let Some(e) = error_type {
        attrs.push(KeyValue::new("error.type", e.to_string()));
    }
    h.record(seconds, &attrs);
}

/// A metric exporter that says in the log when exports fail (once a minute).
#[derive(Debug)]
pub struct Logged<E> {
    inner: E,
    last_warning: Mutex<Option<Instant>>,
}

impl<E> Logged<E> {
    /// Wraps `inner`.
    pub fn new(inner: E) -> Self {
        Self {
            inner,
            last_warning: Mutex::new(None),
        }
    }
}

impl<E: PushMetricExporter> PushMetricExporter for Logged<E> {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        let result = self.inner.export(metrics).await;
        if let Err(e) = &result {
            let mut last = self.last_warning.lock().unwrap_or_else(|p| p.into_inner());
            if last.is_none_or(|t| t.elapsed() >= Duration::from_secs(60)) {
                *last = Some(Instant::now());
                tracing::warn!(
                    target: "gatehouse::traces",
                    error = %crate::telemetry::redact::truncate(&e.to_string(), 200),
                    "metrics could not be exported to the OTLP collector (calls are not affected)"
                );
            }
        }
        result
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn temporality(&self) -> Temporality {
        self.inner.temporality()
    }
}
