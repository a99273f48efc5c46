//! Alerts from the user's side: `gatehouse alerts --json` after real calls,
//! and a running `serve` raising an alert by itself. (Each rule's baseline,
//! episode and resolution with time moved by hand: `src-core/src/alerts/tests.rs`.)

use std::time::Duration;

use serde_json::json;

use crate::util::{Home, everything_upstream, structured, wait_for};

const BAD_TOKEN: &str = "gth_0000000000000000000000000000000000000000000000000000000000000000";

#[test]
fn bad_tokens_spiking_open_one_auth_failures_alert_naming_the_client() {
    let home = Home::new();
    assert_eq!(home.json(&["alerts"]), json!([]));
    let mut s = home.session("cursor", &[("GATEHOUSE_TOKEN", BAD_TOKEN)]);
    for _ in 0..5 {
        assert_eq!(
            structured(&s.call("gatehouse__budgets", json!({})))["reason"],
            "bad_token"
        );
    }
    assert!(s.finish().success());
    let alerts = home.json(&["alerts"]);
    let list = alerts.as_array().unwrap();
    assert_eq!(list.len(), 1, "{alerts}");
    let a = &list[0];
    let mut keys: Vec<&str> = a.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "id",
            "kind",
            "opened_at",
            "resolved_at",
            "state",
            "subject",
            "why"
        ]
    );
    assert_eq!(a["kind"], "auth_failures");
    assert_eq!(a["state"], "open");
    assert_eq!(a["subject"], "client \"cursor\" with a bad token");
    assert_eq!(a["resolved_at"], json!(null));
    assert!(
        a["why"]
            .as_str()
            .unwrap()
            .contains("5 auth failures in the last 10 min (bad_token)"),
        "{a}"
    );
    // Asking again is the same episode, not a second alert.
    assert_eq!(home.json(&["alerts"]), alerts);
    let table = String::from_utf8(home.run(&["alerts"]).stdout).unwrap();
    assert!(
        table.contains("OPEN") && table.contains("auth_failures"),
        "{table}"
    );
}

#[test]
fn a_drained_tool_budget_raises_budget_exhausted_naming_the_agent() {
    let home = Home::with_config(&format!(
        "{}[limits.tools.\"everything__echo\"]\nper_minute = 2\n",
        everything_upstream("everything")
    ));
    let token = home.add_agent("runaway");
    let mut s = home.session("raw", &[("GATEHOUSE_TOKEN", &token)]);
    for _ in 0..2 {
        assert_eq!(
            s.call("everything__echo", json!({"message": "hi"}))["isError"],
            json!(false)
        );
    }
    assert_eq!(
        structured(&s.call("everything__echo", json!({"message": "hi"})))["code"],
        "rate_limited"
    );
    assert!(s.finish().success());
    let refused = &home.history()[0];
    assert_eq!(
        (&refused["code"], &refused["scope"], &refused["reason"]),
        (&json!("rate_limited"), &json!("tool"), &json!(null)),
        "{refused}"
    );
    let alerts = home.json(&["alerts"]);
    let a = &alerts[0];
    assert_eq!(a["kind"], "budget_exhausted", "{alerts}");
    assert_eq!(a["subject"], "everything__echo");
    let why = a["why"].as_str().unwrap();
    assert!(
        why.contains("refused 1 call")
            && why.contains("agent \"runaway\" drained it: 2 of the 2 calls"),
        "{why}"
    );
}

#[test]
fn a_running_serve_raises_alerts_by_itself() {
    let home = Home::with_config("[alerts]\ncheck_every_seconds = 1\n");
    let mut s = home.session("cursor", &[("GATEHOUSE_TOKEN", BAD_TOKEN)]);
    for _ in 0..5 {
        s.call("gatehouse__budgets", json!({}));
    }
    // No `gatehouse alerts` run: serve evaluates in the background and warns on stderr.
    wait_for(Duration::from_secs(15), "serve to raise the alert", || {
        s.stderr_text()
            .contains("alert: client \"cursor\" with a bad token: 5 auth failures")
            .then_some(())
    });
    assert!(s.finish().success());
}
