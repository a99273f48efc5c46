//! Clients that others wrote: the official Python `mcp` SDK (legacy
//! handshake and its current 2026-07-28 mode) and the MCP Inspector CLI.

use std::process::Command;

use serde_json::json;

use crate::util::{Home, everything_upstream, gatehouse_bin, python_client, tests_dir};

fn home() -> (Home, String) {
    let home = Home::with_config(&format!(
        "{}[limits.tools.\"everything__echo\"]\nper_minute = 2\n",
        everything_upstream("everything")
    ));
    let token = home.add_agent("python");
    (home, token)
}

fn python_flow(mode: &str, expect_version: &str) {
    let (home, token) = home();
    let report = python_client(
        &home,
        mode,
        "python-sdk",
        &[("GATEHOUSE_TOKEN", &token)],
        json!([
            {"op": "list_tools"},
            {"op": "call", "tool": "everything__echo", "args": {"message": "hello"}, "repeat": 3},
            {"op": "call", "tool": "gatehouse__budgets", "args": {}},
            {"op": "call", "tool": "nope__missing", "args": {}}
        ]),
    );
    assert_eq!(report["protocolVersion"], json!(expect_version), "{report}");
    let r = report["results"].as_array().unwrap();
    let names = r[0]["names"].as_array().unwrap();
    assert!(
        names.contains(&json!("everything__echo")) && names.contains(&json!("gatehouse__budgets"))
    );
    assert_eq!(
        (r[1]["isError"].clone(), r[1]["text"].clone()),
        (json!(false), json!("Echo: hello")),
        "{}",
        r[1]
    );
    assert_eq!(r[2]["isError"], json!(false));
    assert_eq!(r[3]["isError"], json!(true));
    assert_eq!(r[3]["structuredContent"]["code"], json!("rate_limited"));
    assert_eq!(r[3]["structuredContent"]["retryable"], json!(true));
    assert!(r[4]["structuredContent"]["budgets"].is_array(), "{}", r[4]);
    assert_eq!(r[5]["ok"], json!(false));
    assert_eq!(r[5]["error"]["code"], json!(-32602));
    assert_eq!(
        home.history().len(),
        5,
        "every call recorded (the unknown one too)"
    );
}

#[test]
fn the_python_sdk_in_legacy_mode_gets_the_whole_contract() {
    python_flow("legacy", "2025-11-25");
}

#[test]
fn the_python_sdk_in_its_current_mode_speaks_2026_07_28() {
    python_flow("auto", "2026-07-28");
}

#[test]
fn a_tokenless_python_client_is_named_by_its_client_info() {
    let home = Home::with_config("[approval]\nwait_seconds = 0\n");
    for mode in ["legacy", "auto"] {
        let report = python_client(
            &home,
            mode,
            "My Python Agent",
            &[],
            json!([{"op": "call", "tool": "gatehouse__budgets", "args": {}}]),
        );
        assert_eq!(
            report["results"][0]["structuredContent"]["code"],
            json!("approval_pending"),
            "{report}"
        );
    }
    let agents = home.json(&["agents", "list"]);
    assert_eq!(
        agents.as_array().unwrap().len(),
        1,
        "one agent for both protocol modes: {agents}"
    );
    assert_eq!(agents[0]["name"], json!("My Python Agent"));
}

fn inspector(home: &Home, token: &str, args: &[&str]) -> std::process::Output {
    let bin = tests_dir().join("node_modules/.bin/mcp-inspector");
    assert!(bin.exists(), "run `bash tests/setup.sh` first");
    Command::new("node")
        .arg(bin)
        .arg("--cli")
        .args(["-e", &format!("GATEHOUSE_HOME={}", home.path().display())])
        .args(["-e", &format!("GATEHOUSE_TOKEN={token}")])
        .args(args)
        .arg("--")
        .arg(gatehouse_bin())
        .arg("serve")
        .output()
        .unwrap()
}

#[test]
fn the_mcp_inspector_lists_and_calls_tools() {
    let (home, token) = home();
    let out = inspector(&home, &token, &["--method", "tools/list"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("everything__echo") && text.contains("gatehouse__budgets"),
        "{text}"
    );

    let call = [
        "--method",
        "tools/call",
        "--tool-name",
        "everything__echo",
        "--tool-arg",
        "message=from-inspector",
    ];
    let out = inspector(&home, &token, &call);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("Echo: from-inspector"));

    // The third call within a minute exceeds 2/minute: a tool error (exit 5) with the contract.
    let _ = inspector(&home, &token, &call);
    let out = inspector(&home, &token, &call);
    assert_eq!(
        out.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("rate_limited") && text.contains("retry_after_ms"),
        "{text}"
    );
}
