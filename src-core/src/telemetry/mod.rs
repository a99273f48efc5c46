//! What happened: JSON log files (daily, never dropping a line), redaction of
//! everything kept, and the PII scanner. In `serve`, nothing here writes to
//! stdout: it belongs to MCP.

pub mod logs;
pub mod pii;
pub mod redact;
pub mod trace_id;

pub use redact::{Redacted, Redactor, SafeFields};
