//! A running `serve` picks up edits to config.toml (about once a second):
//! a lowered budget refuses the next calls without a restart, a broken edit
//! keeps the config it had (and says why, with file, line and key), and a
//! setting that needs a restart says so once.

use std::time::Duration;

use serde_json::json;

use crate::util::{Home, Session, everything_upstream, structured, wait_for};

/// A call that takes a token from the agent's budgets.
fn echo(s: &mut Session) -> serde_json::Value {
    s.call("everything__echo", json!({"message": "hi"}))
}

/// Whether serve's JSON log files say `needle`.
fn logged(home: &Home, needle: &str) -> bool {
    let Ok(dir) = std::fs::read_dir(home.path().join("logs")) else {
        return false;
    };
    dir.flatten()
        .any(|f| std::fs::read_to_string(f.path()).is_ok_and(|t| t.contains(needle)))
}

#[test]
fn a_running_serve_applies_a_lowered_budget_and_keeps_it_through_a_broken_edit() {
    let up = everything_upstream("everything");
    let home = Home::with_config(&format!("{up}[limits.agents.\"bot\"]\nper_day = 10\n"));
    let token = home.add_agent("bot");
    let mut s = home.session("raw", &[("GATEHOUSE_TOKEN", &token)]);
    assert!(s.tool_names().contains(&"everything__echo".to_string()));
    for _ in 0..2 {
        assert_eq!(echo(&mut s)["isError"], json!(false));
    }

    // 10/day → 1/day while serving: the bucket holds at most 1 token now.
    home.write_config(&format!("{up}[limits.agents.\"bot\"]\nper_day = 1\n"));
    wait_for(
        Duration::from_secs(10),
        "serve to reload its config",
        || logged(&home, "config reloaded from").then_some(()),
    );
    assert_eq!(echo(&mut s)["isError"], json!(false), "the one token left");
    let refused = echo(&mut s);
    assert_eq!(structured(&refused)["code"], "rate_limited", "{refused}");
    assert_eq!(structured(&refused)["scope"], "agent");
    assert_eq!(structured(&refused)["budget"], "1/day");

    // A broken edit: serve keeps the 1/day it has, and says why once.
    home.write_config(&format!("{up}[limits.agents.\"bot\"]\nper_day = 0\n"));
    let file = home.path().join("config.toml").display().to_string();
    wait_for(
        Duration::from_secs(10),
        "serve to report the broken edit",
        || s.stderr_text().contains("was not applied").then_some(()),
    );
    let err = s.stderr_text();
    assert!(
        err.contains(&format!("{file}:6:11: key `limits.agents.\"bot\".per_day`")),
        "{err}"
    );
    let still = echo(&mut s);
    assert_eq!(structured(&still)["budget"], "1/day", "{still}");
    let doctor = home.run(&["doctor", "--json", "--no-start"]);
    let checks: serde_json::Value = serde_json::from_slice(&doctor.stdout).unwrap();
    assert_eq!(checks[0]["name"], "config");
    assert_eq!(checks[0]["level"], "fail");
    assert!(
        checks[0]["detail"].as_str().unwrap().contains(":6:11:")
            && checks[0]["fix"]
                .as_str()
                .unwrap()
                .contains("running `gatehouse serve`"),
        "{checks}"
    );

    // Settings that started things wait for a restart, and say so once.
    home.write_config(&format!(
        "{up}[limits.agents.\"bot\"]\nper_day = 1\n[server]\nupstream_call_seconds = 33\n"
    ));
    wait_for(
        Duration::from_secs(10),
        "serve to name the restart setting",
        || {
            s.stderr_text()
                .contains("[server] changed; takes effect at next start")
                .then_some(())
        },
    );
    assert_eq!(
        s.stderr_text().matches("was not applied").count(),
        1,
        "reported once"
    );
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        s.stderr_text()
            .matches("takes effect at next start")
            .count(),
        1,
        "said once"
    );
    assert!(s.finish().success());
}
