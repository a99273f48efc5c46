//! Shared helpers: each test gets its own `GATEHOUSE_HOME`, runs the built
//! binary as a user would, and drives `gatehouse serve` either raw (JSON-RPC
//! lines over its stdio) or through real clients (the Python SDK, the MCP
//! Inspector). Every wait is bounded.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub use crate::session::Session;

/// The binary under test.
pub fn gatehouse_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_gatehouse"))
}

/// The repository's `tests/` folder.
pub fn tests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests")
        .canonicalize()
        .expect("tests/ exists")
}

fn need(path: PathBuf) -> PathBuf {
    assert!(
        path.exists(),
        "{} is missing: run `bash tests/setup.sh` first (the README's test command does)",
        path.display()
    );
    path
}

/// The Python of `tests/.venv` (official `mcp` SDK).
pub fn python() -> PathBuf {
    need(tests_dir().join(".venv/bin/python"))
}

/// `server-everything`'s stdio entry point, from `tests/node_modules`.
pub fn everything_js() -> PathBuf {
    need(tests_dir().join("node_modules/@modelcontextprotocol/server-everything/dist/index.js"))
}

/// The `[[upstream]]` table for server-everything under `name`.
pub fn everything_upstream(name: &str) -> String {
    format!(
        "[[upstream]]\nname = \"{name}\"\ncommand = \"node\"\nargs = [{:?}, \"stdio\"]\n",
        everything_js().display().to_string()
    )
}

/// The `[[upstream]] quoting` table: `tests/clients/quoting_upstream.py`, a
/// Python SDK server that quotes its arguments in errors and on stderr and
/// appends the cancellations it receives to `events`.
pub fn quoting_upstream(events: &Path) -> String {
    format!(
        "[[upstream]]\nname = \"quoting\"\ncommand = {:?}\nargs = [{:?}]\nenv = {{ QUOTING_UPSTREAM_EVENTS = {:?} }}\n",
        python().display().to_string(),
        tests_dir()
            .join("clients/quoting_upstream.py")
            .display()
            .to_string(),
        events.display().to_string()
    )
}

/// One test's Gatehouse installation: a temp folder used as `GATEHOUSE_HOME`.
pub struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    /// A fresh home with no config file.
    pub fn new() -> Self {
        Self {
            dir: tempfile::Builder::new()
                .prefix("gatehouse-test-")
                .tempdir()
                .unwrap(),
        }
    }

    /// A fresh home with `config.toml`.
    pub fn with_config(toml: &str) -> Self {
        let h = Self::new();
        h.write_config(toml);
        h
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Replaces `config.toml`.
    pub fn write_config(&self, toml: &str) {
        std::fs::write(self.path().join("config.toml"), toml).unwrap();
    }

    /// A `gatehouse` command with this home and a clean environment.
    pub fn cmd(&self) -> Command {
        let mut c = Command::new(gatehouse_bin());
        c.env_clear()
            .env("GATEHOUSE_HOME", self.path())
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.path());
        c
    }

    /// Runs `gatehouse ARGS`, returning its output (whatever the exit code).
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().unwrap()
    }

    /// Runs `gatehouse ARGS --json`, asserts success and parses stdout.
    pub fn json(&self, args: &[&str]) -> Value {
        self.json_with(args, &[])
    }

    /// `json` with `env` (e.g. the keychain's bus) added.
    pub fn json_with(&self, args: &[&str], env: &[(&str, &str)]) -> Value {
        let mut all = args.to_vec();
        all.push("--json");
        let out = self
            .cmd()
            .args(&all)
            .envs(env.iter().copied())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "gatehouse {all:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "gatehouse {all:?} printed no JSON ({e}): {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }

    /// Adds a token agent; returns its token.
    pub fn add_agent(&self, name: &str) -> String {
        self.json(&["agents", "add", name])["token"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Waits (up to 10 s) until a pending agent called `name` exists.
    pub fn wait_for_pending(&self, name: &str) {
        wait_for(
            Duration::from_secs(10),
            &format!("pending agent {name}"),
            || {
                let agents = self.json(&["agents", "list"]);
                agents
                    .as_array()?
                    .iter()
                    .any(|a| a["name"] == name && a["status"] == "pending")
                    .then_some(())
            },
        );
    }

    /// `history --json` rows, newest first.
    pub fn history(&self) -> Vec<Value> {
        self.json(&["history", "--limit", "10000"])
            .as_array()
            .unwrap()
            .clone()
    }

    /// Asserts that no file under the home (database, WAL, logs, span
    /// files, ...) contains `needle`.
    pub fn assert_nowhere(&self, needle: &str) {
        for (path, bytes) in self.all_file_bytes() {
            assert!(
                !contains(&bytes, needle),
                "{needle:?} found in {}",
                path.display()
            );
        }
    }

    /// Every byte of every file under the home (database, WAL, logs, ...).
    pub fn all_file_bytes(&self) -> Vec<(PathBuf, Vec<u8>)> {
        fn walk(dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
            for e in std::fs::read_dir(dir).unwrap().flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, out);
                } else if let Ok(b) = std::fs::read(&p) {
                    out.push((p, b));
                }
            }
        }
        let mut out = Vec::new();
        walk(self.path(), &mut out);
        out
    }

    /// The text of every JSON log file under `logs/`.
    pub fn logs(&self) -> String {
        let Ok(rd) = std::fs::read_dir(self.path().join("logs")) else {
            return String::new();
        };
        let mut files: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
        files.sort();
        files
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap_or_default())
            .collect()
    }

    /// Starts `gatehouse serve` with `env` (e.g. a token) added.
    pub fn serve(&self, env: &[(&str, &str)]) -> Session {
        let mut c = self.cmd();
        c.arg("serve");
        for (k, v) in env {
            c.env(k, v);
        }
        Session::spawn(c)
    }

    /// Starts `serve` and completes the `initialize` handshake as `client`.
    pub fn session(&self, client: &str, env: &[(&str, &str)]) -> Session {
        let mut s = self.serve(env);
        s.initialize(client);
        s
    }
}

/// Searches `haystack` for `needle`.
pub fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// The `structuredContent` of a tool result.
pub fn structured(result: &Value) -> &Value {
    &result["structuredContent"]
}

/// The text of a tool result's first content block.
pub fn text(result: &Value) -> String {
    result["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Polls `f` every 50 ms until it returns `Some`, at most `limit`.
pub fn wait_for<T>(limit: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs `tests/clients/mcp_client.py` (the official Python SDK) against
/// `gatehouse serve` in `home`, returning its JSON report.
pub fn python_client(
    home: &Home,
    mode: &str,
    client_name: &str,
    env: &[(&str, &str)],
    ops: Value,
) -> Value {
    let mut c = Command::new(python());
    c.arg(tests_dir().join("clients/mcp_client.py"))
        .args([
            "--mode",
            mode,
            "--client-name",
            client_name,
            "--timeout",
            "60",
            "--deadline",
            "120",
        ])
        .args([
            "--env",
            &format!("GATEHOUSE_HOME={}", home.path().display()),
        ]);
    for (k, v) in env {
        c.args(["--env", &format!("{k}={v}")]);
    }
    let stderr_file = home.path().join("client-stderr.log");
    c.args(["--stderr", stderr_file.to_str().unwrap()])
        .args(["--ops", &ops.to_string(), "--"])
        .arg(gatehouse_bin())
        .arg("serve");
    let out = c.output().unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "mcp_client.py printed no JSON ({e}); stdout: {} stderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert_eq!(
        report["connected"],
        json!(true),
        "the Python client could not connect: {report}"
    );
    report
}
