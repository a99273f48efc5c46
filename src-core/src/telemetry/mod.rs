//! What happened: JSON log files (daily, never dropping a line), redaction of
//! everything kept, the PII scanner, and traces: the spans of each call
//! (`spans`), W3C context in and out (`propagate`), OpenTelemetry export to
//! span files and OTLP (`otel`), and reading a trace back (`trace_tree`). In
//! `serve`, nothing here writes to stdout: it belongs to MCP.

pub mod logs;
pub mod otel;
pub mod pii;
pub mod propagate;
pub mod redact;
pub mod spans;
pub mod trace_id;
pub mod trace_tree;

pub use redact::{Redacted, Redactor, SafeFields};
