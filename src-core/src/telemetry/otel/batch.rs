//! A bounded, batching span processor. `on_end`, the only part on a call's
//! path, pushes the finished span onto a bounded queue (a full queue drops it
//! and counts it); one background thread per exporter takes batches off the
//! queue and exports them. A slow or dead exporter (a collector that is down)
//! so never slows or fails a call. Drops and failed exports are logged at most
//! once a minute, and once more at shutdown.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use opentelemetry::Context;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{Span, SpanData, SpanExporter, SpanProcessor};

/// How a `Batcher` batches.
#[derive(Clone, Copy, Debug)]
pub struct BatchConfig {
    /// The exporter's name in log lines (`files`, `otlp`).
    pub name: &'static str,
    /// Spans waiting beyond this are dropped (and counted).
    pub max_queue: usize,
    /// At most this many spans per export.
    pub max_batch: usize,
    /// A span waits at most this long before it is exported.
    pub delay: Duration,
}

/// How often drops and failures are reported while they go on.
const REPORT_EVERY: Duration = Duration::from_secs(60);

#[derive(Default)]
struct State {
    queue: Vec<SpanData>,
    flush_asked: u64,
    flush_done: u64,
    stop: bool,
    exited: bool,
}

struct Shared {
    state: Mutex<State>,
    /// Wakes the export thread: a full batch, a flush, a stop.
    wake: Condvar,
    /// Wakes whoever waits for a flush or the stop.
    done: Condvar,
    /// Spans dropped because the queue was full.
    dropped: AtomicU64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits on `done` until `finished(state)` or `deadline`; false on the deadline.
    fn wait_done(
        &self,
        mut st: MutexGuard<'_, State>,
        deadline: Instant,
        finished: impl Fn(&State) -> bool,
    ) -> bool {
        while !finished(&st) {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            st = self
                .done
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        true
    }
}

/// A span processor that exports in the background, in batches.
pub struct Batcher {
    shared: Arc<Shared>,
    config: BatchConfig,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Batcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batcher")
            .field("name", &self.config.name)
            .finish()
    }
}

impl Batcher {
    /// Starts the export thread for `exporter`.
    pub fn start<E: SpanExporter + 'static>(
        exporter: E,
        config: BatchConfig,
    ) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
            done: Condvar::new(),
            dropped: AtomicU64::new(0),
        });
        let s = shared.clone();
        let thread = std::thread::Builder::new()
            .name(format!("gatehouse-spans-{}", config.name))
            .spawn(move || export_loop(&s, &exporter, config))?;
        Ok(Self {
            shared,
            config,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Spans dropped so far because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }
}

/// Counts lost spans and says so in the log, at most once a minute.
struct Reporter {
    name: &'static str,
    failed_spans: u64,
    last_error: Option<String>,
    reported: (u64, u64),
    last_report: Option<Instant>,
}

impl Reporter {
    fn report(&mut self, dropped: u64, force: bool) {
        let now = (dropped, self.failed_spans);
        if now == self.reported {
            return;
        }
        if !force && self.last_report.is_some_and(|t| t.elapsed() < REPORT_EVERY) {
            return;
        }
        tracing::warn!(
            target: "gatehouse::traces",
            exporter = self.name,
            dropped_queue_full = dropped,
            failed_export_spans = self.failed_spans,
            last_error = self.last_error.as_deref(),
            "spans were lost: the exporter is slow or its collector is down (calls are not affected)"
        );
        self.reported = now;
        self.last_report = Some(Instant::now());
    }
}

fn export_loop<E: SpanExporter>(shared: &Shared, exporter: &E, config: BatchConfig) {
    let mut reporter = Reporter {
        name: config.name,
        failed_spans: 0,
        last_error: None,
        reported: (0, 0),
        last_report: None,
    };
    loop {
        let (batch, ticket, stopping) = {
            let mut st = shared.lock();
            let deadline = Instant::now() + config.delay;
            while st.queue.len() < config.max_batch && st.flush_asked == st.flush_done && !st.stop {
                let now = Instant::now();
                if now >= deadline {
                    break;
                }
                st = shared
                    .wake
                    .wait_timeout(st, deadline - now)
                    .unwrap_or_else(|p| p.into_inner())
                    .0;
            }
            let n = st.queue.len().min(config.max_batch);
            let batch: Vec<SpanData> = st.queue.drain(..n).collect();
            (batch, st.flush_asked, st.stop)
        };
        if !batch.is_empty() {
            let n = batch.len() as u64;
            if let Err(e) = futures::executor::block_on(exporter.export(batch)) {
                reporter.failed_spans += n;
                reporter.last_error = Some(crate::telemetry::redact::truncate(&e.to_string(), 200));
            }
        }
        reporter.report(shared.dropped.load(Ordering::Relaxed), stopping);
        let mut st = shared.lock();
        if st.queue.is_empty() {
            st.flush_done = st.flush_done.max(ticket);
            shared.done.notify_all();
            if stopping {
                drop(st);
                let _ = exporter.shutdown();
                shared.lock().exited = true;
                shared.done.notify_all();
                return;
            }
        }
    }
}

impl SpanProcessor for Batcher {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        let mut st = self.shared.lock();
        if st.stop || st.queue.len() >= self.config.max_queue {
            drop(st);
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        st.queue.push(span);
        if st.queue.len() == self.config.max_batch {
            self.shared.wake.notify_one();
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        let limit = Duration::from_secs(5);
        let mut st = self.shared.lock();
        st.flush_asked += 1;
        let ticket = st.flush_asked;
        self.shared.wake.notify_one();
        let flushed = self.shared.wait_done(st, Instant::now() + limit, |st| {
            st.flush_done >= ticket || st.exited
        });
        if flushed {
            Ok(())
        } else {
            Err(OTelSdkError::Timeout(limit))
        }
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        let mut st = self.shared.lock();
        if st.stop {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        st.stop = true;
        self.shared.wake.notify_one();
        if !self
            .shared
            .wait_done(st, Instant::now() + timeout, |st| st.exited)
        {
            // The exporter is stuck (a collector that never answers): leave
            // its thread behind rather than hold up the process.
            return Err(OTelSdkError::Timeout(timeout));
        }
        if let Some(t) = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = t.join();
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::atomic::AtomicBool;

    use opentelemetry::trace::{SpanContext, SpanKind, Status};
    use opentelemetry_sdk::trace::{SpanEvents, SpanLinks};

    use super::*;

    pub(crate) fn span_data(name: &'static str) -> SpanData {
        SpanData {
            span_context: SpanContext::empty_context(),
            parent_span_id: opentelemetry::trace::SpanId::INVALID,
            parent_span_is_remote: false,
            span_kind: SpanKind::Internal,
            name: name.into(),
            start_time: std::time::SystemTime::now(),
            end_time: std::time::SystemTime::now(),
            attributes: Vec::new(),
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: Status::Unset,
            instrumentation_scope: Default::default(),
        }
    }

    /// Counts what it gets; blocks while `stuck` is set (a collector that never answers).
    #[derive(Debug, Clone, Default)]
    struct Counting {
        got: Arc<AtomicU64>,
        stuck: Arc<AtomicBool>,
    }

    impl SpanExporter for Counting {
        async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
            while self.stuck.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(5));
            }
            self.got.fetch_add(batch.len() as u64, Ordering::SeqCst);
            Ok(())
        }
    }

    fn config() -> BatchConfig {
        BatchConfig {
            name: "test",
            max_queue: 8,
            max_batch: 4,
            delay: Duration::from_secs(60),
        }
    }

    #[test]
    fn flush_exports_everything_queued() {
        let e = Counting::default();
        let b = Batcher::start(e.clone(), config()).unwrap();
        for _ in 0..6 {
            b.on_end(span_data("s"));
        }
        b.force_flush().unwrap();
        assert_eq!(e.got.load(Ordering::SeqCst), 6);
        b.shutdown().unwrap();
    }

    #[test]
    fn a_stuck_exporter_drops_spans_without_blocking_on_end() {
        let e = Counting::default();
        e.stuck.store(true, Ordering::SeqCst);
        let b = Batcher::start(e.clone(), config()).unwrap();
        let started = Instant::now();
        for _ in 0..100 {
            b.on_end(span_data("s"));
        }
        assert!(started.elapsed() < Duration::from_secs(1));
        // One batch is stuck in the exporter, the queue holds 8, the rest are dropped.
        assert!(b.dropped() >= 100 - 8 - 4, "{}", b.dropped());
        // Shutdown gives up on the stuck exporter, bounded.
        assert!(b.shutdown_with_timeout(Duration::from_millis(50)).is_err());
        e.stuck.store(false, Ordering::SeqCst);
    }

    #[test]
    fn shutdown_exports_what_is_left() {
        let e = Counting::default();
        let b = Batcher::start(e.clone(), config()).unwrap();
        b.on_end(span_data("s"));
        b.shutdown().unwrap();
        assert_eq!(e.got.load(Ordering::SeqCst), 1);
        b.on_end(span_data("late"));
        assert_eq!(b.dropped(), 1);
    }
}
