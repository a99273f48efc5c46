//! Canaries: personal data and secrets planted in arguments appear nowhere
//! under `GATEHOUSE_HOME` (database, WAL, logs, span files in `traces/`, key,
//! client stderr) nor on Gatehouse's stderr, whatever path the call took.

use std::time::Duration;

use serde_json::json;

use crate::util::{
    Home, everything_upstream, python_client, quoting_upstream, structured, text, wait_for,
};

const EMAIL: &str = "jane.canary@example.com";
const GH_TOKEN: &str = "ghp_CanaryToken0123456789abcdefghijklmn";
const CARD: &str = "4111 1111 1111 1111";
const CARD_DIGITS: &str = "4111111111111111";
const PHRASE: &str = "Blue-Canary-Phrase-42";

/// No file under the home and nothing on `stderr` holds any of `canaries`.
fn assert_clean(home: &Home, stderr: &str, canaries: &[&str]) {
    for canary in canaries {
        home.assert_nowhere(canary);
        assert!(
            !stderr.contains(canary),
            "canary {canary:?} found on stderr:\n{stderr}"
        );
    }
}

#[test]
fn canaries_in_arguments_reach_no_file_and_no_stderr() {
    let home = Home::with_config(&format!(
        "{}[limits.tools.\"everything__echo\"]\nper_minute = 2\n[agents.\"bot\"]\ndeny_tools = [\"everything__get-env\"]\n",
        everything_upstream("everything")
    ));
    let token = home.add_agent("bot");
    let mut s = home.session("raw", &[("GATEHOUSE_TOKEN", &token)]);
    let secret_args = json!({"message": format!("{EMAIL} {GH_TOKEN} {CARD} {PHRASE}")});

    // Allowed, through the upstream (the echo comes back to the client: that's its data).
    let r = s.call("everything__echo", secret_args.clone());
    assert!(r["content"][0]["text"].as_str().unwrap().contains(EMAIL));
    s.call(
        "everything__echo",
        json!({"message": PHRASE, "card": CARD_DIGITS.parse::<u64>().unwrap()}),
    );
    // Rate limited, denied by policy, unknown tool, wrong argument types, malformed lines.
    assert_eq!(
        structured(&s.call("everything__echo", secret_args.clone()))["code"],
        json!("rate_limited")
    );
    assert_eq!(
        structured(&s.call("everything__get-env", secret_args.clone()))["code"],
        json!("denied")
    );
    let r = s.request(
        "tools/call",
        json!({"name": EMAIL, "arguments": secret_args}),
    );
    assert_eq!(r["error"]["code"], json!(-32602));
    let r = s.request("tools/call", json!({"name": "gatehouse__budgets", "arguments": {"tool": CARD_DIGITS.parse::<u64>().unwrap()}}));
    assert_eq!(r["error"]["code"], json!(-32602));
    s.send_raw(format!("{{\"jsonrpc\":\"2.0\",\"id\":999,\"method\":\"tools/call\",\"params\":{{\"name\":\"{PHRASE}\" broken\n").as_bytes());
    let _ = s.response(&json!(null), std::time::Duration::from_secs(10));
    let s_stderr = s.stderr_text();
    assert!(s.finish().success());

    // The same through the official Python SDK (its stderr file lives in the home folder).
    let report = python_client(
        &home,
        "legacy",
        "python-agent",
        &[("GATEHOUSE_TOKEN", &token)],
        json!([{"op": "call", "tool": "gatehouse__budgets", "args": {"tool": EMAIL}}]),
    );
    assert_eq!(report["results"][0]["isError"], json!(false), "{report}");

    // Every call was recorded, with summaries in place of values.
    let rows = home.history();
    assert!(rows.len() >= 7, "{rows:?}");
    let echo = rows
        .iter()
        .rev()
        .find(|r| r["tool"] == "everything__echo")
        .unwrap();
    assert!(
        echo["args"]["message"]
            .as_str()
            .unwrap()
            .starts_with("<str:"),
        "{echo}"
    );
    assert!(
        rows.iter()
            .any(|r| r["tool"].as_str().unwrap().starts_with("<tool:")),
        "an unknown tool's name is hidden too"
    );
    // Every call has its spans in traces/ (grepped with every other file):
    // the unknown tool's span is named by its hidden label, like its history row.
    let spans = crate::traces::gatehouse_spans(&home);
    assert!(spans.len() >= rows.len() * 3, "{} spans", spans.len());
    assert!(
        spans
            .iter()
            .any(|s| s["name"].as_str().unwrap().starts_with("tools/call <tool:")),
        "the unknown tool's span name is hidden"
    );
    assert!(
        spans.iter().any(|s| s["attributes"]["gatehouse.args"]
            .as_str()
            .is_some_and(|a| a.contains("<str:"))),
        "spans carry the redacted summary"
    );
    crate::traces::check_span_files(&home);
    assert_clean(
        &home,
        &s_stderr,
        &[
            EMAIL,
            GH_TOKEN,
            CARD,
            CARD_DIGITS,
            PHRASE,
            "jane.canary",
            "CanaryToken",
        ],
    );
}

/// Quoted by the upstream JSON-escaped (`\"merger\"`, `Z\u00fcrich`) and as
/// a Python repr: forms that a search for the value itself would miss.
const QUOTED: &str = "Project Nightingale \"merger\" Zürich";

#[test]
fn an_upstream_quoting_arguments_in_errors_and_on_stderr_leaves_no_trace_of_them() {
    let events = tempfile::tempdir().unwrap();
    let home = Home::with_config(&quoting_upstream(&events.path().join("events.jsonl")));
    let token = home.add_agent("bot");
    let mut s = home.session("raw", &[("GATEHOUSE_TOKEN", &token)]);
    assert!(s.tool_names().contains(&"quoting__find".to_string()));
    // What the upstream says on stderr before its first call is kept (scrubbed): startup errors matter.
    wait_for(
        Duration::from_secs(10),
        "the upstream's startup line in the log",
        || {
            home.logs()
                .contains("quoting-upstream: ready on stdio")
                .then_some(())
        },
    );

    let stderr_lines = || home.logs().matches("gatehouse::upstream::stderr").count();
    let before_calls = stderr_lines();

    // The client still gets the upstream's whole message.
    let r = s.call("quoting__find", json!({"query": QUOTED}));
    assert_eq!(structured(&r)["code"], json!("upstream_error"), "{r}");
    assert_eq!(structured(&r)["upstream_code"], json!(-32000), "{r}");
    assert!(
        text(&r).contains(r#"no match for "Project Nightingale \"merger\" Z\u00fcrich""#),
        "{r}"
    );
    let r = s.call("quoting__check", json!({"query": QUOTED}));
    assert_eq!(structured(&r)["upstream_code"], json!(-32602), "{r}");
    assert!(text(&r).contains("Nightingale"), "{r}");
    // The stderr lines the calls caused are logged too, as length and hash only.
    wait_for(
        Duration::from_secs(10),
        "the upstream's stderr lines after the call",
        || (stderr_lines() >= before_calls + 2).then_some(()),
    );
    let s_stderr = s.stderr_text();
    assert!(s.finish().success());

    // History and log keep the facts, and the message only as length and keyed hash.
    let rows = home.history();
    let find = rows.iter().find(|r| r["tool"] == "quoting__find").unwrap();
    let message = find["message"].as_str().unwrap();
    assert!(
        message.starts_with("upstream \"quoting\" returned error -32000 (message: <str:")
            && message.ends_with(">)"),
        "{find}"
    );
    assert_eq!(find["status"], json!("system_error"));
    let check = rows.iter().find(|r| r["tool"] == "quoting__check").unwrap();
    assert_eq!(check["status"], json!("business_error"), "{check}");
    assert!(
        check["message"]
            .as_str()
            .unwrap()
            .starts_with("upstream \"quoting\" returned error -32602 (message: <str:"),
        "{check}"
    );
    assert_clean(
        &home,
        &s_stderr,
        &["Nightingale", "merger", "Zürich", "Z\\u00fcrich"],
    );
    let hashed = home
        .logs()
        .lines()
        .filter(|l| l.contains("gatehouse::upstream::stderr") && l.contains("\"line\":\"<str:"))
        .count();
    assert!(
        hashed >= 2,
        "stderr lines after the first call are logged as length and hash"
    );
}
