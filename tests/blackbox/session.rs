//! `Session`: one `gatehouse serve` process driven by raw JSON-RPC lines
//! over its stdio, as a client would, with every stdout and stderr byte kept
//! for the checks that stdout carries only MCP and nothing secret leaks.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// A `gatehouse serve` process driven by raw JSON-RPC lines.
pub struct Session {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    /// Every stdout line, in order (to check that stdout carries only JSON-RPC).
    pub stdout_log: Arc<Mutex<Vec<String>>>,
    /// Everything written to stderr.
    pub stderr: Arc<Mutex<Vec<u8>>>,
    next_id: i64,
    /// Responses and notifications read while waiting for something else.
    pending: Vec<Value>,
    /// The stdout and stderr reader threads; `finish` joins them so that
    /// `stdout_log` and `stderr` are complete once the process has exited.
    readers: Vec<std::thread::JoinHandle<()>>,
}

impl Session {
    pub(crate) fn spawn(mut c: Command) -> Self {
        let mut child = c
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut stderr_pipe = child.stderr.take().unwrap();
        let (tx, rx) = channel();
        let stdout_log = Arc::new(Mutex::new(Vec::new()));
        let log = stdout_log.clone();
        let stdout_reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                log.lock().unwrap().push(line.clone());
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let err = stderr.clone();
        let stderr_reader = std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = stderr_pipe.read(&mut buf) {
                if n == 0 {
                    return;
                }
                err.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Self {
            stdin: child.stdin.take(),
            child,
            lines: rx,
            stdout_log,
            stderr,
            next_id: 1,
            pending: Vec::new(),
            readers: vec![stdout_reader, stderr_reader],
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Writes raw bytes to the server's stdin.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(bytes).unwrap();
        stdin.flush().unwrap();
    }

    /// Sends one JSON message as a line.
    pub fn send(&mut self, msg: &Value) {
        let mut line = serde_json::to_vec(msg).unwrap();
        line.push(b'\n');
        self.send_raw(&line);
    }

    /// The next stdout message, parsed, within `timeout`.
    pub fn next_message(&mut self, timeout: Duration) -> Value {
        if !self.pending.is_empty() {
            return self.pending.remove(0);
        }
        match self.lines.recv_timeout(timeout) {
            Ok(line) => serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line}")),
            Err(RecvTimeoutError::Timeout) => panic!(
                "no message from gatehouse within {timeout:?}; stderr: {}",
                self.stderr_text()
            ),
            Err(RecvTimeoutError::Disconnected) => {
                panic!("gatehouse closed stdout; stderr: {}", self.stderr_text())
            }
        }
    }

    /// Waits for the response with `id`, keeping other messages for later.
    pub fn response(&mut self, id: &Value, timeout: Duration) -> Value {
        if let Some(i) = self
            .pending
            .iter()
            .position(|m| m.get("id") == Some(id) && m.get("method").is_none())
        {
            return self.pending.remove(i);
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match self.lines.recv_timeout(left) {
                Ok(l) => l,
                Err(_) => panic!(
                    "no response to id {id} within {timeout:?}; stderr: {}",
                    self.stderr_text()
                ),
            };
            let msg: Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line}"));
            if msg.get("id") == Some(id) && msg.get("method").is_none() {
                return msg;
            }
            self.pending.push(msg);
        }
    }

    /// Sends a request without waiting; returns its id.
    pub fn start_request(&mut self, method: &str, params: Value) -> Value {
        let id = json!(self.next_id);
        self.next_id += 1;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        id
    }

    /// Sends a request and waits (up to 30 s) for its response.
    pub fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.start_request(method, params);
        self.response(&id, Duration::from_secs(30))
    }

    /// `initialize` (protocol 2025-06-18) as `client`, then `initialized`.
    pub fn initialize(&mut self, client: &str) -> Value {
        let r = self.request(
            "initialize",
            json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": client, "version": "1.0"}}),
        );
        assert!(r.get("result").is_some(), "initialize failed: {r}");
        self.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        r
    }

    /// `tools/call` and its result (panics on a JSON-RPC error). An absent
    /// `isError` is filled in as `false`, as the MCP spec reads it.
    pub fn call(&mut self, tool: &str, args: Value) -> Value {
        let r = self.request("tools/call", json!({"name": tool, "arguments": args}));
        let mut result = r
            .get("result")
            .cloned()
            .unwrap_or_else(|| panic!("tools/call {tool} failed: {r}"));
        if result.get("isError").is_none() {
            result["isError"] = json!(false);
        }
        result
    }

    /// Tool names from `tools/list`.
    pub fn tool_names(&mut self) -> Vec<String> {
        let r = self.request("tools/list", json!({}));
        r["result"]["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_string())
            .collect()
    }

    /// stderr so far, as text.
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    /// Closes stdin and waits (bounded) for the process to exit.
    pub fn finish(mut self) -> std::process::ExitStatus {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // The pipes reach EOF once the process and any children holding
                // them are gone; wait for the readers so nothing written is missed.
                // Bounded: a child that outlives serve must not hang the test.
                let deadline = Instant::now() + Duration::from_secs(5);
                while !self.readers.iter().all(|r| r.is_finished()) && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(5));
                }
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("gatehouse serve did not exit within 15 s of stdin closing");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The pids of this process's children (e.g. upstream servers).
    pub fn children(&self) -> Vec<u32> {
        let out = Command::new("pgrep")
            .args(["-P", &self.pid().to_string()])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect()
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
