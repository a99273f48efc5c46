//! What Gatehouse keeps of text an upstream wrote: its stderr lines, and its
//! error messages in the reasons it went down. Until the first tool call is
//! forwarded to it, such text holds none of a caller's data and says why a
//! start failed, so it is kept, PII-scrubbed. From the first call on,
//! upstreams echo their arguments (quoted, escaped), so it is kept only as
//! length and keyed hash. To read an upstream's stderr, run its command by
//! hand.

use std::sync::atomic::Ordering;

use super::Upstream;
use crate::telemetry::{pii, redact::truncate};

/// Longest upstream text kept as it is (before the first call).
const MAX_KEPT: usize = 500;

impl Upstream {
    /// Notes that a tool call is being forwarded: from now on its text is hashed.
    pub(super) fn mark_called(&self) {
        self.called.store(true, Ordering::Release);
    }

    /// `text` (written by the upstream) as logs and reasons may keep it.
    pub(super) fn keep(&self, text: &str) -> String {
        if self.called.load(Ordering::Acquire) {
            self.redactor.marker(text)
        } else {
            truncate(&pii::scrub(text), MAX_KEPT)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::UpstreamConfig;
    use crate::telemetry::Redactor;

    #[test]
    fn text_is_scrubbed_before_the_first_call_and_hashed_after() {
        let config = UpstreamConfig {
            name: crate::tools::UpstreamName::parse("u").unwrap(),
            command: "true".into(),
            args: vec![],
            env: Default::default(),
            cwd: None,
        };
        let up = Upstream::new(config, Redactor::with_key([3; 32]));
        let kept = up.keep("listening; admin is ann@example.com");
        assert!(kept.starts_with("listening; admin is "), "{kept}");
        assert!(!kept.contains("ann@example.com"), "{kept}");
        up.mark_called();
        let line = "looking for \"Project \\\"merger\\\" Z\\u00fcrich\"";
        let kept = up.keep(line);
        assert!(
            kept.starts_with("<str:") && !kept.contains("merger"),
            "{kept}"
        );
        assert_eq!(kept, up.keep(line), "equal lines match");
    }
}
