//! One trace read back from the span files in `traces/`, as a tree with
//! times and durations: what `gatehouse trace` prints and the tray shows as a
//! timeline. The serde field names are a contract (`docs/cli.md`). Spans of
//! other processes (the agent's, an upstream's) are not in these files: a
//! span whose parent is elsewhere is a root that keeps its `parent_span_id`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::BufRead;
use std::path::Path;

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::{TracesData, span::SpanKind, status::StatusCode};
use serde::Serialize;
use serde_json::Value;

use super::otel::file::span_files;
use crate::clock::UnixMillis;

/// One trace.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct TraceView {
    /// W3C trace id, 32 hex digits.
    pub trace_id: String,
    /// How many spans the files hold for it.
    pub span_count: usize,
    /// When its first span started (RFC 3339).
    pub start: String,
    /// From the first span's start to the last span's end, in ms.
    pub duration_ms: f64,
    /// Spans without a parent in these files, earliest first.
    pub roots: Vec<SpanNode>,
}

/// One span and its children.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct SpanNode {
    /// 16 hex digits.
    pub span_id: String,
    /// The parent span, when it has one (possibly in another process).
    pub parent_span_id: Option<String>,
    /// e.g. `tools/call everything__echo`.
    pub name: String,
    /// `server`, `client`, `internal`, `producer`, `consumer` or `unspecified`.
    pub kind: &'static str,
    /// The process's `service.name` (`gatehouse`).
    pub service: Option<String>,
    /// When it started (RFC 3339).
    pub start: String,
    /// Milliseconds from the trace's start to this span's start.
    pub offset_ms: f64,
    /// How long it took, in ms.
    pub duration_ms: f64,
    /// `unset`, `ok` or `error`.
    pub status: &'static str,
    /// Its attributes (already redacted when recorded).
    pub attributes: BTreeMap<String, Value>,
    /// Child spans, earliest first.
    pub children: Vec<SpanNode>,
}

/// The span files could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TraceReadError {
    /// Not a W3C trace id.
    #[error("\"{0}\" is not a trace id: use the 32 hex digits `gatehouse history` shows")]
    BadId(String),
    /// The folder or a file can't be read.
    #[error("cannot read the span files in {dir}: {reason}")]
    Io {
        /// The folder.
        dir: String,
        /// Why.
        reason: String,
    },
}

fn is_trace_id(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit()) && s.bytes().any(|b| b != b'0')
}

fn kind(k: i32) -> &'static str {
    match SpanKind::try_from(k) {
        Ok(SpanKind::Server) => "server",
        Ok(SpanKind::Client) => "client",
        Ok(SpanKind::Internal) => "internal",
        Ok(SpanKind::Producer) => "producer",
        Ok(SpanKind::Consumer) => "consumer",
        _ => "unspecified",
    }
}

fn json(v: &AnyValue) -> Value {
    match &v.value {
        Some(any_value::Value::StringValue(s)) => Value::from(s.clone()),
        Some(any_value::Value::BoolValue(b)) => Value::from(*b),
        Some(any_value::Value::IntValue(i)) => Value::from(*i),
        Some(any_value::Value::DoubleValue(d)) => Value::from(*d),
        Some(any_value::Value::ArrayValue(a)) => Value::Array(a.values.iter().map(json).collect()),
        Some(any_value::Value::KvlistValue(kv)) => {
            Value::Object(attrs(&kv.values).into_iter().collect())
        }
        Some(any_value::Value::BytesValue(b)) => Value::from(hex::encode(b)),
        _ => Value::Null,
    }
}

fn attrs(kvs: &[KeyValue]) -> BTreeMap<String, Value> {
    kvs.iter()
        .map(|kv| (kv.key.clone(), kv.value.as_ref().map_or(Value::Null, json)))
        .collect()
}

fn ms(nanos: u64) -> f64 {
    (nanos as f64 / 1_000.0).round() / 1_000.0
}

/// A span as read, before it is put in the tree.
struct Flat {
    node: SpanNode,
    start_ns: u64,
    end_ns: u64,
}

/// The spans of `trace_id` in the span files under `dir`, as a tree; `None`
/// when no file holds any.
pub fn read_trace(dir: &Path, trace_id: &str) -> Result<Option<TraceView>, TraceReadError> {
    let wanted = trace_id.trim().to_ascii_lowercase();
    if !is_trace_id(&wanted) {
        return Err(TraceReadError::BadId(crate::telemetry::redact::truncate(
            trace_id, 40,
        )));
    }
    let io = |e: std::io::Error| TraceReadError::Io {
        dir: dir.display().to_string(),
        reason: e.to_string(),
    };
    let wanted_bytes = hex::decode(&wanted).unwrap_or_default();
    let mut flat: Vec<Flat> = Vec::new();
    let mut seen: HashSet<Vec<u8>> = HashSet::new();
    for (_, path) in span_files(dir).map_err(io)? {
        let file = std::fs::File::open(&path).map_err(io)?;
        for line in std::io::BufReader::new(file).lines() {
            let line = line.map_err(io)?;
            // Most lines hold other traces: look before parsing.
            if !line.contains(wanted.as_str()) {
                continue;
            }
            // A line cut short by a crash is skipped; the others still count.
            let Ok(data) = serde_json::from_str::<TracesData>(&line) else {
                continue;
            };
            for rs in data.resource_spans {
                let service = rs.resource.as_ref().and_then(|r| {
                    r.attributes
                        .iter()
                        .find(|kv| kv.key == "service.name")
                        .and_then(|kv| kv.value.as_ref())
                        .and_then(|v| json(v).as_str().map(str::to_string))
                });
                for span in rs.scope_spans.into_iter().flat_map(|s| s.spans) {
                    if span.trace_id != wanted_bytes || !seen.insert(span.span_id.clone()) {
                        continue;
                    }
                    let parent = (!span.parent_span_id.is_empty()
                        && span.parent_span_id.iter().any(|&b| b != 0))
                    .then(|| hex::encode(&span.parent_span_id));
                    let status = match span.status.as_ref().map(|s| StatusCode::try_from(s.code)) {
                        Some(Ok(StatusCode::Ok)) => "ok",
                        Some(Ok(StatusCode::Error)) => "error",
                        _ => "unset",
                    };
                    flat.push(Flat {
                        start_ns: span.start_time_unix_nano,
                        end_ns: span.end_time_unix_nano.max(span.start_time_unix_nano),
                        node: SpanNode {
                            span_id: hex::encode(&span.span_id),
                            parent_span_id: parent,
                            name: span.name,
                            kind: kind(span.kind),
                            service: service.clone(),
                            start: String::new(),
                            offset_ms: 0.0,
                            duration_ms: 0.0,
                            status,
                            attributes: attrs(&span.attributes),
                            children: Vec::new(),
                        },
                    });
                }
            }
        }
    }
    Ok(tree(wanted, flat))
}

fn tree(trace_id: String, mut flat: Vec<Flat>) -> Option<TraceView> {
    let first = flat.iter().map(|f| f.start_ns).min()?;
    let last = flat.iter().map(|f| f.end_ns).max().unwrap_or(first);
    flat.sort_by_key(|f| f.start_ns);
    let span_count = flat.len();
    let ids: HashSet<String> = flat.iter().map(|f| f.node.span_id.clone()).collect();
    let mut children: HashMap<String, Vec<SpanNode>> = HashMap::new();
    let mut roots = Vec::new();
    // Latest first, so every child is complete before its parent takes it.
    for f in flat.into_iter().rev() {
        let mut node = f.node;
        node.start = UnixMillis((f.start_ns / 1_000_000) as i64).to_rfc3339();
        node.offset_ms = ms(f.start_ns - first);
        node.duration_ms = ms(f.end_ns - f.start_ns);
        node.children = children.remove(&node.span_id).unwrap_or_default();
        node.children.reverse();
        match &node.parent_span_id {
            Some(p) if ids.contains(p) && p != &node.span_id => {
                children.entry(p.clone()).or_default().push(node)
            }
            _ => roots.push(node),
        }
    }
    roots.reverse();
    Some(TraceView {
        trace_id,
        span_count,
        start: UnixMillis((first / 1_000_000) as i64).to_rfc3339(),
        duration_ms: ms(last - first),
        roots,
    })
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

    use super::*;

    fn span(id: &str, parent: &str, name: &str, start_ms: u64, end_ms: u64) -> Span {
        Span {
            trace_id: hex::decode("0af7651916cd43dd8448eb211c80319c").unwrap(),
            span_id: hex::decode(id).unwrap(),
            parent_span_id: hex::decode(parent).unwrap(),
            name: name.into(),
            kind: SpanKind::Internal as i32,
            start_time_unix_nano: start_ms * 1_000_000,
            end_time_unix_nano: end_ms * 1_000_000,
            ..Default::default()
        }
    }

    fn line(spans: Vec<Span>) -> String {
        let data = TracesData {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource::default()),
                scope_spans: vec![ScopeSpans {
                    spans,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        serde_json::to_string(&data).unwrap()
    }

    #[test]
    fn spans_across_lines_form_one_tree_and_foreign_parents_make_roots() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spans.2026-11-24.jsonl");
        let text = [
            line(vec![
                span(
                    "2222222222222222",
                    "1111111111111111",
                    "guard.identify",
                    1001,
                    1002,
                ),
                span("4444444444444444", "9999999999999999", "other", 0, 1),
            ]),
            "{broken".to_string(),
            line(vec![
                span(
                    "1111111111111111",
                    "aaaaaaaaaaaaaaaa",
                    "tools/call x__y",
                    1000,
                    1010,
                ),
                span(
                    "3333333333333333",
                    "1111111111111111",
                    "tools/call y",
                    1003,
                    1009,
                ),
            ]),
        ]
        .join("\n");
        std::fs::write(&path, text).unwrap();
        let t = read_trace(dir.path(), "0AF7651916CD43DD8448EB211C80319C")
            .unwrap()
            .unwrap();
        assert_eq!(t.span_count, 4);
        assert_eq!(t.duration_ms, 1010.0);
        // The agent's span (aaaa…) is elsewhere: ours is a root that names it.
        let root = t
            .roots
            .iter()
            .find(|r| r.name == "tools/call x__y")
            .unwrap();
        assert_eq!(root.parent_span_id.as_deref(), Some("aaaaaaaaaaaaaaaa"));
        assert_eq!(root.duration_ms, 10.0);
        let names: Vec<&str> = root.children.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["guard.identify", "tools/call y"]);
        assert_eq!(root.children[1].offset_ms, 1003.0);
        assert_eq!(t.roots[0].name, "other", "roots earliest first");
    }

    #[test]
    fn an_unknown_trace_is_none_and_a_bad_id_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_trace(dir.path(), &"1".repeat(32)).unwrap(), None);
        assert!(matches!(
            read_trace(dir.path(), "xyz"),
            Err(TraceReadError::BadId(_))
        ));
    }
}
