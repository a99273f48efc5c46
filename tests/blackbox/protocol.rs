//! Bad bytes on stdio: every malformed message gets a JSON-RPC error, the
//! server keeps serving the same connection, and stdout carries only JSON-RPC.

use std::time::Duration;

use serde_json::{Value, json};

use crate::util::{Home, Session, structured};

fn error_code(msg: &Value) -> i64 {
    msg["error"]["code"]
        .as_i64()
        .unwrap_or_else(|| panic!("expected a JSON-RPC error, got {msg}"))
}

fn still_serves(s: &mut Session) {
    let r = s.call("gatehouse__budgets", json!({}));
    assert_eq!(r["isError"], json!(false), "{r}");
}

#[test]
fn malformed_lines_get_errors_and_the_connection_keeps_serving() {
    let home = Home::new();
    let token = home.add_agent("bot");
    let mut s = home.session("raw", &[("GATEHOUSE_TOKEN", &token)]);
    let wait = Duration::from_secs(10);

    s.send_raw(b"this is not json\n");
    let m = s.next_message(wait);
    assert_eq!((error_code(&m), m["id"].clone()), (-32700, Value::Null));

    s.send_raw(b"\xff\xfe\x00\x01binary\x02garbage\n");
    let m = s.next_message(wait);
    assert_eq!((error_code(&m), m["id"].clone()), (-32700, Value::Null));

    s.send_raw(b"[1, 2, 3]\n");
    assert_eq!(error_code(&s.next_message(wait)), -32600);

    s.send_raw(b"{\"jsonrpc\":\"2.0\",\"id\":77}\n");
    let m = s.next_message(wait);
    assert_eq!((error_code(&m), m["id"].clone()), (-32600, json!(77)));

    s.send_raw(b"{\"jsonrpc\":\"1.0\",\"id\":78,\"method\":\"tools/list\"}\n");
    let m = s.next_message(wait);
    assert_eq!((error_code(&m), m["id"].clone()), (-32600, json!(78)));

    still_serves(&mut s);
    assert!(s.finish().success());
}

#[test]
fn a_ten_megabyte_line_is_skipped_and_answered() {
    let home = Home::new();
    let token = home.add_agent("bot");
    let mut s = home.session("raw", &[("GATEHOUSE_TOKEN", &token)]);
    let mut huge = br#"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"gatehouse__budgets","arguments":{"pad":""#.to_vec();
    huge.extend(std::iter::repeat_n(b'a', 10 * 1024 * 1024));
    huge.extend_from_slice(b"\"}}}\n");
    s.send_raw(&huge);
    let m = s.next_message(Duration::from_secs(20));
    assert_eq!(
        (error_code(&m), m["id"].clone()),
        (-32600, Value::Null),
        "{m}"
    );
    assert!(
        m["error"]["message"]
            .as_str()
            .unwrap()
            .contains("max_message_bytes")
    );
    still_serves(&mut s);
}

#[test]
fn wrong_params_unknown_methods_and_unknown_tools_are_json_rpc_errors() {
    let home = Home::new();
    let token = home.add_agent("bot");
    let mut s = home.session("raw", &[("GATEHOUSE_TOKEN", &token)]);

    let r = s.request("tools/call", json!("not an object"));
    assert_eq!(error_code(&r), -32602, "{r}");
    let r = s.request("tools/call", json!({"name": 42}));
    assert_eq!(error_code(&r), -32602, "{r}");
    let r = s.request("no/such/method", json!({}));
    assert_eq!(error_code(&r), -32601, "{r}");
    let r = s.request(
        "tools/call",
        json!({"name": "nope__missing", "arguments": {}}),
    );
    assert_eq!(error_code(&r), -32602, "{r}");
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Unknown tool")
    );
    // Arguments of the wrong shape for a built-in tool.
    let r = s.request(
        "tools/call",
        json!({"name": "gatehouse__budgets", "arguments": {"tool": 5}}),
    );
    assert_eq!(error_code(&r), -32602, "{r}");

    still_serves(&mut s);
}

#[test]
fn stdout_carries_only_json_rpc() {
    let home = Home::with_config("[approval]\nwait_seconds = 0\n");
    let mut s = home.session("chatty-client", &[]);
    s.send_raw(b"garbage\n");
    let _ = s.next_message(Duration::from_secs(10));
    let _ = s.tool_names();
    let r = s.call("gatehouse__budgets", json!({}));
    assert_eq!(structured(&r)["code"], json!("approval_pending"));
    let log = s.stdout_log.clone();
    assert!(s.finish().success());
    for line in log.lock().unwrap().iter() {
        let v: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not JSON on stdout ({e}): {line}"));
        assert_eq!(v["jsonrpc"], json!("2.0"), "{line}");
    }
}

#[test]
fn requests_before_initialize_and_stray_notifications_do_not_end_the_session() {
    let home = Home::new();
    let token = home.add_agent("bot");
    let mut s = home.serve(&[("GATEHOUSE_TOKEN", &token)]);
    s.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
    s.send(&json!({"jsonrpc": "2.0", "id": "early", "method": "ping"}));
    let pong = s.response(&json!("early"), Duration::from_secs(10));
    assert!(pong.get("result").is_some(), "{pong}");
    s.initialize("late-initializer");
    still_serves(&mut s);
}

#[test]
fn stateless_2026_requests_carry_their_own_client_info() {
    let home = Home::with_config("[approval]\nwait_seconds = 0\n");
    let mut s = home.serve(&[]);
    let meta = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "stateless-agent", "version": "1"},
        "io.modelcontextprotocol/clientCapabilities": {}
    });
    let r = s.request("server/discover", json!({"_meta": meta}));
    assert!(
        r["result"]["supportedVersions"]
            .to_string()
            .contains("2026-07-28"),
        "{r}"
    );
    let r = s.request(
        "tools/call",
        json!({"name": "gatehouse__budgets", "arguments": {}, "_meta": meta}),
    );
    assert_eq!(
        structured(&r["result"])["code"],
        json!("approval_pending"),
        "{r}"
    );
    let agents = home.json(&["agents", "list"]);
    assert!(
        agents
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["name"] == "stateless-agent" && a["verified"] == false)
    );
}
