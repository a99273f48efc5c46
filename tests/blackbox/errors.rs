//! The error contract, code by code: guardrail refusals are `isError` tool
//! results with one sentence of text and flat `structuredContent`.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::util::{Home, everything_upstream, structured, text};

fn one_sentence(result: &serde_json::Value) {
    assert_eq!(result["isError"], json!(true), "{result}");
    assert_eq!(result["content"].as_array().unwrap().len(), 1, "{result}");
    let t = text(result);
    assert!(
        t.len() > 20 && !t.contains('\n'),
        "one plain sentence expected: {t:?}"
    );
}

#[test]
fn rate_limited_says_scope_budget_and_a_truthful_retry_time() {
    let home = Home::with_config(&format!(
        "{}[limits.tools.\"everything__echo\"]\nper_minute = 2\n",
        everything_upstream("everything")
    ));
    let token = home.add_agent("bot");
    let mut s = home.session("raw", &[("GATEHOUSE_TOKEN", &token)]);
    for _ in 0..2 {
        let r = s.call("everything__echo", json!({"message": "hi"}));
        assert_eq!(r["isError"], json!(false), "{r}");
    }
    let r = s.call("everything__echo", json!({"message": "hi"}));
    one_sentence(&r);
    let sc = structured(&r);
    assert_eq!(sc["code"], json!("rate_limited"));
    assert_eq!(sc["retryable"], json!(true));
    assert_eq!(sc["scope"], json!("tool"));
    assert_eq!(sc["budget"], json!("2/minute"));
    let retry = sc["retry_after_ms"].as_i64().unwrap();
    // Two calls a moment ago from a 2/minute bucket: the next token is ~30 s away.
    assert!((25_000..=30_000).contains(&retry), "retry_after_ms {retry}");
    let rows = home.history();
    assert_eq!(rows[0]["status"], json!("rate_limited"));
    assert_eq!(rows[0]["code"], json!("rate_limited"));
}

#[test]
fn a_call_succeeds_again_after_retry_after_ms() {
    let home = Home::with_config(&format!(
        "{}[limits.tools.\"everything__echo\"]\nper_second = 2\n",
        everything_upstream("everything")
    ));
    let token = home.add_agent("bot");
    let mut s = home.session("raw", &[("GATEHOUSE_TOKEN", &token)]);
    let mut refused = None;
    for _ in 0..5 {
        let r = s.call("everything__echo", json!({"message": "x"}));
        if r["isError"] == json!(true) {
            refused = Some(r);
            break;
        }
    }
    let refused = refused.expect("a 2/second budget refuses within 5 quick calls");
    let retry = structured(&refused)["retry_after_ms"].as_u64().unwrap();
    assert!((1..=500).contains(&retry), "retry_after_ms {retry}");
    let started = Instant::now();
    std::thread::sleep(Duration::from_millis(retry));
    let again = s.call("everything__echo", json!({"message": "x"}));
    assert_eq!(
        again["isError"],
        json!(false),
        "after waiting {:?}: {again}",
        started.elapsed()
    );
}

#[test]
fn approval_pending_names_the_agent_and_how_to_approve() {
    let home = Home::with_config("[approval]\nwait_seconds = 1\n");
    let mut s = home.session("New Agent", &[]);
    let started = Instant::now();
    let r = s.call("gatehouse__budgets", json!({}));
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "the call waited for approval"
    );
    one_sentence(&r);
    let sc = structured(&r);
    assert_eq!(sc["code"], json!("approval_pending"));
    assert_eq!(sc["retryable"], json!(true));
    assert_eq!(sc["agent"], json!("New Agent"));
    assert!(sc["retry_after_ms"].as_i64().unwrap() > 0);
    assert!(
        sc["approve_with"]
            .as_str()
            .unwrap()
            .contains("gatehouse agents approve")
    );
    let agents = home.json(&["agents", "list"]);
    let a = &agents[0];
    assert_eq!(
        (
            a["name"].clone(),
            a["status"].clone(),
            a["verified"].clone()
        ),
        (json!("New Agent"), json!("pending"), json!(false))
    );
    assert!(
        a["parent_exe"].as_str().is_some(),
        "the launching executable is shown: {a}"
    );
    assert_eq!(home.history()[0]["status"], json!("approval_pending"));
}

#[test]
fn denied_is_not_retryable_for_denied_agents_bad_tokens_and_forbidden_tools() {
    let home = Home::with_config("[agents.\"bot\"]\ndeny_tools = [\"gatehouse__*\"]\n");
    let token = home.add_agent("bot");
    let other = home.add_agent("other");
    home.json(&["agents", "deny", "other"]);

    let mut s = home.session("raw", &[("GATEHOUSE_TOKEN", &token)]);
    let r = s.call("gatehouse__budgets", json!({}));
    one_sentence(&r);
    assert_eq!(structured(&r)["code"], json!("denied"));
    assert_eq!(structured(&r)["retryable"], json!(false));
    assert_eq!(structured(&r)["reason"], json!("tool_forbidden"));
    assert!(
        s.tool_names().is_empty(),
        "tools/list shows only what the agent may call"
    );

    let mut s = home.session("raw", &[("GATEHOUSE_TOKEN", &other)]);
    let r = s.call("gatehouse__budgets", json!({}));
    assert_eq!(structured(&r)["reason"], json!("agent_denied"));

    let mut s = home.session(
        "raw",
        &[(
            "GATEHOUSE_TOKEN",
            "gth_0000000000000000000000000000000000000000000000000000000000000000",
        )],
    );
    let r = s.call("gatehouse__budgets", json!({}));
    assert_eq!(structured(&r)["code"], json!("denied"));
    assert_eq!(structured(&r)["reason"], json!("bad_token"));
    // A bad token never falls back to tokenless identity.
    assert!(
        home.json(&["agents", "list"])
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["name"] != "raw")
    );
    // The auth failure is recorded, naming the client that sent the token.
    let row = &home.history()[0];
    assert_eq!(
        (
            row["status"].clone(),
            row["message"].clone(),
            row["agent"].clone()
        ),
        (
            json!("denied"),
            json!("bad_token from client \"raw\""),
            json!(null)
        )
    );
}

#[test]
fn an_upstream_that_cannot_start_gives_a_retryable_upstream_error() {
    let home = Home::with_config(
        "[server]\nupstream_start_seconds = 2\n[[upstream]]\nname = \"broken\"\ncommand = \"/nonexistent/mcp-server\"\n",
    );
    let token = home.add_agent("bot");
    let mut s = home.session("raw", &[("GATEHOUSE_TOKEN", &token)]);
    let r = s.call("broken__anything", json!({}));
    one_sentence(&r);
    let sc = structured(&r);
    assert_eq!(sc["code"], json!("upstream_error"));
    assert_eq!(sc["retryable"], json!(true));
    assert_eq!(sc["upstream_status"], json!(503));
    assert!(sc["retry_after_ms"].as_i64().unwrap() >= 0);
    assert_eq!(home.history()[0]["status"], json!("system_error"));
}

#[test]
fn a_locked_database_refuses_calls_with_system_error_never_lets_them_through() {
    let home = Home::with_config(&everything_upstream("everything"));
    let token = home.add_agent("bot");
    let mut s = home.session("raw", &[("GATEHOUSE_TOKEN", &token)]);
    assert_eq!(
        s.call("everything__echo", json!({"message": "a"}))["isError"],
        json!(false)
    );

    let db = rusqlite::Connection::open(home.path().join("gatehouse.db")).unwrap();
    db.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let r = s.call("everything__echo", json!({"message": "b"}));
    one_sentence(&r);
    assert_eq!(structured(&r)["code"], json!("system_error"), "{r}");
    assert_eq!(structured(&r)["retryable"], json!(true));
    db.execute_batch("ROLLBACK").unwrap();
    drop(db);

    assert_eq!(
        s.call("everything__echo", json!({"message": "c"}))["isError"],
        json!(false)
    );
}
