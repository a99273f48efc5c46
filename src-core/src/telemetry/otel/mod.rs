//! OpenTelemetry for `serve`: one tracer provider whose spans go, each through
//! its own bounded background batcher, to the local span files in `traces/`
//! and (when the `OTEL_EXPORTER_OTLP_*` variables say so) to an OTLP/HTTP
//! collector, plus the duration histogram for that collector. The `tracing`
//! layer it gives turns Gatehouse's spans (and only those: rmcp's are
//! filtered out) into OpenTelemetry spans. Nothing here writes to stdout.

pub mod batch;
pub mod file;
pub mod metrics;
pub mod otlp;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider, SpanProcessor};
use tracing::Level;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::{Layer, Registry};

use self::batch::{BatchConfig, Batcher};
use self::otlp::{OtlpError, OtlpSettings};
use super::spans;
use crate::home::EnvMap;

/// A `tracing` layer for the registry `serve` installs.
pub type BoxedLayer = Box<dyn Layer<Registry> + Send + Sync>;

/// How long a span may wait before it reaches the span files: `gatehouse
/// trace` sees a call about a second after it ends.
const FILE_DELAY: Duration = Duration::from_secs(1);
/// How long a span may wait before it is sent to the collector.
const OTLP_DELAY: Duration = Duration::from_secs(2);
/// Spans waiting beyond this many are dropped (and counted).
const MAX_QUEUE: usize = 4096;
/// Spans per export.
const MAX_BATCH: usize = 512;
/// At shutdown, how long the span files may take to be written.
const FILE_SHUTDOWN: Duration = Duration::from_secs(3);
/// At shutdown, how long a collector may take (a dead one must not hold up the exit).
const OTLP_SHUTDOWN: Duration = Duration::from_millis(1500);

/// Where spans go, as configured.
#[derive(Clone, Debug, Default)]
pub struct Sinks<'a> {
    /// The span files' folder and how many days they are kept (`None`: no files).
    pub files: Option<(&'a Path, u32)>,
    /// The OTLP collector, if any.
    pub otlp: Option<OtlpSettings>,
}

impl<'a> Sinks<'a> {
    /// Span files in `dir` when `local_files`, kept `keep_days`; OTLP from `env`.
    /// An unusable OTLP setting comes back as the error, with files still on.
    pub fn new(
        local_files: bool,
        dir: &'a Path,
        keep_days: u32,
        env: &EnvMap,
    ) -> (Self, Option<OtlpError>) {
        let files = local_files.then_some((dir, keep_days));
        match OtlpSettings::from_env(env) {
            Ok(otlp) => (Self { files, otlp }, None),
            Err(e) => (Self { files, otlp: None }, Some(e)),
        }
    }
}

/// Telemetry could not start.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// The span folder can't be created, or a thread can't be started.
    #[error("cannot write spans to {dir}: {reason}")]
    Files {
        /// The folder.
        dir: String,
        /// Why.
        reason: String,
    },
    /// The OTLP exporter could not be built.
    #[error(transparent)]
    Otlp(#[from] OtlpError),
}

/// The running providers; `shutdown` flushes them, bounded.
pub struct Telemetry {
    tracer: Option<SdkTracerProvider>,
    /// The provider's batchers, each with how long its last flush may take.
    batchers: Vec<(Arc<Batcher>, Duration)>,
    meter: Option<SdkMeterProvider>,
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Telemetry")
            .field("traces", &self.tracer.is_some())
            .field("metrics", &self.meter.is_some())
            .finish()
    }
}

fn resource(env: &EnvMap) -> Resource {
    let name = env
        .get("OTEL_SERVICE_NAME")
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .unwrap_or("gatehouse")
        .to_string();
    Resource::builder_empty()
        .with_service_name(name)
        .with_attributes([
            KeyValue::new("service.version", env!("CARGO_PKG_VERSION")),
            KeyValue::new("process.pid", i64::from(std::process::id())),
        ])
        .build()
}

impl Telemetry {
    /// Nothing recorded: no spans beyond `tracing`'s, no metrics.
    pub fn off() -> Self {
        Self {
            tracer: None,
            batchers: Vec::new(),
            meter: None,
        }
    }

    /// Starts the providers `sinks` needs (none when it needs none).
    pub fn start(sinks: &Sinks<'_>, env: &EnvMap) -> Result<Self, TelemetryError> {
        let resource = resource(env);
        let otlp_spans = match &sinks.otlp {
            Some(s) => s.span_exporter()?,
            None => None,
        };
        let mut tracer = None;
        let mut batchers = Vec::new();
        if sinks.files.is_some() || otlp_spans.is_some() {
            let mut builder = SdkTracerProvider::builder()
                .with_sampler(Sampler::AlwaysOn)
                .with_resource(resource.clone());
            if let Some((dir, keep_days)) = sinks.files {
                let files_err = |e: std::io::Error| TelemetryError::Files {
                    dir: dir.display().to_string(),
                    reason: e.to_string(),
                };
                let exporter =
                    file::FileExporter::new(dir, keep_days, &resource).map_err(files_err)?;
                let batcher = Batcher::start(exporter, batch_config("files", FILE_DELAY))
                    .map_err(files_err)?;
                let batcher = Arc::new(batcher);
                builder = builder.with_span_processor(Shared(batcher.clone()));
                batchers.push((batcher, FILE_SHUTDOWN));
            }
            if let Some(mut exporter) = otlp_spans {
                use opentelemetry_sdk::trace::SpanExporter as _;
                exporter.set_resource(&resource);
                let batcher = Batcher::start(exporter, batch_config("otlp", OTLP_DELAY))
                    .map_err(|e| TelemetryError::Otlp(OtlpError::Build(e.to_string())))?;
                let batcher = Arc::new(batcher);
                builder = builder.with_span_processor(Shared(batcher.clone()));
                batchers.push((batcher, OTLP_SHUTDOWN));
            }
            tracer = Some(builder.build());
        }
        let mut meter = None;
        if let Some(settings) = &sinks.otlp
            && let Some(exporter) = settings.metric_exporter()?
        {
            let reader = PeriodicReader::builder(metrics::Logged::new(exporter))
                .with_interval(settings.metric_interval)
                .build();
            let provider = SdkMeterProvider::builder()
                .with_resource(resource)
                .with_reader(reader)
                .build();
            metrics::install(&provider);
            meter = Some(provider);
        }
        Ok(Self {
            tracer,
            batchers,
            meter,
        })
    }

    /// Whether spans are recorded anywhere.
    pub fn traces_on(&self) -> bool {
        self.tracer.is_some()
    }

    /// The layer that makes Gatehouse's `tracing` spans OpenTelemetry spans
    /// (`None` when spans go nowhere: then they cost what `tracing` costs).
    pub fn layer(&self) -> Option<BoxedLayer> {
        let provider = self.tracer.as_ref()?;
        let tracer = provider.tracer_with_scope(
            InstrumentationScope::builder("gatehouse")
                .with_version(env!("CARGO_PKG_VERSION"))
                .build(),
        );
        let layer = tracing_opentelemetry::layer()
            .with_tracer(tracer)
            .with_location(false)
            .with_threads(false)
            .with_level(false)
            .with_target(false)
            .with_tracked_inactivity(false)
            .with_context_activation(false)
            .with_filter(filter_fn(|meta| {
                if meta.is_span() {
                    meta.target() == spans::TARGET
                } else {
                    // Warnings and errors inside a call become span events.
                    meta.target().starts_with("gatehouse")
                        && !meta.target().starts_with("gatehouse::traces")
                        && *meta.level() <= Level::WARN
                }
            }));
        Some(Box::new(layer))
    }

    /// Flushes and stops everything: the span files get up to 3 s, a
    /// collector 1.5 s (a dead one is given up on, never waited for).
    pub fn shutdown(self) {
        let Self {
            tracer,
            batchers,
            meter,
        } = self;
        let metrics = std::thread::spawn(move || {
            if let Some(m) = meter {
                let _ = m.shutdown();
            }
        });
        for (b, limit) in &batchers {
            let _ = b.shutdown_with_timeout(*limit);
        }
        // Its processors are stopped: this only releases the provider.
        drop(tracer);
        wait(metrics, OTLP_SHUTDOWN);
    }
}

/// A batcher shared between the provider and `Telemetry`, so each can be
/// stopped with its own time limit.
#[derive(Debug)]
struct Shared(Arc<Batcher>);

impl SpanProcessor for Shared {
    fn on_start(&self, span: &mut opentelemetry_sdk::trace::Span, cx: &opentelemetry::Context) {
        self.0.on_start(span, cx);
    }
    fn on_end(&self, span: opentelemetry_sdk::trace::SpanData) {
        self.0.on_end(span);
    }
    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }
}

fn batch_config(name: &'static str, delay: Duration) -> BatchConfig {
    BatchConfig {
        name,
        max_queue: MAX_QUEUE,
        max_batch: MAX_BATCH,
        delay,
    }
}

/// Waits for `t` at most `limit`; a thread still running then is left behind.
fn wait(t: std::thread::JoinHandle<()>, limit: Duration) {
    let deadline = std::time::Instant::now() + limit;
    while !t.is_finished() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    if t.is_finished() {
        let _ = t.join();
    }
}
