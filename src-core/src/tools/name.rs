//! Tool and upstream names, parsed once: `<upstream>__<tool>` for everything
//! an agent can call, and `*` patterns for per-agent allow/deny lists.

use std::fmt;

/// Prefixes of Gatehouse's own tools, which no `[[upstream]]` may take.
pub const RESERVED_PREFIXES: [&str; 3] = ["gatehouse", "github", "gmail"];

/// A name that can't be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct BadName(String);

fn tool_chars_ok(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// An upstream's name: lowercase letters, digits, `-` and `_`, no `__`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UpstreamName(String);

impl UpstreamName {
    /// Checks a name from `[[upstream]] name`.
    pub fn parse(s: &str) -> Result<Self, BadName> {
        let ok = !s.is_empty()
            && s.len() <= 32
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
            && !s.contains("__")
            && !s.starts_with(['-', '_'])
            && !s.ends_with('_');
        if !ok {
            return Err(BadName(format!(
                "upstream name \"{s}\" must be 1-32 lowercase letters, digits, '-' or '_', \
                 with no \"__\" (it prefixes tool names as NAME__tool)"
            )));
        }
        if RESERVED_PREFIXES.contains(&s) {
            return Err(BadName(format!(
                "upstream name \"{s}\" is reserved for Gatehouse's own tools"
            )));
        }
        Ok(Self(s.to_string()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UpstreamName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What an agent calls: `<prefix>__<tool>`, e.g. `everything__echo`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ToolName {
    full: String,
    split: usize,
}

impl ToolName {
    /// Parses a name an agent sent. An unknown prefix is fine here; the
    /// registry decides whether the tool exists.
    pub fn parse(s: &str) -> Result<Self, BadName> {
        let bad = || {
            BadName(format!(
                "\"{}\" is not a Gatehouse tool name (expected PREFIX__tool)",
                s.chars().take(80).collect::<String>()
            ))
        };
        if s.len() > 160 || !tool_chars_ok(s) {
            return Err(bad());
        }
        let split = s.find("__").ok_or_else(bad)?;
        if split == 0 || split + 2 >= s.len() {
            return Err(bad());
        }
        Ok(Self {
            full: s.to_string(),
            split,
        })
    }

    /// `prefix__tool` from its parts; `tool` must already be a valid MCP tool name.
    pub fn join(prefix: &str, tool: &str) -> Result<Self, BadName> {
        Self::parse(&format!("{prefix}__{tool}"))
    }

    /// The upstream (or built-in family): the part before the first `__`.
    pub fn prefix(&self) -> &str {
        &self.full[..self.split]
    }

    /// The tool's own name at its upstream.
    pub fn local(&self) -> &str {
        &self.full[self.split + 2..]
    }

    /// The whole name.
    pub fn as_str(&self) -> &str {
        &self.full
    }
}

impl fmt::Display for ToolName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.full)
    }
}

/// A tool name with `*` wildcards, e.g. `github__*` or `*__send`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToolPattern(String);

impl ToolPattern {
    /// Checks a pattern from config or the CLI.
    pub fn parse(s: &str) -> Result<Self, BadName> {
        if s.is_empty() || s.len() > 160 || !tool_chars_ok(&s.replace('*', "")) {
            return Err(BadName(format!(
                "tool pattern \"{s}\" may only hold letters, digits, '_', '-', '.' and '*'"
            )));
        }
        Ok(Self(s.to_string()))
    }

    /// Whether `name` matches, `*` standing for any run of characters.
    pub fn matches(&self, name: &str) -> bool {
        glob(self.0.as_bytes(), name.as_bytes())
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ToolPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Iterative wildcard match with backtracking to the last `*`: linear in practice.
fn glob(p: &[u8], s: &[u8]) -> bool {
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, si));
            pi += 1;
        } else if pi < p.len() && p[pi] == s[si] {
            pi += 1;
            si += 1;
        } else if let Some((sp, ss)) = star {
            pi = sp + 1;
            si = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_names_split_at_the_first_double_underscore() {
        let t = ToolName::parse("everything__get__env").unwrap();
        assert_eq!(t.prefix(), "everything");
        assert_eq!(t.local(), "get__env");
    }

    #[test]
    fn tool_names_need_a_prefix_and_a_tool() {
        for bad in ["echo", "__echo", "everything__", "a b__c", "x__y\n", ""] {
            assert!(ToolName::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn upstream_names_are_checked_and_reserved() {
        assert!(UpstreamName::parse("everything").is_ok());
        assert!(UpstreamName::parse("my-fs_2").is_ok());
        for bad in [
            "",
            "Caps",
            "a__b",
            "gatehouse",
            "github",
            "gmail",
            "-x",
            "x_",
        ] {
            assert!(UpstreamName::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn patterns_match_with_wildcards() {
        let p = |s| ToolPattern::parse(s).unwrap();
        assert!(p("github__*").matches("github__create_issue"));
        assert!(!p("github__*").matches("gmail__send"));
        assert!(p("*__send").matches("gmail__send"));
        assert!(p("*").matches("anything__at_all"));
        assert!(p("a*b*c").matches("axxbyyc"));
        assert!(!p("a*b*c").matches("axxbyy"));
        assert!(p("everything__echo").matches("everything__echo"));
        assert!(!p("everything__echo").matches("everything__echo2"));
        assert!(ToolPattern::parse("bad pattern").is_err());
    }
}
