//! Spans on disk: `traces/spans.YYYY-MM-DD.jsonl` (UTC days), one OTLP JSON
//! `TracesData` per line, the format of the OTLP file exporter that collectors
//! read (ids in hex, as OTLP JSON writes them). Every `serve` process appends
//! to the same day's file; a line is written in one `write` under an advisory
//! lock, so lines from several processes never interleave. Files older than
//! the history's retention are deleted at start and when the day changes.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use opentelemetry_proto::tonic::trace::v1::TracesData;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use time::Date;

/// File names are `spans.` + the UTC date + `.jsonl`.
const PREFIX: &str = "spans.";
const SUFFIX: &str = ".jsonl";

/// The day file of `date` in `dir`.
pub fn day_file(dir: &Path, date: Date) -> PathBuf {
    dir.join(format!("{PREFIX}{date}{SUFFIX}"))
}

/// The date in a span file's name, if it is one.
pub fn file_date(name: &str) -> Option<Date> {
    let d = name.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
    Date::parse(
        d,
        &time::macros::format_description!("[year]-[month]-[day]"),
    )
    .ok()
}

/// Span files in `dir`, newest day first.
pub fn span_files(dir: &Path) -> std::io::Result<Vec<(Date, PathBuf)>> {
    let mut files: Vec<(Date, PathBuf)> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .flatten()
            .filter_map(|e| {
                let name = e.file_name();
                Some((file_date(name.to_str()?)?, e.path()))
            })
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e),
    };
    files.sort_by_key(|f| std::cmp::Reverse(f.0));
    Ok(files)
}

/// Deletes span files of days before `today - keep_days`; returns how many.
pub fn prune(dir: &Path, keep_days: u32, today: Date) -> std::io::Result<usize> {
    let cutoff = today - time::Duration::days(i64::from(keep_days));
    let mut n = 0;
    for (date, path) in span_files(dir)? {
        if date < cutoff && std::fs::remove_file(&path).is_ok() {
            n += 1;
        }
    }
    Ok(n)
}

/// The UTC date now.
fn today() -> Date {
    time::OffsetDateTime::now_utc().date()
}

/// Writes batches of spans as OTLP JSON lines.
#[derive(Debug)]
pub struct FileExporter {
    dir: PathBuf,
    keep_days: u32,
    resource: ResourceAttributesWithSchema,
    /// The last day a file was written (pruning runs when it changes).
    day: Mutex<Option<Date>>,
}

impl FileExporter {
    /// An exporter into `dir` (created if missing) that keeps `keep_days` days.
    pub fn new(dir: &Path, keep_days: u32, resource: &Resource) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            keep_days,
            resource: resource.into(),
            day: Mutex::new(None),
        })
    }

    /// One line: the batch as a `TracesData`, then `\n`.
    fn line(&self, batch: Vec<SpanData>) -> Result<Vec<u8>, serde_json::Error> {
        let data = TracesData {
            resource_spans: group_spans_by_resource_and_scope(batch, &self.resource),
        };
        let mut line = serde_json::to_vec(&data)?;
        line.push(b'\n');
        Ok(line)
    }

    fn write(&self, line: &[u8]) -> std::io::Result<()> {
        let date = today();
        {
            let mut day = self.day.lock().unwrap_or_else(|p| p.into_inner());
            if *day != Some(date) {
                *day = Some(date);
                let _ = prune(&self.dir, self.keep_days, date);
            }
        }
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(day_file(&self.dir, date))?;
        let _lock = FileLock::exclusive(&file);
        file.write_all(line)
    }
}

impl SpanExporter for FileExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let line = self
            .line(batch)
            .map_err(|e| OTelSdkError::InternalFailure(e.to_string()))?;
        self.write(&line)
            .map_err(|e| OTelSdkError::InternalFailure(format!("{}: {e}", self.dir.display())))
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.resource = resource.into();
    }
}

/// An advisory lock on a whole file, released when dropped (or the file closes).
struct FileLock(#[cfg(unix)] std::os::fd::RawFd);

impl FileLock {
    #[cfg(unix)]
    fn exclusive(file: &std::fs::File) -> Self {
        use std::os::fd::AsRawFd;
        let fd = file.as_raw_fd();
        // SAFETY: flock on a descriptor we own for the lock's lifetime; a
        // failure only means lines rely on O_APPEND alone.
        unsafe { libc::flock(fd, libc::LOCK_EX) };
        Self(fd)
    }

    #[cfg(not(unix))]
    fn exclusive(_file: &std::fs::File) -> Self {
        Self()
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        // SAFETY: the descriptor is still open: the file outlives the lock.
        #[cfg(unix)]
        unsafe {
            libc::flock(self.0, libc::LOCK_UN)
        };
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::KeyValue;
    use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};

    use super::*;

    fn span(trace: &str, span: &str, parent: &str, name: &'static str) -> SpanData {
        let mut s = super::super::batch::tests::span_data(name);
        s.span_context = SpanContext::new(
            TraceId::from_hex(trace).unwrap(),
            SpanId::from_hex(span).unwrap(),
            TraceFlags::SAMPLED,
            false,
            TraceState::default(),
        );
        s.parent_span_id = SpanId::from_hex(parent).unwrap();
        s.attributes = vec![KeyValue::new("gen_ai.tool.name", "x__y")];
        s
    }

    #[test]
    fn a_batch_is_one_otlp_json_line_with_hex_ids() {
        let dir = tempfile::tempdir().unwrap();
        let e = FileExporter::new(
            dir.path(),
            30,
            &Resource::builder_empty()
                .with_service_name("gatehouse")
                .build(),
        )
        .unwrap();
        let batch = vec![
            span(
                "0af7651916cd43dd8448eb211c80319c",
                "00f067aa0ba902b7",
                "0",
                "a",
            ),
            span(
                "0af7651916cd43dd8448eb211c80319c",
                "1111111111111111",
                "00f067aa0ba902b7",
                "b",
            ),
        ];
        futures::executor::block_on(e.export(batch)).unwrap();
        let files = span_files(dir.path()).unwrap();
        assert_eq!(files.len(), 1);
        let text = std::fs::read_to_string(&files[0].1).unwrap();
        assert_eq!(text.lines().count(), 1);
        let v: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
        let spans = &v["resourceSpans"][0]["scopeSpans"][0]["spans"];
        assert_eq!(spans[0]["traceId"], "0af7651916cd43dd8448eb211c80319c");
        assert_eq!(spans[1]["parentSpanId"], "00f067aa0ba902b7");
        assert_eq!(
            v["resourceSpans"][0]["resource"]["attributes"][0]["value"]["stringValue"],
            "gatehouse"
        );
        // And it reads back as the same protobuf message.
        let back: TracesData = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(back.resource_spans[0].scope_spans[0].spans.len(), 2);
    }

    #[test]
    fn prune_deletes_only_days_past_retention() {
        let dir = tempfile::tempdir().unwrap();
        let today = Date::from_calendar_date(2026, time::Month::November, 24).unwrap();
        for d in [0, 29, 30, 31, 60] {
            std::fs::write(day_file(dir.path(), today - time::Duration::days(d)), "").unwrap();
        }
        std::fs::write(dir.path().join("notes.txt"), "").unwrap();
        assert_eq!(prune(dir.path(), 30, today).unwrap(), 2);
        let left: Vec<Date> = span_files(dir.path())
            .unwrap()
            .into_iter()
            .map(|f| f.0)
            .collect();
        assert_eq!(left.len(), 3);
        assert!(dir.path().join("notes.txt").exists());
        assert_eq!(left[0], today);
    }
}
