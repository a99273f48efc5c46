//! Agent identity and the user's decisions, seen from running processes:
//! approval unblocks a waiting call, revoke and rotate take effect on the
//! next call of a process already running.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::util::{Home, python, structured, text};

#[test]
fn approving_a_pending_agent_unblocks_its_waiting_call() {
    let home = Home::with_config("[approval]\nwait_seconds = 20\n");
    let mut s = home.session("waiting-agent", &[]);
    let started = Instant::now();
    let id = s.start_request(
        "tools/call",
        json!({"name": "gatehouse__budgets", "arguments": {}}),
    );
    home.wait_for_pending("waiting-agent");
    home.json(&["agents", "approve", "waiting-agent"]);
    let r = s.response(&id, Duration::from_secs(25));
    assert_eq!(r["result"]["isError"], json!(false), "{r}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "answered on approval, not at the end of the wait"
    );
    assert_eq!(home.history()[0]["status"], json!("ok"));
    // Approved but unverified: marked so in every view.
    let a = &home.json(&["agents", "list"])[0];
    assert_eq!(
        (a["status"].clone(), a["verified"].clone()),
        (json!("approved"), json!(false))
    );
}

#[test]
fn denying_a_waiting_agent_ends_its_call_with_denied() {
    let home = Home::with_config("[approval]\nwait_seconds = 20\n");
    let mut s = home.session("unwanted", &[]);
    let id = s.start_request(
        "tools/call",
        json!({"name": "gatehouse__budgets", "arguments": {}}),
    );
    home.wait_for_pending("unwanted");
    home.json(&["agents", "deny", "unwanted"]);
    let r = s.response(&id, Duration::from_secs(25));
    assert_eq!(
        structured(&r["result"])["reason"],
        json!("agent_denied"),
        "{r}"
    );
}

#[test]
fn revoke_stops_a_running_process_at_its_next_call() {
    let home = Home::new();
    let token = home.add_agent("bot");
    let mut s = home.session("raw", &[("GATEHOUSE_TOKEN", &token)]);
    assert_eq!(
        s.call("gatehouse__budgets", json!({}))["isError"],
        json!(false)
    );
    home.json(&["agents", "revoke", "bot"]);
    let r = s.call("gatehouse__budgets", json!({}));
    assert_eq!(structured(&r)["code"], json!("denied"));
    assert_eq!(structured(&r)["reason"], json!("agent_revoked"));
    // Approving a revoked token agent is refused: it needs a new token.
    let out = home.run(&["agents", "approve", "bot"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("rotate"));
}

#[test]
fn rotate_invalidates_the_old_token_at_once() {
    let home = Home::new();
    let old = home.add_agent("bot");
    let mut s = home.session("raw", &[("GATEHOUSE_TOKEN", &old)]);
    assert_eq!(
        s.call("gatehouse__budgets", json!({}))["isError"],
        json!(false)
    );
    let new = home.json(&["agents", "rotate", "bot"])["token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(new, old);
    let r = s.call("gatehouse__budgets", json!({}));
    assert_eq!(structured(&r)["reason"], json!("bad_token"));
    let mut fresh = home.session("raw", &[("GATEHOUSE_TOKEN", &new)]);
    assert_eq!(
        fresh.call("gatehouse__budgets", json!({}))["isError"],
        json!(false)
    );
}

#[test]
fn a_tokenless_client_cannot_take_a_token_agents_name() {
    let home = Home::new();
    home.add_agent("claude-desktop");
    let mut s = home.session("claude-desktop", &[]);
    let r = s.call("gatehouse__budgets", json!({}));
    assert_eq!(structured(&r)["reason"], json!("token_required"));
}

#[test]
fn tool_lists_set_from_the_cli_apply_to_running_processes() {
    let home = Home::new();
    let token = home.add_agent("bot");
    let mut s = home.session("raw", &[("GATEHOUSE_TOKEN", &token)]);
    assert_eq!(s.tool_names(), ["gatehouse__budgets"]);
    let v = home.json(&["agents", "tools", "bot", "--deny", "gatehouse__*"]);
    assert_eq!(v["deny_tools"], json!(["gatehouse__*"]));
    assert!(s.tool_names().is_empty());
    let r = s.call("gatehouse__budgets", json!({}));
    assert_eq!(structured(&r)["reason"], json!("tool_forbidden"));
    home.json(&["agents", "tools", "bot", "--clear-deny"]);
    assert_eq!(s.tool_names(), ["gatehouse__budgets"]);
}

#[test]
fn setting_one_tool_list_from_the_cli_keeps_the_other() {
    let home = Home::new();
    let token = home.add_agent("bot");
    home.json(&["agents", "tools", "bot", "--allow", "github__*"]);
    let v = home.json(&["agents", "tools", "bot", "--deny", "gmail__send"]);
    assert_eq!(v["allow_tools"], json!(["github__*"]), "{v}");
    assert_eq!(v["deny_tools"], json!(["gmail__send"]), "{v}");
    // Still GitHub-only: not even gatehouse__budgets is allowed.
    let mut s = home.session("raw", &[("GATEHOUSE_TOKEN", &token)]);
    assert!(s.tool_names().is_empty());
    // No list given: nothing changes, the agent is shown.
    let v = home.json(&["agents", "tools", "bot"]);
    assert_eq!(
        (v["allow_tools"].clone(), v["deny_tools"].clone()),
        (json!(["github__*"]), json!(["gmail__send"]))
    );
    // Lists are emptied only on request.
    let v = home.json(&["agents", "tools", "bot", "--clear-allow"]);
    assert_eq!(
        (v["allow_tools"].clone(), v["deny_tools"].clone()),
        (json!([]), json!(["gmail__send"]))
    );
    assert_eq!(s.tool_names(), ["gatehouse__budgets"]);
    let v = home.json(&["agents", "tools", "bot", "--clear-deny"]);
    assert_eq!(v["deny_tools"], json!([]));
    // A list and its clearing at once is a usage error, and changes nothing.
    let out = home.run(&["agents", "tools", "bot", "--deny", "x__*", "--clear-deny"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        home.json(&["agents", "tools", "bot"])["deny_tools"],
        json!([])
    );
}

#[test]
fn a_call_waiting_for_approval_is_recorded_when_the_client_hangs_up() {
    let home = Home::with_config("[approval]\nwait_seconds = 20\n");
    let mut s = home.session("impatient", &[]);
    s.start_request(
        "tools/call",
        json!({"name": "gatehouse__budgets", "arguments": {}}),
    );
    home.wait_for_pending("impatient");
    let started = Instant::now();
    assert!(s.finish().success());
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "serve stops without waiting out the approval window"
    );
    let rows = home.history();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["status"], json!("approval_pending"));
}

/// Writes `value` into the stored tool list `column` of agent `name`, as a
/// damaged database (or another program) might, with Python's sqlite3.
fn damage_tool_list(home: &Home, name: &str, column: &str, value: &str) {
    let script = format!(
        "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); \
         c.execute('UPDATE agents SET {column} = ? WHERE name = ?', (sys.argv[2], sys.argv[3])); c.commit()"
    );
    let status = std::process::Command::new(python())
        .args(["-c", &script])
        .arg(home.path().join("gatehouse.db"))
        .args([value, name])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn a_stored_tool_list_that_cannot_be_read_refuses_every_call() {
    let home = Home::new();
    let token = home.add_agent("bot");
    home.json(&["agents", "tools", "bot", "--allow", "github__*"]);
    let mut s = home.session("raw", &[("GATEHOUSE_TOKEN", &token)]);
    assert!(s.tool_names().is_empty(), "GitHub only");
    // A damaged allow list must not become "allow everything".
    for (column, value) in [
        ("allow_tools", "not json"),
        ("allow_tools", "{\"github__*\": true}"),
        ("deny_tools", "[\"not a pattern!\"]"),
    ] {
        damage_tool_list(&home, "bot", "allow_tools", "[]");
        damage_tool_list(&home, "bot", "deny_tools", "[]");
        damage_tool_list(&home, "bot", column, value);
        assert!(
            s.tool_names().is_empty(),
            "{column} = {value}: tools/list shows nothing"
        );
        let r = s.call("gatehouse__budgets", json!({}));
        assert_eq!(structured(&r)["code"], json!("system_error"), "{r}");
        let sentence = text(&r);
        assert!(
            sentence.contains("\"bot\"") && sentence.contains("gatehouse agents tools bot"),
            "names the agent and the fix: {sentence}"
        );
        let row = &home.history()[0];
        assert_eq!(row["status"], json!("system_error"), "{row}");
        let v = home.json(&["agents", "tools", "bot"]);
        assert!(v["tools_error"].as_str().is_some(), "{v}");
    }
    // Setting the list again repairs it.
    let v = home.json(&["agents", "tools", "bot", "--clear-deny"]);
    assert_eq!(v["tools_error"], json!(null), "{v}");
    assert_eq!(s.tool_names(), ["gatehouse__budgets"]);
}
