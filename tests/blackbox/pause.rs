//! "Pause all agents": `gatehouse pause` refuses every call of processes
//! already running, token agents and tokenless ones alike, and `resume`
//! lets them through again, without restarting anything.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::util::{Home, structured, text};

#[test]
fn pause_refuses_the_next_call_of_a_running_process_until_resume() {
    let home = Home::new();
    let token = home.add_agent("bot");
    let mut s = home.session("raw", &[("GATEHOUSE_TOKEN", &token)]);
    assert_eq!(
        s.call("gatehouse__budgets", json!({}))["isError"],
        json!(false)
    );

    let paused = home.json(&["pause"]);
    assert_eq!(paused["paused"], json!(true), "{paused}");
    assert!(paused["since"].is_string());
    let r = s.call("gatehouse__budgets", json!({}));
    assert_eq!(r["isError"], json!(true), "{r}");
    assert_eq!(structured(&r)["code"], json!("denied"));
    assert_eq!(structured(&r)["reason"], json!("paused"));
    assert_eq!(structured(&r)["retryable"], json!(false));
    assert!(
        text(&r).contains("paused all agents") && text(&r).contains("gatehouse resume"),
        "{r}"
    );
    let row = &home.history()[0];
    assert_eq!(
        (row["status"].clone(), row["agent"].clone()),
        (json!("denied"), json!("bot"))
    );

    assert_eq!(home.json(&["resume"])["paused"], json!(false));
    assert_eq!(
        s.call("gatehouse__budgets", json!({}))["isError"],
        json!(false)
    );
}

#[test]
fn a_pending_agent_is_refused_at_once_while_paused_and_tools_stay_listed() {
    let home = Home::with_config("[approval]\nwait_seconds = 20\n");
    home.json(&["pause"]);
    let mut s = home.session("newcomer", &[]);
    assert!(s.tool_names().contains(&"gatehouse__budgets".to_string()));
    let started = Instant::now();
    let r = s.call("gatehouse__budgets", json!({}));
    assert_eq!(structured(&r)["reason"], json!("paused"), "{r}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "no approval wait while paused"
    );
    // It still appears, pending, so the user sees who knocked.
    home.wait_for_pending("newcomer");
}

#[test]
fn pausing_ends_the_wait_of_a_call_waiting_for_approval() {
    let home = Home::with_config("[approval]\nwait_seconds = 20\n");
    let mut s = home.session("waiting", &[]);
    let id = s.start_request(
        "tools/call",
        json!({"name": "gatehouse__budgets", "arguments": {}}),
    );
    home.wait_for_pending("waiting");
    home.json(&["pause"]);
    let r = s.response(&id, Duration::from_secs(25));
    assert_eq!(structured(&r["result"])["reason"], json!("paused"), "{r}");
}

#[test]
fn pause_and_resume_print_a_sentence_without_json() {
    let home = Home::new();
    let out = home.run(&["pause"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("gatehouse resume"));
    let out = home.run(&["resume"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("no longer paused"));
}
