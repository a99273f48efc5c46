//! W3C trace context: the trace id that ties one user request's history row,
//! log line and spans together. Taken from the caller's `traceparent` when it
//! sends one (so the agent's spans and ours share a trace), else random.

/// A W3C `traceparent` header value: `00-<trace id>-<parent id>-<flags>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceParent {
    /// 32 lowercase hex digits, not all zero.
    pub trace_id: String,
    /// 16 lowercase hex digits, not all zero: the caller's span.
    pub parent_id: String,
    /// Trace flags (bit 0: sampled).
    pub flags: u8,
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl TraceParent {
    /// Parses a `traceparent` value; anything malformed is ignored (`None`),
    /// as the W3C spec asks, and the call starts its own trace.
    pub fn parse(s: &str) -> Option<TraceParent> {
        let parts: Vec<&str> = s.trim().split('-').collect();
        let [version, trace, parent, flags, ..] = parts.as_slice() else {
            return None;
        };
        if !is_hex(version, 2) || *version == "ff" || (*version == "00" && parts.len() != 4) {
            return None;
        }
        if !is_hex(trace, 32) || trace.bytes().all(|b| b == b'0') {
            return None;
        }
        if !is_hex(parent, 16) || parent.bytes().all(|b| b == b'0') || !is_hex(flags, 2) {
            return None;
        }
        Some(TraceParent {
            trace_id: trace.to_string(),
            parent_id: parent.to_string(),
            flags: u8::from_str_radix(flags, 16).ok()?,
        })
    }
}

/// A new random trace id (32 hex digits).
pub fn new_trace_id() -> String {
    random_hex::<16>()
}

/// A new random span id (16 hex digits).
pub fn new_span_id() -> String {
    random_hex::<8>()
}

fn random_hex<const N: usize>() -> String {
    let mut b = [0u8; N];
    if getrandom::fill(&mut b).is_err() || b.iter().all(|&x| x == 0) {
        // Never all-zero (invalid in W3C); the OS RNG failing is near impossible.
        b[0] = 1;
    }
    hex::encode(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_valid_traceparent() {
        let t =
            TraceParent::parse("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01").unwrap();
        assert_eq!(t.trace_id, "0af7651916cd43dd8448eb211c80319c");
        assert_eq!(t.parent_id, "b7ad6b7169203331");
        assert_eq!(t.flags, 1);
    }

    #[test]
    fn ignores_malformed_ones() {
        for bad in [
            "",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331",
            "00-00000000000000000000000000000000-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
            "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra",
        ] {
            assert!(TraceParent::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn new_ids_have_the_right_length() {
        assert_eq!(new_trace_id().len(), 32);
        assert_eq!(new_span_id().len(), 16);
        assert_ne!(new_trace_id(), new_trace_id());
    }
}
