//! Budgets across agents, processes and restarts: one atomic decision in the
//! shared database, so every `serve` together lets through exactly what the
//! budgets allow, and a restart neither refills nor loses a bucket.

use serde_json::json;

use crate::util::{Home, everything_upstream, structured};

const GENEROUS_AGENTS: &str = "[limits.agent]\nper_minute = 100000\nper_day = 100000\n";

#[test]
fn four_serve_processes_sharing_a_tool_budget_of_100_let_exactly_100_of_400_calls_through() {
    let home = Home::with_config(&format!(
        "{GENEROUS_AGENTS}[limits.tool]\nper_minute = 100000\n[limits.tools.\"everything__echo\"]\nper_day = 100\n{}",
        everything_upstream("everything")
    ));
    let tokens: Vec<String> = (0..4)
        .map(|i| home.add_agent(&format!("agent{i}")))
        .collect();
    let mut sessions: Vec<_> = tokens
        .iter()
        .map(|t| home.session("raw", &[("GATEHOUSE_TOKEN", t)]))
        .collect();
    // Every upstream is up before the race starts.
    for s in &mut sessions {
        assert!(s.tool_names().contains(&"everything__echo".to_string()));
    }
    let handles: Vec<_> = sessions
        .into_iter()
        .map(|mut s| {
            std::thread::spawn(move || {
                let (mut ok, mut limited) = (0, 0);
                for i in 0..100 {
                    let r = s.call("everything__echo", json!({"message": format!("call {i}")}));
                    match structured(&r)["code"].as_str() {
                        None if r["isError"] == json!(false) => ok += 1,
                        Some("rate_limited") => limited += 1,
                        _ => panic!("unexpected result: {r}"),
                    }
                }
                (ok, limited)
            })
        })
        .collect();
    let results: Vec<(i32, i32)> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let ok: i32 = results.iter().map(|r| r.0).sum();
    let limited: i32 = results.iter().map(|r| r.1).sum();
    assert_eq!((ok, limited), (100, 300), "per process: {results:?}");
    let history = home.history();
    assert_eq!(history.iter().filter(|r| r["status"] == "ok").count(), 100);
    assert_eq!(
        history
            .iter()
            .filter(|r| r["status"] == "rate_limited")
            .count(),
        300
    );
}

#[test]
fn an_exhausted_tool_blocks_an_agent_still_under_its_own_budget() {
    let home = Home::with_config(&format!(
        "{}[limits.tools.\"everything__echo\"]\nper_day = 3\n",
        everything_upstream("everything")
    ));
    let greedy = home.add_agent("greedy");
    let polite = home.add_agent("polite");
    let mut g = home.session("raw", &[("GATEHOUSE_TOKEN", &greedy)]);
    for _ in 0..3 {
        assert_eq!(
            g.call("everything__echo", json!({"message": "m"}))["isError"],
            json!(false)
        );
    }
    let mut p = home.session("raw", &[("GATEHOUSE_TOKEN", &polite)]);
    let r = p.call("everything__echo", json!({"message": "m"}));
    assert_eq!(structured(&r)["code"], json!("rate_limited"));
    assert_eq!(structured(&r)["scope"], json!("tool"));
    // The polite agent's own budget is untouched: the refusal deducted nothing.
    let limits = home.json(&["limits", "--agent", "polite"]);
    for row in limits.as_array().unwrap() {
        assert_eq!(row["scope"], json!("agent"));
        assert_eq!(row["balance"].as_f64(), row["capacity"].as_f64(), "{row}");
    }
    // Another tool still works for it.
    assert_eq!(
        p.call("everything__get-sum", json!({"a": 1, "b": 2}))["isError"],
        json!(false)
    );
}

#[test]
fn budgets_survive_a_restart() {
    let home = Home::with_config(&format!(
        "{}[limits.agents.\"bot\".tools.\"everything__echo\"]\nper_day = 2\n",
        everything_upstream("everything")
    ));
    let token = home.add_agent("bot");
    let mut s = home.session("raw", &[("GATEHOUSE_TOKEN", &token)]);
    assert_eq!(
        s.call("everything__echo", json!({"message": "1"}))["isError"],
        json!(false)
    );
    assert_eq!(
        s.call("everything__echo", json!({"message": "2"}))["isError"],
        json!(false)
    );
    assert!(s.finish().success());

    let mut s = home.session("raw", &[("GATEHOUSE_TOKEN", &token)]);
    let r = s.call("everything__echo", json!({"message": "3"}));
    assert_eq!(
        structured(&r)["code"],
        json!("rate_limited"),
        "a restart must not refill: {r}"
    );
    assert_eq!(structured(&r)["scope"], json!("agent_tool"));
    assert_eq!(structured(&r)["budget"], json!("2/day"));
}

#[test]
fn limits_json_shows_every_bucket_with_its_live_balance() {
    let home = Home::with_config(&format!(
        "{}[limits.agents.\"bot\".tools.\"everything__echo\"]\nper_hour = 10\n",
        everything_upstream("everything")
    ));
    let token = home.add_agent("bot");
    let mut s = home.session("raw", &[("GATEHOUSE_TOKEN", &token)]);
    s.call("everything__echo", json!({"message": "1"}));
    let rows = home.json(&["limits"]);
    let find = |scope: &str, tool: Option<&str>| {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| r["scope"] == scope && r["tool"].as_str() == tool && r["period"] != "day")
            .cloned()
            .unwrap_or_else(|| panic!("no {scope} row for {tool:?} in {rows}"))
    };
    let agent = find("agent", None);
    assert_eq!(
        (agent["agent"].clone(), agent["capacity"].clone()),
        (json!("bot"), json!(60))
    );
    assert!(agent["balance"].as_f64().unwrap() < 60.0);
    let pair = find("agent_tool", Some("everything__echo"));
    assert!(
        (9.0..10.0).contains(&pair["balance"].as_f64().unwrap()),
        "{pair}"
    );
    let tool = find("tool", Some("everything__echo"));
    assert_eq!(tool["agent"], json!(null));
    for key in [
        "scope", "agent", "tool", "period", "capacity", "balance", "full_at",
    ] {
        assert!(
            tool.get(key).is_some(),
            "limits --json rows have {key}: {tool}"
        );
    }
    // The agent can ask itself, for free.
    let r = s.call("gatehouse__budgets", json!({"tool": "everything__echo"}));
    let budgets = structured(&r)["budgets"].as_array().unwrap().clone();
    assert!(
        budgets
            .iter()
            .any(|b| b["scope"] == "agent_tool" && b["budget"] == "10/hour"),
        "{budgets:?}"
    );
    let pair_balance = |rows: &[serde_json::Value]| {
        rows.iter().find(|b| b["scope"] == "agent_tool").unwrap()["balance"]
            .as_f64()
            .unwrap()
    };
    let again = s.call("gatehouse__budgets", json!({"tool": "everything__echo"}));
    let after = pair_balance(structured(&again)["budgets"].as_array().unwrap());
    assert!(
        (after - pair_balance(&budgets)).abs() < 0.01,
        "asking costs nothing"
    );
}
