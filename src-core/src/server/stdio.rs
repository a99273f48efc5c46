//! The process's stdin and stdout for `serve`. MCP clients launch servers
//! with pipes on both; those are then read and written on tokio's reactor,
//! like sockets. `tokio::io::stdin()`/`stdout()` would instead do every read
//! and write on a blocking-pool thread: a thread hand-off (a wake-up and a
//! context switch) per message, in every call's critical path. Anything else
//! (a terminal, a file, a socket) gets tokio's thread-backed stdio.

use std::fs::File;
use std::os::fd::AsFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt};

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::unix::pipe;

/// stdin, readable from async code.
pub type StdinReader = Box<dyn AsyncRead + Unpin + Send>;
/// stdout, writable from async code.
pub type StdoutWriter = Box<dyn AsyncWrite + Unpin + Send>;

/// A duplicate of `fd` as a `File`, if it is a pipe.
fn pipe_file(fd: impl AsFd) -> Option<(File, std::fs::Metadata)> {
    let file = File::from(fd.as_fd().try_clone_to_owned().ok()?);
    let meta = file.metadata().ok()?;
    meta.file_type().is_fifo().then_some((file, meta))
}

/// stdin and stdout for `serve`; call from inside the tokio runtime.
pub fn stdio() -> (StdinReader, StdoutWriter) {
    let read: StdinReader =
        match pipe_file(std::io::stdin()).and_then(|(f, _)| pipe::Receiver::from_file(f).ok()) {
            Some(r) => Box::new(r),
            None => Box::new(tokio::io::stdin()),
        };
    // Non-blocking mode belongs to the pipe, not to our descriptor: if stderr
    // is the same pipe, making it non-blocking could make log writes fail.
    let stderr_ino = std::io::stderr()
        .as_fd()
        .try_clone_to_owned()
        .ok()
        .and_then(|fd| File::from(fd).metadata().ok())
        .map(|m| (m.dev(), m.ino()));
    let write: StdoutWriter = match pipe_file(std::io::stdout())
        .filter(|(_, m)| stderr_ino != Some((m.dev(), m.ino())))
        .and_then(|(f, _)| pipe::Sender::from_file(f).ok())
    {
        Some(w) => Box::new(w),
        None => Box::new(tokio::io::stdout()),
    };
    (read, write)
}
