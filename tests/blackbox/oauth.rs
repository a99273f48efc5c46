//! Connecting GitHub and Gmail for real: the authorization code flow with
//! PKCE against a real OAuth2 server (npm oauth2-mock-server), tokens in a
//! real Secret Service (a private gnome-keyring), and the `github__*` and
//! `gmail__*` tools called through the guard against API doubles. After
//! each test, no token string appears in any file, history or output.

use serde_json::{Value, json};

use crate::keyring_util::Keyring;
use crate::oauth_util::{Fakes, assert_no_tokens, connect, connections};
use crate::util::{Home, Session, structured, text};

/// A home whose config points both providers at the fakes, with a token agent.
pub fn setup(fakes: &Fakes, extra: &str) -> (Home, String) {
    let home = Home::with_config(&format!("{}{extra}", fakes.config()));
    let token = home.add_agent("bot");
    (home, token)
}

pub fn session(home: &Home, token: &str, keyring: Option<&Keyring>) -> Session {
    let mut env = vec![("GATEHOUSE_TOKEN", token)];
    if let Some(k) = keyring {
        env.push(("DBUS_SESSION_BUS_ADDRESS", k.address.as_str()));
    }
    home.session("test-client", &env)
}

fn call_traced(s: &mut Session, tool: &str, args: Value, traceparent: &str) -> Value {
    let r = s.request(
        "tools/call",
        json!({"name": tool, "arguments": args, "_meta": {"traceparent": traceparent}}),
    );
    r["result"].clone()
}

#[test]
fn github_connects_with_pkce_and_its_tools_run_through_the_guard() {
    let fakes = Fakes::start();
    let keyring = Keyring::unlocked();
    let (home, token) = setup(&fakes, "");
    let mut outputs: Vec<Vec<u8>> = Vec::new();

    // Before connecting, no GitHub tool is offered.
    let mut s = session(&home, &token, Some(&keyring));
    assert!(!s.tool_names().iter().any(|t| t.starts_with("github__")));
    drop(s);

    let (view, out) = connect(&home, "github", &keyring.env());
    outputs.extend([out.stdout.clone(), out.stderr.clone()]);
    assert_eq!(view["provider"], "github");
    assert_eq!(view["account"], "octocat");
    assert_eq!(view["state"], "connected");
    assert_eq!(view["keychain"], "secret-service");
    assert_eq!(view["refreshable"], true);
    assert!(view["expires_at"].as_str().is_some());
    assert_eq!(view["scopes"], json!(["repo", "notifications"]));

    // The tokens really are in the Secret Service, in one entry.
    let issued = fakes.issued();
    let (count, holds) = keyring.items(&issued);
    assert_eq!(count, 1);
    assert!(
        holds.iter().all(|h| *h),
        "the entry holds the access and refresh token"
    );

    let listed = connections(&home, &keyring.env());
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["account"], "octocat", "read from the keychain");
    home.assert_nowhere("octocat");

    let mut s = session(&home, &token, Some(&keyring));
    let names = s.tool_names();
    for t in [
        "github__search_issues",
        "github__get_issue",
        "github__list_notifications",
        "github__create_issue",
        "github__comment",
    ] {
        assert!(names.iter().any(|n| n == t), "{t} missing from {names:?}");
    }
    assert!(
        !names.iter().any(|t| t.starts_with("gmail__")),
        "Gmail is not connected"
    );

    let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let r = call_traced(
        &mut s,
        "github__search_issues",
        json!({"query": "crash repo:acme/rocket", "per_page": 2}),
        tp,
    );
    assert_eq!(r["isError"], json!(false), "{r}");
    let found = structured(&r);
    assert_eq!(found["total_count"], 3);
    assert_eq!(found["items"].as_array().unwrap().len(), 2);
    assert_eq!(found["next_page"], 2);
    assert_eq!(found["items"][0]["repository"], "acme/rocket");
    let r = s.call(
        "github__search_issues",
        json!({"query": "crash", "per_page": 2, "page": 2}),
    );
    assert_eq!(structured(&r)["items"][0]["is_pull_request"], true);
    assert_eq!(structured(&r)["next_page"], Value::Null);

    let r = s.call(
        "github__get_issue",
        json!({"owner": "acme", "repo": "rocket", "number": 1}),
    );
    let issue = structured(&r);
    assert_eq!(issue["title"], "Crash on launch");
    assert_eq!(issue["comments"].as_array().unwrap().len(), 20);
    assert_eq!(issue["comments_next_page"], 2);
    let r = s.call(
        "github__get_issue",
        json!({"owner": "acme", "repo": "rocket", "number": 1, "comments_page": 2}),
    );
    assert_eq!(structured(&r)["comments"].as_array().unwrap().len(), 5);
    let r = s.call(
        "github__get_issue",
        json!({"owner": "acme", "repo": "rocket", "number": 2}),
    );
    assert!(
        structured(&r)["body"]
            .as_str()
            .unwrap()
            .contains("[cut at 4000 characters]")
    );

    let r = s.call("github__list_notifications", json!({}));
    assert_eq!(
        structured(&r)["items"].as_array().unwrap().len(),
        2,
        "unread only"
    );
    let r = s.call(
        "github__create_issue",
        json!({"owner": "acme", "repo": "rocket", "title": "Found via agent", "body": "details"}),
    );
    assert_eq!(structured(&r)["number"], 4, "{r}");
    let r = s.call(
        "github__comment",
        json!({"owner": "acme", "repo": "rocket", "number": 4, "body": "me too"}),
    );
    assert!(
        structured(&r)["url"]
            .as_str()
            .unwrap()
            .contains("issuecomment")
    );

    // Bad arguments are the caller's JSON-RPC error, not an API call.
    let r = s.request(
        "tools/call",
        json!({"name": "github__get_issue", "arguments": {"owner": "acme"}}),
    );
    assert_eq!(r["error"]["code"], -32602, "{r}");
    // An API 404 is an upstream_error the agent can read, not retryable.
    let r = s.call(
        "github__get_issue",
        json!({"owner": "acme", "repo": "rocket", "number": 99}),
    );
    assert_eq!(structured(&r)["code"], "upstream_error");
    assert_eq!(structured(&r)["upstream_status"], 404);
    assert_eq!(structured(&r)["retryable"], false);

    // Every API request carried a bearer token and the call's trace context.
    let state = fakes.state();
    let reqs: Vec<&Value> = state["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["service"] == "github")
        .collect();
    assert!(reqs.iter().all(|r| r["authorized"] == true), "{reqs:?}");
    // The search request carries the caller's trace, its parent being the
    // request's own CLIENT span (checked in the span files below).
    let search = reqs
        .iter()
        .find(|r| r["path"] == "/search/issues")
        .expect("a search request");
    let sent = search["traceparent"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        sent.len() == 55 && sent[..36] == tp[..36] && sent[36..52] != tp[36..52],
        "the caller's trace, a span of Gatehouse's as parent: {sent}"
    );
    let calls: Vec<&&Value> = reqs.iter().filter(|r| r["path"] != "/user").collect();
    assert!(
        calls
            .iter()
            .all(|r| r["traceparent"].as_str().is_some_and(|t| t.len() == 55)),
        "every call's request has a traceparent: {calls:?}"
    );
    assert_eq!(state["stats"]["code_requests"], 1);
    assert_eq!(
        state["stats"]["refresh_requests"], 0,
        "a fresh token is not refreshed"
    );

    let status = s.finish();
    assert!(status.success());
    let spans = crate::traces::gatehouse_spans(&home);
    let http = crate::traces::find(&spans, "the search request's span", |s| {
        s["span_id"] == sent[36..52]
    });
    assert_eq!(
        (http["name"].clone(), http["kind"].clone()),
        (json!("GET"), json!(3)),
        "{http}"
    );
    assert_eq!(
        http["attributes"]["http.response.status_code"],
        json!("200"),
        "{http}"
    );
    let text = http.to_string();
    assert!(
        !text.contains("rocket") && !text.contains("crash"),
        "no argument value: {text}"
    );
    let server = crate::traces::find(&spans, "the call's SERVER span", |s| {
        s["span_id"] == http["parent_span_id"]
    });
    assert_eq!(server["name"], "tools/call github__search_issues");
    assert_eq!(
        server["parent_span_id"],
        json!(&tp[36..52]),
        "the caller's span is its parent"
    );
    let history = home.history();
    assert!(
        history
            .iter()
            .any(|h| h["tool"] == "github__create_issue" && h["status"] == "ok")
    );

    // Disconnect: no revocation endpoint for GitHub here; the entry is gone.
    let out = home
        .cmd()
        .args(["disconnect", "github", "--json"])
        .envs(keyring.env())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let done: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(done["revoked"], false);
    assert!(
        done["revocation"]
            .as_str()
            .unwrap()
            .contains("no revocation endpoint")
    );
    assert_eq!(keyring.items(&[]).0, 0, "the keychain entry is deleted");
    assert_eq!(home.json(&["connections"]), json!([]));
    outputs.extend([out.stdout, out.stderr]);
    let refs: Vec<&[u8]> = outputs.iter().map(Vec::as_slice).collect();
    assert_no_tokens(&home, &fakes, &refs);
}

#[test]
fn gmail_tools_search_read_draft_and_send_then_disconnect_revokes() {
    let fakes = Fakes::start();
    let keyring = Keyring::unlocked();
    let (home, token) = setup(&fakes, "");
    let (view, out) = connect(&home, "google", &keyring.env());
    assert_eq!(view["account"], "me@example.com");
    assert_eq!(view["tools"], "gmail");
    // The address is personal data: it is kept in the keychain entry, not the database.
    assert_eq!(
        connections(&home, &keyring.env())[0]["account"],
        "me@example.com"
    );
    home.assert_nowhere("me@example.com");
    let mut s = session(&home, &token, Some(&keyring));
    let names = s.tool_names();
    for t in [
        "gmail__search",
        "gmail__read_message",
        "gmail__create_draft",
        "gmail__send",
    ] {
        assert!(names.iter().any(|n| n == t), "{t} missing");
    }
    let r = s.call(
        "gmail__search",
        json!({"query": "invoice", "max_results": 2}),
    );
    let found = structured(&r);
    assert_eq!(found["messages"].as_array().unwrap().len(), 2, "{r}");
    assert_eq!(found["messages"][0]["subject"], "Invoice 1");
    assert_eq!(found["messages"][0]["unread"], true);
    let next = found["next_page_token"].as_str().unwrap().to_string();
    let r = s.call(
        "gmail__search",
        json!({"query": "invoice", "page_token": next}),
    );
    assert_eq!(structured(&r)["messages"][0]["id"], "m3");
    let r = s.call("gmail__read_message", json!({"id": "m2"}));
    let m = structured(&r);
    assert_eq!(m["text"], "Hello, this is message 2.");
    assert_eq!(m["attachments"][0]["filename"], "invoice-2.pdf");
    let r = s.call(
        "gmail__create_draft",
        json!({"to": "ann@example.com", "subject": "Draft", "body": "hello"}),
    );
    assert_eq!(structured(&r)["message_id"], "d1", "{r}");
    let r = s.call(
        "gmail__send",
        json!({"to": "ann@example.com", "subject": "Grüße", "body": "sent body"}),
    );
    assert_eq!(structured(&r)["id"], "s1", "{r}");
    let sent = fakes.state()["sent"][0].as_str().unwrap().to_string();
    assert!(
        sent.starts_with("To: ann@example.com\r\nSubject: =?UTF-8?B?"),
        "{sent}"
    );
    // A header injection is refused before anything is sent.
    let r = s.request("tools/call", json!({"name": "gmail__send", "arguments": {"to": "a@b.c\r\nBcc: x@y.z", "subject": "s", "body": "b"}}));
    assert_eq!(r["error"]["code"], -32602, "{r}");
    assert_eq!(fakes.state()["sent"].as_array().unwrap().len(), 1);
    // Sends have a small default budget, 2 a minute (the refused call took one too).
    let r = s.call(
        "gmail__send",
        json!({"to": "ann@example.com", "subject": "third", "body": "b"}),
    );
    assert_eq!(structured(&r)["code"], "rate_limited");
    assert_eq!(structured(&r)["budget"], "2/minute");
    s.finish();

    let out2 = home
        .cmd()
        .args(["disconnect", "google", "--json"])
        .envs(keyring.env())
        .output()
        .unwrap();
    assert!(
        out2.status.success(),
        "{}",
        String::from_utf8_lossy(&out2.stderr)
    );
    let done: Value = serde_json::from_slice(&out2.stdout).unwrap();
    assert_eq!(done["revoked"], true, "{done}");
    assert_eq!(fakes.state()["stats"]["revocations"], 1);
    assert_eq!(keyring.items(&[]).0, 0);
    let mut s = session(&home, &token, Some(&keyring));
    assert!(
        !s.tool_names().iter().any(|t| t.starts_with("gmail__")),
        "tools go with the connection"
    );
    let r = s.request(
        "tools/call",
        json!({"name": "gmail__search", "arguments": {"query": "x"}}),
    );
    assert_eq!(
        r["error"]["code"], -32602,
        "an unconnected tool is unknown: {r}"
    );
    let serve_err = s.stderr_text();
    s.finish();
    home.assert_nowhere("me@example.com");
    assert!(!serve_err.contains("me@example.com"));
    assert_no_tokens(
        &home,
        &fakes,
        &[
            &out.stdout,
            &out.stderr,
            &out2.stdout,
            &out2.stderr,
            serve_err.as_bytes(),
        ],
    );
}

#[test]
fn rate_limits_and_http_errors_become_upstream_errors_with_truthful_retry_times() {
    let fakes = Fakes::start();
    let keyring = Keyring::unlocked();
    let (home, token) = setup(&fakes, "");
    connect(&home, "github", &keyring.env());
    connect(&home, "google", &keyring.env());
    let mut s = session(&home, &token, Some(&keyring));
    let search = json!({"query": "crash"});

    fakes.set(json!({"github_rate_limit_next": 1}));
    let r = s.call("github__search_issues", search.clone());
    let e = structured(&r);
    assert_eq!(e["code"], "upstream_error", "{r}");
    assert_eq!(e["upstream_status"], 403);
    assert_eq!(e["upstream"], "github");
    assert_eq!(e["retryable"], true);
    let ms = e["retry_after_ms"].as_i64().unwrap();
    assert!(
        (100_000..=120_000).contains(&ms),
        "x-ratelimit-reset is 120 s away: {ms}"
    );
    assert!(text(&r).contains("rate limit"), "{}", text(&r));

    fakes.set(json!({"github_secondary_next": 1}));
    let r = s.call("github__search_issues", search.clone());
    assert_eq!(structured(&r)["upstream_status"], 429);
    assert_eq!(structured(&r)["retry_after_ms"], 42_000);

    fakes.set(json!({"github_error_next": 1}));
    let r = s.call("github__search_issues", search.clone());
    assert_eq!(structured(&r)["upstream_status"], 502);
    assert_eq!(structured(&r)["retryable"], true);
    assert!(
        structured(&r).get("retry_after_ms").is_none(),
        "no retry time was given, none is invented"
    );

    fakes.set(json!({"gmail_rate_limit_next": 1}));
    let r = s.call("gmail__search", json!({"query": "invoice"}));
    assert_eq!(structured(&r)["upstream_status"], 429);
    assert_eq!(structured(&r)["retry_after_ms"], 7_000);
    assert_eq!(structured(&r)["upstream"], "gmail");

    // After the limits pass, the same calls work.
    let r = s.call("github__search_issues", search);
    assert_eq!(r["isError"], false);
    let history = home.history();
    assert!(
        history
            .iter()
            .any(|h| h["code"] == "upstream_error" && h["status"] == "system_error")
    );
    let err = s.stderr_text();
    s.finish();
    assert_no_tokens(&home, &fakes, &[err.as_bytes()]);
}
