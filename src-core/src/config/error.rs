//! `ConfigError`: a broken config names the file, the line and the key, so
//! the user can go straight to the mistake. `serve` refuses to start on one.

use std::ops::Range;
use std::path::PathBuf;

/// Why the configuration can't be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file exists but can't be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The config file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// A variable names a config file that does not exist. Only the implicit
    /// default path may be missing (then the defaults serve): a named file
    /// that is gone is a mistake, and serving the defaults would fail open.
    #[error(
        "{variable} names the config file {path}, which does not exist; create it \
         (an empty file means the defaults), or correct or unset {variable}"
    )]
    Missing {
        /// The variable, e.g. `GATEHOUSE_CONFIG`.
        variable: String,
        /// The file it names.
        path: PathBuf,
    },
    /// The file is not valid TOML, has an unknown key, a wrong type or a bad value.
    #[error("{path}:{line}:{column}: key `{key}`: {problem}")]
    Invalid {
        /// The config file.
        path: PathBuf,
        /// 1-based line of the mistake.
        line: usize,
        /// 1-based column of the mistake.
        column: usize,
        /// The dotted key, e.g. `limits.tools."x".per_minute`.
        key: String,
        /// What is wrong, in a sentence.
        problem: String,
    },
}

/// Where in a file an error is: turns byte spans into lines and key paths.
pub(crate) struct Source<'a> {
    pub path: &'a std::path::Path,
    pub text: &'a str,
}

impl Source<'_> {
    /// An `Invalid` error at `span`, with the key found from the text there.
    pub fn invalid(&self, span: Option<Range<usize>>, problem: impl Into<String>) -> ConfigError {
        let start = span.map_or(0, |s| s.start.min(self.text.len()));
        let before = &self.text[..start];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        ConfigError::Invalid {
            path: self.path.to_path_buf(),
            line,
            column,
            key: self.key_at(start),
            problem: problem.into(),
        }
    }

    /// The dotted key at byte `at`: the nearest `[table]` header above it
    /// plus the `key =` on its line (for an array of values, the line holding `key =`).
    fn key_at(&self, at: usize) -> String {
        let mut table = String::new();
        let mut key = String::new();
        let mut offset = 0;
        for line in self.text.split_inclusive('\n') {
            if offset > at {
                break;
            }
            let trimmed = line.trim();
            if trimmed.starts_with('[') {
                table = trimmed
                    .trim_start_matches('[')
                    .split(']')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_string();
                key.clear();
            } else if !trimmed.starts_with('#')
                && let Some((k, _)) = trimmed.split_once('=')
            {
                key = k.trim().to_string();
            }
            offset += line.len();
        }
        match (table.is_empty(), key.is_empty()) {
            (true, true) => "(top level)".to_string(),
            (true, false) => key,
            (false, true) => table,
            (false, false) => format!("{table}.{key}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str, at: usize) -> String {
        let src = Source {
            path: std::path::Path::new("c.toml"),
            text,
        };
        src.invalid(Some(at..at + 1), "bad").to_string()
    }

    #[test]
    fn names_line_column_and_dotted_key() {
        let text = "[approval]\nwait_seconds = 20\n[limits.tools.\"x\"]\nper_minute = 0\n";
        let at = text.rfind("0\n").unwrap();
        assert_eq!(
            err(text, at),
            "c.toml:4:14: key `limits.tools.\"x\".per_minute`: bad"
        );
    }

    #[test]
    fn a_header_error_names_the_table() {
        let text = "[nope]\nx = 1\n";
        assert_eq!(err(text, 1), "c.toml:1:2: key `nope`: bad");
    }
}
