//! A real upstream (`server-everything`) behind Gatehouse: its tools are
//! re-exported as `<name>__<tool>` through the same guard, progress and
//! cancellation pass through, and a crash is survived with a restart.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::traces::jsonl;
use crate::util::{Home, everything_upstream, quoting_upstream, structured, wait_for};

fn home() -> (Home, String) {
    let home = Home::with_config(&everything_upstream("everything"));
    let token = home.add_agent("bot");
    (home, token)
}

#[test]
fn upstream_tools_are_re_exported_and_guarded() {
    let (home, token) = home();
    let mut s = home.session("raw", &[("GATEHOUSE_TOKEN", &token)]);
    let names = s.tool_names();
    for t in [
        "gatehouse__budgets",
        "everything__echo",
        "everything__get-sum",
    ] {
        assert!(names.contains(&t.to_string()), "{t} missing from {names:?}");
    }
    let r = s.call("everything__get-sum", json!({"a": 2, "b": 3}));
    assert!(
        r["content"][0]["text"].as_str().unwrap().contains('5'),
        "{r}"
    );
    let row = &home.history()[0];
    assert_eq!(
        (
            row["tool"].clone(),
            row["status"].clone(),
            row["agent"].clone()
        ),
        (json!("everything__get-sum"), json!("ok"), json!("bot"))
    );
    assert_eq!(
        row["args"],
        json!({"a": 2, "b": 3}),
        "short numbers may stay"
    );
    // An enum value the upstream's schema lists is safe to keep.
    s.call(
        "everything__get-structured-content",
        json!({"location": "Chicago"}),
    );
    assert_eq!(home.history()[0]["args"], json!({"location": "Chicago"}));
}

#[test]
fn progress_from_the_upstream_reaches_the_client_under_its_own_token() {
    let (home, token) = home();
    let mut s = home.session("raw", &[("GATEHOUSE_TOKEN", &token)]);
    let id = s.start_request(
        "tools/call",
        json!({"name": "everything__trigger-long-running-operation", "arguments": {"duration": 1, "steps": 3},
               "_meta": {"progressToken": "my-token-7"}}),
    );
    let mut progress = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    let result = loop {
        let m = s.next_message(deadline.saturating_duration_since(Instant::now()));
        if m["method"] == "notifications/progress" {
            progress.push(m);
        } else if m.get("id") == Some(&id) {
            break m;
        }
    };
    assert_ne!(result["result"]["isError"], json!(true), "{result}");
    assert!(
        result["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("completed")
    );
    assert!(progress.len() >= 2, "progress notifications: {progress:?}");
    assert!(
        progress
            .iter()
            .all(|p| p["params"]["progressToken"] == "my-token-7"),
        "{progress:?}"
    );
}

#[test]
fn a_cancelled_call_is_cancelled_upstream_and_recorded() {
    // The Python SDK upstream records each `notifications/cancelled` it gets.
    let events_dir = tempfile::tempdir().unwrap();
    let events = events_dir.path().join("events.jsonl");
    let home = Home::with_config(&quoting_upstream(&events));
    let token = home.add_agent("bot");
    let mut s = home.session("raw", &[("GATEHOUSE_TOKEN", &token)]);
    s.tool_names();
    let id = s.start_request(
        "tools/call",
        json!({"name": "quoting__slow", "arguments": {"seconds": 30}}),
    );
    // Cancel once the upstream is working on it.
    let started = wait_for(
        Duration::from_secs(10),
        "the upstream to start the call",
        || jsonl(&events).into_iter().find(|e| e["event"] == "started"),
    );
    s.send(&json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": id, "reason": "user stopped it"}}));
    let cancelled = wait_for(
        Duration::from_secs(10),
        "the upstream to receive notifications/cancelled",
        || {
            jsonl(&events)
                .into_iter()
                .find(|e| e["event"] == "cancelled")
        },
    );
    // For the upstream's own request id (as text: the SDK hands it over so).
    assert_eq!(
        cancelled["params"]["requestId"]
            .to_string()
            .trim_matches('"'),
        started["request_id"].to_string().trim_matches('"'),
        "{cancelled} {started}"
    );
    let row = wait_for(
        Duration::from_secs(10),
        "the cancelled call's history row",
        || {
            home.history()
                .into_iter()
                .find(|r| r["tool"] == "quoting__slow")
        },
    );
    assert_eq!(row["code"], json!("cancelled"), "{row}");
    assert!(
        row["latency_ms"].as_f64().unwrap() < 10_000.0,
        "cancelled long before its 30 s"
    );
    // The session goes on.
    let r = s.call("quoting__slow", json!({"seconds": 0}));
    assert_eq!(r["isError"], json!(false), "{r}");
}

#[test]
fn a_crashed_upstream_gives_retryable_errors_then_is_restarted() {
    let (home, token) = home();
    let mut s = home.session("raw", &[("GATEHOUSE_TOKEN", &token)]);
    assert_eq!(
        s.call("everything__echo", json!({"message": "before"}))["isError"],
        json!(false)
    );
    let children = s.children();
    assert!(
        !children.is_empty(),
        "the upstream runs as a child of serve"
    );
    for pid in &children {
        std::process::Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status()
            .unwrap();
    }
    // Until it is back, calls fail with a retryable upstream_error; then they succeed again.
    let mut saw_error = false;
    let recovered: Value = wait_for(
        Duration::from_secs(20),
        "the upstream to be restarted",
        || {
            let r = s.call("everything__echo", json!({"message": "during"}));
            if r["isError"] == json!(true) {
                let sc = structured(&r);
                assert_eq!(sc["code"], json!("upstream_error"), "{r}");
                assert_eq!(sc["retryable"], json!(true), "{r}");
                saw_error = true;
                std::thread::sleep(Duration::from_millis(100));
                None
            } else {
                Some(r)
            }
        },
    );
    assert_eq!(recovered["isError"], json!(false));
    assert!(saw_error, "at least the call right after the crash fails");
    let new_children = s.children();
    assert!(
        new_children.iter().all(|p| !children.contains(p)),
        "a new upstream process"
    );
}

#[test]
fn upstream_children_stop_when_serve_stops() {
    let (home, token) = home();
    let mut s = home.session("raw", &[("GATEHOUSE_TOKEN", &token)]);
    s.tool_names();
    let children = s.children();
    assert!(!children.is_empty());
    assert!(s.finish().success());
    wait_for(Duration::from_secs(10), "upstream children to exit", || {
        children
            .iter()
            .all(|p| !std::path::Path::new(&format!("/proc/{p}")).exists())
            .then_some(())
    });
}

#[test]
fn the_token_is_not_passed_to_upstreams() {
    // Gatehouse's credentials stay with it: every GATEHOUSE_* variable (the
    // token, a client secret, the home with the redaction key) and the OTLP
    // exporter's headers, unless the upstream's own env table sets one.
    let home = Home::with_config(&format!(
        "{}env = {{ GATEHOUSE_PROFILE = \"set-for-this-upstream\" }}\n",
        everything_upstream("everything")
    ));
    let token = home.add_agent("bot");
    let mut s = home.session(
        "raw",
        &[
            ("GATEHOUSE_TOKEN", &token),
            ("GATEHOUSE_CLIENT_SECRET", "canary-client-secret"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "api-key=canary-otlp-key"),
            (
                "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
                "api-key=canary-traces-key",
            ),
            ("MY_SETTING", "passed-through"),
        ],
    );
    let r = s.call("everything__get-env", json!({}));
    let env_text = r["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        env_text.contains("MY_SETTING") && env_text.contains("passed-through"),
        "get-env shows the upstream's environment, which keeps the rest: {env_text:.300}"
    );
    assert!(
        env_text.contains("GATEHOUSE_PROFILE") && env_text.contains("set-for-this-upstream"),
        "a variable the upstream's env table sets is passed: {env_text:.300}"
    );
    for withheld in [
        token.as_str(),
        "GATEHOUSE_TOKEN",
        "GATEHOUSE_HOME",
        "GATEHOUSE_CLIENT_SECRET",
        "canary-client-secret",
        "OTEL_EXPORTER_OTLP_HEADERS",
        "canary-otlp-key",
        "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
        "canary-traces-key",
    ] {
        assert!(
            !env_text.contains(withheld),
            "{withheld} reached the upstream: {env_text:.300}"
        );
    }
}
