//! A bounded, cancel-safe reader of newline-delimited messages. A line over
//! the limit is skipped as it streams past, never held in memory whole; only
//! its first bytes are kept, so the caller can still find its `id`.

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

/// Bytes of an oversized line kept for finding its `id`.
const PREFIX_KEEP: usize = 256;

/// One read's result.
#[derive(Debug)]
pub enum Line {
    /// A complete line, without its `\n` (and without a trailing `\r`).
    Whole(Vec<u8>),
    /// A line longer than the limit was skipped; `prefix` is its start.
    Oversized {
        /// The line's first bytes.
        prefix: Vec<u8>,
    },
    /// The peer closed the stream.
    Eof,
    /// Reading failed.
    Failed(std::io::Error),
}

/// Reads lines of at most `max` bytes from `R`.
pub struct LineReader<R> {
    read: BufReader<R>,
    buf: Vec<u8>,
    max: usize,
    /// Skipping the rest of an oversized line (kept across calls: a read may
    /// be cancelled by `select!` and resumed).
    discarding: bool,
    prefix: Vec<u8>,
}

impl<R: AsyncRead + Unpin> LineReader<R> {
    /// A reader refusing lines over `max` bytes.
    pub fn new(read: R, max: usize) -> Self {
        Self {
            read: BufReader::with_capacity(64 * 1024, read),
            buf: Vec::new(),
            max,
            discarding: false,
            prefix: Vec::new(),
        }
    }

    /// The next line. Cancel-safe: partial progress stays in `self`.
    pub async fn next(&mut self) -> Line {
        loop {
            let (consumed, done) = {
                let available = match self.read.fill_buf().await {
                    Ok(a) => a,
                    Err(e) => return Line::Failed(e),
                };
                if available.is_empty() {
                    // A last line without `\n` still counts, as with `read_line`.
                    if !self.discarding && !self.buf.is_empty() {
                        let line = std::mem::take(&mut self.buf);
                        return Line::Whole(trim_cr(line));
                    }
                    if self.discarding {
                        self.discarding = false;
                        return Line::Oversized {
                            prefix: std::mem::take(&mut self.prefix),
                        };
                    }
                    return Line::Eof;
                }
                let newline = available.iter().position(|&b| b == b'\n');
                let take = newline.map_or(available.len(), |i| i + 1);
                let chunk = &available[..newline.unwrap_or(available.len())];
                if !self.discarding && self.buf.len() + chunk.len() > self.max {
                    // Switch to skipping; keep the start for the id.
                    self.prefix = std::mem::take(&mut self.buf);
                    let room = PREFIX_KEEP.saturating_sub(self.prefix.len());
                    self.prefix
                        .extend_from_slice(&chunk[..room.min(chunk.len())]);
                    self.prefix.truncate(PREFIX_KEEP);
                    self.buf = Vec::new();
                    self.discarding = true;
                } else if !self.discarding {
                    self.buf.extend_from_slice(chunk);
                }
                (take, newline.is_some())
            };
            self.read.consume(consumed);
            if done {
                if self.discarding {
                    self.discarding = false;
                    return Line::Oversized {
                        prefix: std::mem::take(&mut self.prefix),
                    };
                }
                let line = std::mem::take(&mut self.buf);
                return Line::Whole(trim_cr(line));
            }
        }
    }
}

fn trim_cr(mut line: Vec<u8>) -> Vec<u8> {
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn lines(input: &[u8], max: usize) -> Vec<String> {
        let mut r = LineReader::new(input, max);
        let mut out = Vec::new();
        loop {
            match r.next().await {
                Line::Whole(l) => out.push(String::from_utf8_lossy(&l).into_owned()),
                Line::Oversized { prefix } => {
                    out.push(format!("OVERSIZED({})", String::from_utf8_lossy(&prefix)))
                }
                Line::Eof => return out,
                Line::Failed(e) => panic!("{e}"),
            }
        }
    }

    #[tokio::test]
    async fn splits_lines_and_strips_cr() {
        assert_eq!(lines(b"a\r\nbb\n\nccc", 10).await, ["a", "bb", "", "ccc"]);
    }

    #[tokio::test]
    async fn skips_a_long_line_and_keeps_serving() {
        let mut input = b"{\"id\":7,".to_vec();
        input.extend(std::iter::repeat_n(b'x', 200_000));
        input.extend_from_slice(b"\nnext\n");
        let got = lines(&input, 1000).await;
        assert_eq!(got.len(), 2);
        assert!(got[0].starts_with("OVERSIZED({\"id\":7,xxx"));
        assert_eq!(got[0].len(), "OVERSIZED()".len() + 256);
        assert_eq!(got[1], "next");
    }

    #[tokio::test]
    async fn a_line_of_exactly_the_limit_passes() {
        let input = [b"abcd".as_slice(), b"\nabcde\n"].concat();
        assert_eq!(lines(&input, 4).await, ["abcd", "OVERSIZED(abcde)"]);
    }
}
