//! Traces: one user request is one trace across the agent (official Python
//! SDK + OpenTelemetry SDK), Gatehouse and a real upstream MCP server; every
//! call has its spans, and every line of the span files parses as OTLP
//! `TracesData` with the official protobuf definitions. (Export: `otlp.rs`.)

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::util::{Home, gatehouse_bin, python, structured, tests_dir};

pub fn clients() -> PathBuf {
    tests_dir().join("clients")
}

/// `[[upstream]] traced`: the Python SDK server that records its spans to `spans`.
fn traced_upstream(spans: &Path) -> String {
    format!(
        "[[upstream]]\nname = \"traced\"\ncommand = {:?}\nargs = [{:?}]\nenv = {{ TRACED_SPANS_FILE = {:?} }}\n",
        python().display().to_string(),
        clients().join("traced_upstream.py").display().to_string(),
        spans.display().to_string()
    )
}

/// Reads a JSON-lines file (missing: empty).
pub fn jsonl(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{}: {e}: {l}", path.display())))
        .collect()
}

/// The span files under `home/traces`.
pub fn span_files(home: &Home) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(home.path().join("traces")) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
    files.sort();
    files
}

/// Every span in Gatehouse's span files, flattened:
/// `{trace_id, span_id, parent_span_id, name, kind, attributes: {k: v}, status}`.
pub fn gatehouse_spans(home: &Home) -> Vec<Value> {
    let mut out = Vec::new();
    for file in span_files(home) {
        for line in jsonl(&file) {
            for rs in line["resourceSpans"].as_array().unwrap() {
                for ss in rs["scopeSpans"].as_array().unwrap() {
                    for s in ss["spans"].as_array().unwrap() {
                        let attrs: serde_json::Map<String, Value> = s["attributes"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .map(|a| {
                                let v = a["value"].as_object().unwrap().values().next().unwrap();
                                (a["key"].as_str().unwrap().to_string(), v.clone())
                            })
                            .collect();
                        let parent = s["parentSpanId"].as_str().filter(|p| !p.is_empty());
                        out.push(json!({
                            "trace_id": s["traceId"], "span_id": s["spanId"], "parent_span_id": parent,
                            "name": s["name"], "kind": s["kind"], "attributes": attrs,
                            "status": s["status"]["code"],
                        }));
                    }
                }
            }
        }
    }
    out
}

/// Runs `tests/clients/otlp_check.py` over the span files: every line must
/// parse as `TracesData` with the official definitions. Returns its report.
pub fn check_span_files(home: &Home) -> Value {
    let files = span_files(home);
    assert!(
        !files.is_empty(),
        "no span files in {}",
        home.path().display()
    );
    let out = Command::new(python())
        .arg(clients().join("otlp_check.py"))
        .args(&files)
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "otlp_check.py printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert_eq!(
        report["ok"],
        json!(true),
        "span files that are not OTLP: {report}"
    );
    report
}

/// Runs the traced test agent against `gatehouse serve` in `home`.
fn traced_agent(home: &Home, env: &[(&str, &str)], spans: &Path, tool: &str, args: Value) -> Value {
    let mut c = Command::new(python());
    c.arg(clients().join("traced_agent.py"))
        .args(["--spans", spans.to_str().unwrap(), "--tool", tool])
        .args(["--args", &args.to_string()])
        .args([
            "--stderr",
            home.path().join("agent-stderr.log").to_str().unwrap(),
        ])
        .args([
            "--env",
            &format!("GATEHOUSE_HOME={}", home.path().display()),
        ]);
    for (k, v) in env {
        c.args(["--env", &format!("{k}={v}")]);
    }
    let out = c
        .arg("--")
        .arg(gatehouse_bin())
        .arg("serve")
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "traced_agent.py printed no JSON ({e}); stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

pub fn find<'a>(spans: &'a [Value], what: &str, f: impl Fn(&Value) -> bool) -> &'a Value {
    spans
        .iter()
        .find(|s| f(s))
        .unwrap_or_else(|| panic!("no {what} among {spans:#?}"))
}

#[test]
fn one_user_request_is_one_trace_across_agent_gatehouse_and_upstream() {
    let scratch = tempfile::tempdir().unwrap();
    let (agent_file, upstream_file) = (
        scratch.path().join("agent.jsonl"),
        scratch.path().join("upstream.jsonl"),
    );
    let home = Home::with_config(&traced_upstream(&upstream_file));
    let token = home.add_agent("agent");
    let report = traced_agent(
        &home,
        &[("GATEHOUSE_TOKEN", &token)],
        &agent_file,
        "traced__work",
        json!({"text": "hello"}),
    );
    assert_eq!(report["isError"], json!(false), "{report}");
    let trace_id = report["trace_id"].as_str().unwrap().to_string();

    let agent = jsonl(&agent_file);
    let upstream = jsonl(&upstream_file);
    let ours = gatehouse_spans(&home);
    let in_trace = |v: &Value| v["trace_id"] == trace_id.as_str();

    // The agent's own span ("the LLM call") is the root of the trace.
    let llm = find(&agent, "the agent's span", |s| s["name"] == "llm call");
    assert_eq!(llm["trace_id"], trace_id.as_str());
    assert_eq!(llm["parent_span_id"], Value::Null);
    let agent_ids: Vec<&Value> = agent
        .iter()
        .filter(|s| in_trace(s))
        .map(|s| &s["span_id"])
        .collect();

    // Gatehouse's SERVER span is a child of a span of the agent's, in its trace.
    let server = find(&ours, "Gatehouse's SERVER span", |s| {
        s["name"] == "tools/call traced__work" && s["kind"] == 2
    });
    assert_eq!(server["trace_id"], trace_id.as_str());
    assert!(
        agent_ids.contains(&&server["parent_span_id"]),
        "{server} not under {agent_ids:?}"
    );
    let attrs = &server["attributes"];
    assert_eq!(attrs["mcp.method.name"], "tools/call");
    assert_eq!(attrs["gen_ai.tool.name"], "traced__work");
    assert_eq!(attrs["gen_ai.operation.name"], "execute_tool");
    assert_eq!(attrs["network.transport"], "pipe");
    assert_eq!(attrs["gatehouse.agent.name"], "agent");
    assert_eq!(attrs["gatehouse.outcome"], "ok");
    assert!(attrs["jsonrpc.request.id"].is_string());
    // Its children: the guard stages and the CLIENT span of the upstream request.
    let children: Vec<&Value> = ours
        .iter()
        .filter(|s| s["parent_span_id"] == server["span_id"])
        .collect();
    for stage in [
        "guard.identify",
        "guard.policy",
        "guard.lookup",
        "guard.limit",
        "guard.record",
    ] {
        assert!(
            children.iter().any(|c| c["name"] == stage),
            "no {stage} under {server}"
        );
    }
    let client = find(&ours, "Gatehouse's CLIENT span", |s| {
        s["name"] == "tools/call work" && s["kind"] == 3
    });
    assert_eq!(client["parent_span_id"], server["span_id"]);
    assert_eq!(client["attributes"]["gatehouse.upstream"], "traced");

    // The upstream read `_meta`: its SERVER span is a child of Gatehouse's CLIENT span.
    let up_server = find(&upstream, "the upstream's SERVER span", |s| {
        s["name"] == "tools/call work" && s["kind"] == "SERVER"
    });
    assert_eq!(up_server["trace_id"], trace_id.as_str());
    assert_eq!(up_server["parent_span_id"], client["span_id"]);
    let work = find(&upstream, "the tool's own span", |s| s["name"] == "work");
    assert_eq!(work["parent_span_id"], up_server["span_id"]);
    let seen: Value = serde_json::from_str(report["text"].as_str().unwrap()).unwrap();
    assert_eq!(
        seen["traceparent"].as_str().unwrap()[3..52],
        format!("{trace_id}-{}", client["span_id"].as_str().unwrap())
    );

    // The history row and the log line carry the same trace id.
    let rows = home.history();
    assert_eq!(rows[0]["trace_id"], trace_id.as_str());
    let logs = std::fs::read_dir(home.path().join("logs")).unwrap();
    let log_text: String = logs
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect();
    assert!(
        log_text
            .lines()
            .any(|l| l.contains("\"trace_id\":\"") && l.contains(&trace_id)),
        "no log line with trace {trace_id}"
    );

    // `gatehouse trace` shows the same tree.
    let tree = home.json(&["trace", &trace_id]);
    assert_eq!(tree["trace_id"], trace_id.as_str());
    let root = &tree["roots"][0];
    assert_eq!(root["span_id"], server["span_id"]);
    assert_eq!(root["kind"], "server");
    assert!(root["duration_ms"].as_f64().unwrap() > 0.0);
    let kids: Vec<&str> = root["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(
        kids.contains(&"tools/call work") && kids.contains(&"guard.limit"),
        "{kids:?}"
    );
    let text = String::from_utf8(home.run(&["trace", &trace_id]).stdout).unwrap();
    assert!(
        text.contains("tools/call traced__work") && text.contains("└─ guard.record"),
        "{text}"
    );

    check_span_files(&home);
}

#[test]
fn every_call_has_a_server_span_with_its_outcome_whatever_happened() {
    let home = Home::with_config(
        "[limits.tools.\"gatehouse__budgets\"]\nper_minute = 1\n[agents.\"bot\"]\ndeny_tools = [\"nope__x\"]\n",
    );
    let token = home.add_agent("bot");
    let mut s = home.session("raw", &[("GATEHOUSE_TOKEN", &token)]);
    let parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let r = s.request(
        "tools/call",
        json!({"name": "gatehouse__budgets", "arguments": {}, "_meta": {"traceparent": parent, "tracestate": "rojo=00f067aa0ba902b7"}}),
    );
    assert_eq!(r["result"]["isError"], json!(false));
    assert_eq!(structured(&s.call("nope__x", json!({})))["code"], "denied");
    let r = s.request(
        "tools/call",
        json!({"name": "unknown__tool", "arguments": {}}),
    );
    assert_eq!(r["error"]["code"], json!(-32602));
    assert!(s.finish().success());
    let mut bad = home.session("raw", &[("GATEHOUSE_TOKEN", "gth_wrong")]);
    assert_eq!(
        structured(&bad.call("gatehouse__budgets", json!({})))["code"],
        "denied"
    );
    assert!(bad.finish().success());

    let spans = gatehouse_spans(&home);
    let servers: Vec<&Value> = spans.iter().filter(|s| s["kind"] == 2).collect();
    assert_eq!(servers.len(), 4, "{servers:#?}");
    let rows = home.history();
    for row in &rows {
        let span = servers
            .iter()
            .find(|s| s["trace_id"] == row["trace_id"])
            .unwrap_or_else(|| panic!("no span for {row}"));
        assert_eq!(span["attributes"]["gatehouse.outcome"], row["status"]);
    }
    // The caller's context is honoured: same trace, the caller's span as parent.
    let first = find(&spans, "the budgets call", |s| {
        s["name"] == "tools/call gatehouse__budgets"
            && s["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    });
    assert_eq!(first["parent_span_id"], "00f067aa0ba902b7");
    let denied = find(&spans, "the denied call", |s| {
        s["name"] == "tools/call nope__x"
    });
    assert_eq!(denied["attributes"]["error.type"], "denied");
    assert_eq!(denied["status"], 2, "status ERROR");
    let unknown = find(&spans, "the unknown tool call", |s| {
        s["name"] == "tools/call unknown__tool"
    });
    assert_eq!(unknown["attributes"]["error.type"], "-32602");
    let bad_token = find(&spans, "the bad token call", |s| {
        s["kind"] == 2
            && s["attributes"]["gatehouse.agent.name"].is_null()
            && s["attributes"]["error.type"] == "denied"
    });
    assert_eq!(bad_token["attributes"]["gatehouse.code"], "denied");
    check_span_files(&home);
}

#[test]
fn with_local_files_off_no_spans_are_written_and_trace_ids_stay() {
    let home = Home::with_config("[traces]\nlocal_files = false\n");
    let token = home.add_agent("bot");
    let mut s = home.session("raw", &[("GATEHOUSE_TOKEN", &token)]);
    let parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    s.request(
        "tools/call",
        json!({"name": "gatehouse__budgets", "arguments": {}, "_meta": {"traceparent": parent}}),
    );
    assert!(s.finish().success());
    assert!(span_files(&home).is_empty());
    assert_eq!(
        home.history()[0]["trace_id"],
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    let out = home.run(&["trace", "4bf92f3577b34da6a3ce929d0e0e4736"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("local_files = false"));
    let out = home.run(&["trace", "not-a-trace"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a trace id"));
}
