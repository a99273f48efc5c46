//! OTLP export: spans and the `mcp.server.operation.duration` histogram reach
//! a real OTLP/HTTP receiver (decoding with the official protobuf
//! definitions), as protobuf and as JSON; a collector that is down or never
//! answers changes nothing for the caller; an unusable setting is reported.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::traces::{check_span_files, clients, find, jsonl};
use crate::util::{Home, python, wait_for};

/// A real OTLP/HTTP receiver (`tests/clients/otlp_receiver.py`), killed on drop.
struct Receiver {
    child: Child,
    port: u16,
    out: PathBuf,
}

impl Receiver {
    fn start(dir: &Path, blackhole: bool) -> Receiver {
        let out = dir.join("received.jsonl");
        let mut c = Command::new(python());
        c.arg(clients().join("otlp_receiver.py"))
            .args(["--out", out.to_str().unwrap(), "--seconds", "120"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if blackhole {
            c.arg("--blackhole");
        }
        let mut child = c.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("the OTLP receiver printed no port");
        let port = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("not a port: {line:?}"));
        Receiver { child, port, out }
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn received(&self) -> Vec<Value> {
        jsonl(&self.out)
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn exported_to_a_receiver(protocol: &str, content_type: &str) {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start(dir.path(), false);
    let home = Home::new();
    let token = home.add_agent("bot");
    let endpoint = receiver.endpoint();
    let mut s = home.session(
        "raw",
        &[
            ("GATEHOUSE_TOKEN", &token),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
            ("OTEL_EXPORTER_OTLP_HEADERS", "x-test-key=secret%20value"),
        ],
    );
    for _ in 0..3 {
        assert_eq!(
            s.call("gatehouse__budgets", json!({}))["isError"],
            json!(false)
        );
    }
    assert!(s.finish().success());
    let got = receiver.received();
    assert!(got.iter().all(|r| r.get("error").is_none()), "{got:#?}");
    assert!(
        got.iter().all(|r| r["content_type"] == content_type),
        "{got:#?}"
    );
    let spans: Vec<&Value> = got
        .iter()
        .flat_map(|r| r["spans"].as_array().unwrap())
        .collect();
    let rows = home.history();
    for row in &rows {
        assert!(
            spans.iter().any(|s| s["trace_id"] == row["trace_id"]
                && s["name"] == "tools/call gatehouse__budgets"
                && s["kind"] == 2),
            "no exported SERVER span for {row}"
        );
    }
    let metrics: Vec<&Value> = got
        .iter()
        .flat_map(|r| r["metrics"].as_array().unwrap())
        .collect();
    let duration = find(
        &metrics.iter().map(|m| (*m).clone()).collect::<Vec<_>>(),
        "the duration histogram",
        |m| m["name"] == "mcp.server.operation.duration",
    )
    .clone();
    assert_eq!(duration["unit"], "s");
    assert_eq!(duration["histogram_count"], 3);
    assert_eq!(
        duration["attributes"][0]["gen_ai.tool.name"]["stringValue"],
        "gatehouse__budgets"
    );
    assert_eq!(
        duration["attributes"][0]["mcp.method.name"]["stringValue"],
        "tools/call"
    );
    // The local span files are written as well.
    check_span_files(&home);
}

#[test]
fn spans_and_the_duration_histogram_reach_an_otlp_receiver_as_protobuf() {
    exported_to_a_receiver("http/protobuf", "application/x-protobuf");
}

#[test]
fn spans_and_the_duration_histogram_reach_an_otlp_receiver_as_json() {
    exported_to_a_receiver("http/json", "application/json");
}

fn calls_through_a_dead_collector(endpoint: &str, home: &Home) {
    let token = home.add_agent("bot");
    let mut s = home.session(
        "raw",
        &[
            ("GATEHOUSE_TOKEN", &token),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint),
        ],
    );
    for _ in 0..20 {
        let r = s.call("gatehouse__budgets", json!({}));
        assert_eq!(r["isError"], json!(false), "{r}");
    }
    // It shuts down promptly (`finish` allows 15 s; a collector's timeout is 10 s).
    assert!(s.finish().success());
    let rows = home.history();
    assert_eq!(rows.len(), 20);
    assert!(rows.iter().all(|r| r["status"] == "ok"));
    // Local span files don't depend on the collector.
    let report = check_span_files(home);
    assert!(report["spans"].as_u64().unwrap() >= 20 * 3, "{report}");
}

#[test]
fn a_collector_that_never_answers_changes_nothing_for_the_caller() {
    let dir = tempfile::tempdir().unwrap();
    let blackhole = Receiver::start(dir.path(), true);
    let home = Home::new();
    calls_through_a_dead_collector(&blackhole.endpoint(), &home);
}

#[test]
fn a_collector_that_is_down_changes_nothing_and_the_loss_is_logged() {
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let home = Home::new();
    let endpoint = format!("http://127.0.0.1:{port}");
    let token = home.add_agent("bot");
    let mut s = home.session(
        "raw",
        &[
            ("GATEHOUSE_TOKEN", &token),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
        ],
    );
    assert_eq!(
        s.call("gatehouse__budgets", json!({}))["isError"],
        json!(false)
    );
    // The failed export is counted and logged (while serve keeps serving).
    wait_for(
        Duration::from_secs(20),
        "the log to report lost spans",
        || {
            let logs = std::fs::read_dir(home.path().join("logs")).ok()?;
            let text: String = logs
                .flatten()
                .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                .collect();
            text.contains("spans were lost").then_some(())
        },
    );
    assert_eq!(
        s.call("gatehouse__budgets", json!({}))["isError"],
        json!(false)
    );
    assert!(s.finish().success());
    let home2 = Home::new();
    calls_through_a_dead_collector(&endpoint, &home2);
}

#[test]
fn an_unusable_otlp_setting_is_reported_and_serve_still_serves() {
    let home = Home::new();
    let token = home.add_agent("bot");
    let mut s = home.session(
        "raw",
        &[
            ("GATEHOUSE_TOKEN", &token),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ],
    );
    assert_eq!(
        s.call("gatehouse__budgets", json!({}))["isError"],
        json!(false)
    );
    let err = s.stderr.clone();
    assert!(s.finish().success());
    let stderr = String::from_utf8_lossy(&err.lock().unwrap()).into_owned();
    assert!(
        stderr.contains("OTEL_EXPORTER_OTLP_PROTOCOL=grpc is not supported"),
        "{stderr}"
    );
    check_span_files(&home);
}
