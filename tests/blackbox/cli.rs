//! The command line as scripts use it: `--json` shapes, a broken config that
//! stops `serve` with file, line and key, history filters, and `doctor`.

use serde_json::json;

use crate::util::{Home, contains};

#[test]
fn agents_add_prints_the_token_once_with_client_config() {
    let home = Home::new();
    let v = home.json(&["agents", "add", "claude-desktop"]);
    let token = v["token"].as_str().unwrap();
    assert!(token.starts_with("gth_") && token.len() == 68);
    assert_eq!(v["name"], json!("claude-desktop"));
    assert_eq!(v["status"], json!("approved"));
    assert!(v["id"].as_str().is_some());
    let cfg = &v["client_config"];
    assert_eq!(
        cfg["claude_desktop"]["mcpServers"]["gatehouse"]["env"]["GATEHOUSE_TOKEN"],
        json!(token)
    );
    assert_eq!(
        cfg["cursor"]["mcpServers"]["gatehouse"]["args"],
        json!(["serve"])
    );
    assert_eq!(
        cfg["vscode"]["servers"]["gatehouse"]["type"],
        json!("stdio")
    );
    // Only a hash is kept.
    for (path, bytes) in home.all_file_bytes() {
        assert!(
            !contains(&bytes, token),
            "the token is stored in {}",
            path.display()
        );
    }
    let list = home.json(&["agents", "list"]);
    let a = &list[0];
    for key in [
        "id",
        "name",
        "status",
        "verified",
        "parent_exe",
        "created_at",
        "last_seen_at",
    ] {
        assert!(a.get(key).is_some(), "agents list --json has {key}: {a}");
    }
    assert_eq!(a["verified"], json!(true));
    // Human output too.
    let out = home.run(&["agents", "add", "cursor"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("gth_") && text.contains("Claude Desktop") && text.contains("VS Code"),
        "{text}"
    );
    assert!(
        !home.run(&["agents", "add", "cursor"]).status.success(),
        "names are unique"
    );
    assert!(!home.run(&["agents", "add", "bad|name"]).status.success());
}

#[test]
fn a_broken_config_stops_serve_with_file_line_and_key() {
    let home = Home::with_config(
        "[approval]\nwait_seconds = 5\n\n[limits.tools.\"x__y\"]\nper_minute = 0\n",
    );
    let s = home.serve(&[]);
    let stderr = s.stderr.clone();
    let log = s.stdout_log.clone();
    let status = s.finish();
    assert!(!status.success());
    let err = String::from_utf8_lossy(&stderr.lock().unwrap()).into_owned();
    let file = home.path().join("config.toml").display().to_string();
    assert!(err.contains(&format!("{file}:5:14")), "{err}");
    assert!(err.contains("limits.tools.\"x__y\".per_minute"), "{err}");
    assert!(
        log.lock().unwrap().is_empty(),
        "nothing on stdout: {:?}",
        log.lock().unwrap()
    );

    home.write_config("[approval]\nwait_secs = 5\n");
    let out = home.run(&["limits"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains(":2:1: key `approval.wait_secs`"));
}

#[test]
fn a_named_config_file_that_does_not_exist_stops_serve_and_fails_doctor() {
    let home = Home::new();
    let missing = home.path().join("elsewhere/gatehouse.toml");
    let missing_text = missing.display().to_string();
    let named = [("GATEHOUSE_CONFIG", missing_text.as_str())];
    let s = home.serve(&named);
    let (stderr, log) = (s.stderr.clone(), s.stdout_log.clone());
    let status = s.finish();
    assert!(
        !status.success(),
        "serve must not fall back to the defaults"
    );
    let err = String::from_utf8_lossy(&stderr.lock().unwrap()).into_owned();
    assert!(
        err.contains("GATEHOUSE_CONFIG") && err.contains(&missing_text),
        "{err}"
    );
    assert!(log.lock().unwrap().is_empty(), "nothing on stdout");

    let out = home
        .cmd()
        .env("GATEHOUSE_CONFIG", &missing)
        .args(["doctor", "--json", "--no-start"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "doctor fails");
    let checks: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let config = checks
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "config")
        .unwrap();
    assert_eq!(config["level"], json!("fail"), "{config}");
    let detail = config["detail"].as_str().unwrap();
    assert!(
        detail.contains("GATEHOUSE_CONFIG") && detail.contains(&missing_text),
        "{detail}"
    );
    assert!(
        config["fix"].as_str().unwrap().contains("GATEHOUSE_CONFIG"),
        "{config}"
    );

    // The implicit config.toml in the home may be missing: the defaults serve.
    let out = home.run(&["doctor", "--json", "--no-start"]);
    let checks: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(checks[0]["name"], "config");
    assert_eq!(checks[0]["level"], json!("ok"), "{checks}");
}

#[test]
fn doctor_reports_problems_with_their_fixes() {
    let home = Home::with_config("[[upstream]]\nname = \"ghost\"\ncommand = \"/no/such/server\"\n");
    let out = home.run(&["doctor", "--json"]);
    assert!(!out.status.success(), "a failing check fails doctor");
    let checks: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ghost = checks
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "upstream ghost")
        .unwrap();
    assert_eq!(ghost["level"], json!("fail"));
    assert!(ghost["fix"].as_str().is_some());
    let db = checks
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "database")
        .unwrap();
    assert_eq!(db["level"], json!("ok"));

    home.write_config("[limits.agent]\nper_hour = -3\n");
    let out = home.run(&["doctor"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("FAIL") && text.contains("limits.agent.per_hour"),
        "{text}"
    );

    let bad = Home::new();
    std::fs::write(bad.path().join("gatehouse.db"), vec![7u8; 8192]).unwrap();
    let out = bad.run(&["doctor"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("[FAIL] database") && text.contains("fix:"),
        "{text}"
    );
}

#[test]
fn history_filters_by_agent_tool_and_status() {
    let home = Home::new();
    let token = home.add_agent("bot");
    let mut s = home.session("raw", &[("GATEHOUSE_TOKEN", &token)]);
    s.call("gatehouse__budgets", json!({}));
    s.call("gatehouse__budgets", json!({}));
    drop(s);
    let mut other = home.session("raw", &[("GATEHOUSE_TOKEN", "gth_wrong")]);
    other.call("gatehouse__budgets", json!({}));
    drop(other);
    assert_eq!(
        home.json(&["history", "--agent", "bot"])
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let denied = home.json(&["history", "--status", "denied"]);
    assert_eq!(denied.as_array().unwrap().len(), 1);
    assert_eq!(denied[0]["reason"], "bad_token", "{denied}");
    assert_eq!(denied[0]["scope"], json!(null));
    assert_eq!(
        home.json(&["history", "--tool", "gatehouse__budgets", "--limit", "1"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let row = &home.json(&["history"])[0];
    for key in [
        "id",
        "time",
        "trace_id",
        "agent",
        "tool",
        "status",
        "code",
        "latency_ms",
        "args",
    ] {
        assert!(row.get(key).is_some(), "history --json has {key}: {row}");
    }
    assert_eq!(row["trace_id"].as_str().unwrap().len(), 32);
    let out = home.run(&["history", "--status", "nonsense"]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("rate_limited"));
}

#[test]
fn a_callers_traceparent_names_the_trace_in_history() {
    let home = Home::new();
    let token = home.add_agent("bot");
    let mut s = home.session("raw", &[("GATEHOUSE_TOKEN", &token)]);
    let r = s.request(
        "tools/call",
        json!({"name": "gatehouse__budgets", "arguments": {},
               "_meta": {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}}),
    );
    assert!(r.get("result").is_some());
    assert_eq!(
        home.history()[0]["trace_id"],
        json!("0af7651916cd43dd8448eb211c80319c")
    );
    let logs = std::fs::read_dir(home.path().join("logs"))
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path();
    let text = std::fs::read_to_string(logs).unwrap();
    let line = text
        .lines()
        .find(|l| l.contains("\"call\""))
        .expect("a call log line");
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(v["trace_id"], json!("0af7651916cd43dd8448eb211c80319c"));
    assert_eq!(v["tool"], json!("gatehouse__budgets"));
    assert_eq!(v["status"], json!("ok"));
}
