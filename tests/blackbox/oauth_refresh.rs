//! Refresh across processes: four `serve` processes whose access token
//! expired at once spend the single-use refresh token exactly once (a lease
//! row in SQLite), a refresh token the provider rejects marks the
//! connection `needs_reconnect` for every call, without a retry loop, and an
//! API that refuses an access token gets one refresh and one retry: the call
//! succeeds, or (refused again) the connection needs reconnecting.

use std::time::Duration;

use serde_json::{Value, json};

use crate::keyring_util::Keyring;
use crate::oauth::{session, setup};
use crate::oauth_util::{Fakes, assert_no_tokens, connect, connections};
use crate::util::{Session, structured, text};

#[test]
fn four_processes_whose_token_expired_refresh_exactly_once() {
    let fakes = Fakes::start();
    let keyring = Keyring::unlocked();
    let (home, token) = setup(&fakes, "");
    // The first access token lives 1 s: it is due for refresh at once.
    fakes.set(json!({"expires_in_queue": [1]}));
    connect(&home, "github", &keyring.env());
    std::thread::sleep(Duration::from_millis(1100));
    let mut sessions: Vec<Session> = (0..4)
        .map(|_| session(&home, &token, Some(&keyring)))
        .collect();
    let ids: Vec<Value> = sessions
        .iter_mut()
        .map(|s| {
            s.start_request(
                "tools/call",
                json!({"name": "github__list_notifications", "arguments": {}}),
            )
        })
        .collect();
    for (s, id) in sessions.iter_mut().zip(&ids) {
        let r = s.response(id, Duration::from_secs(60));
        assert_eq!(
            r["result"]["isError"],
            json!(false),
            "every call succeeds: {r}"
        );
    }
    let state = fakes.state();
    assert_eq!(
        state["stats"]["refresh_requests"], 1,
        "exactly one refresh reached the authorization server"
    );
    assert_eq!(state["stats"]["refresh_rejected"], 0);
    let refresh = state["requests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["service"] == "auth")
        .unwrap();
    assert_eq!(
        refresh["traceparent"].as_str().map(str::len),
        Some(55),
        "the refresh carries the call's trace: {refresh}"
    );
    let c = connections(&home, &keyring.env());
    assert!(c[0]["refreshed_at"].as_str().is_some());
    assert_eq!(
        c[0]["account"], "octocat",
        "the refresh kept the account label"
    );
    // The rotated tokens replaced the old ones in the one keychain entry.
    let issued = fakes.issued();
    let (count, holds) = keyring.items(&issued);
    assert_eq!(count, 1);
    assert_eq!(
        holds,
        vec![false, false, true, true],
        "old pair gone, new pair stored"
    );
    let mut errs = Vec::new();
    for s in sessions {
        errs.push(s.stderr_text().into_bytes());
        s.finish();
    }
    let refs: Vec<&[u8]> = errs.iter().map(Vec::as_slice).collect();
    assert_no_tokens(&home, &fakes, &refs);
}

#[test]
fn a_rejected_refresh_token_needs_reconnection_and_calls_are_denied() {
    let fakes = Fakes::start();
    let keyring = Keyring::unlocked();
    let (home, token) = setup(&fakes, "");
    fakes.set(json!({"expires_in_queue": [1]}));
    connect(&home, "github", &keyring.env());
    fakes.set(json!({"reject_refresh": true}));
    std::thread::sleep(Duration::from_millis(1100));
    let mut s = session(&home, &token, Some(&keyring));
    let r = s.call("github__list_notifications", json!({}));
    let e = structured(&r);
    assert_eq!(e["code"], "denied", "{r}");
    assert_eq!(e["reason"], "reconnect_required");
    assert_eq!(e["retryable"], false);
    assert!(
        text(&r).contains("gatehouse connect github"),
        "{}",
        text(&r)
    );
    // No retry loop: the next call is refused without asking the provider again.
    let r = s.call("github__list_notifications", json!({}));
    assert_eq!(structured(&r)["reason"], "reconnect_required");
    assert_eq!(fakes.state()["stats"]["refresh_requests"], 1);
    let c = home.json(&["connections"]);
    assert_eq!(c[0]["state"], "needs_reconnect");
    assert!(
        c[0]["reason"]
            .as_str()
            .unwrap()
            .contains("bad_refresh_token"),
        "{c}"
    );
    // The tools stay listed so calls can say why; reconnecting brings them back.
    assert!(
        s.tool_names()
            .iter()
            .any(|t| t == "github__list_notifications")
    );
    fakes.set(json!({"reject_refresh": false}));
    connect(&home, "github", &keyring.env());
    let r = s.call("github__list_notifications", json!({}));
    assert_eq!(r["isError"], false, "{r}");
    assert_eq!(
        keyring.items(&[]).0,
        1,
        "the old connection's entry was replaced, not kept"
    );
    let err = s.stderr_text();
    s.finish();
    assert_no_tokens(&home, &fakes, &[err.as_bytes()]);
}

#[test]
fn an_access_token_refused_early_is_refreshed_once_and_the_call_retried() {
    let fakes = Fakes::start();
    let keyring = Keyring::unlocked();
    let (home, token) = setup(&fakes, "");
    connect(&home, "github", &keyring.env());
    let mut s = session(&home, &token, Some(&keyring));
    assert_eq!(
        s.call("github__list_notifications", json!({}))["isError"],
        false
    );
    // The provider ends the access token before its expiry: 401, refresh, retry.
    fakes.expire_access_tokens();
    let r = s.call("github__list_notifications", json!({}));
    assert_eq!(r["isError"], false, "{r}");
    let state = fakes.state();
    assert_eq!(state["stats"]["refresh_requests"], 1);
    let github: Vec<bool> = state["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["service"] == "github" && r["path"] == "/notifications")
        .map(|r| r["authorized"].as_bool().unwrap())
        .collect();
    assert_eq!(
        github,
        [true, false, true],
        "ok, 401, retried with the new token"
    );
    assert_eq!(home.json(&["connections"])[0]["state"], "connected");
    let err = s.stderr_text();
    s.finish();
    assert_no_tokens(&home, &fakes, &[err.as_bytes()]);
}

#[test]
fn an_access_token_refused_after_a_refresh_needs_reconnection_without_a_retry_loop() {
    let fakes = Fakes::start();
    let keyring = Keyring::unlocked();
    let (home, token) = setup(&fakes, "");
    connect(&home, "github", &keyring.env());
    // The user removed the app's access at GitHub: every token is refused.
    fakes.set(json!({"github_reject_tokens": true}));
    let (github, auth) = (fakes.requests_to("github"), fakes.requests_to("auth"));
    let mut s = session(&home, &token, Some(&keyring));
    let r = s.call("github__list_notifications", json!({}));
    let e = structured(&r);
    assert_eq!(e["code"], "denied", "{r}");
    assert_eq!(e["reason"], "reconnect_required");
    assert_eq!(e["retryable"], false);
    assert_eq!(
        fakes.requests_to("github"),
        github + 2,
        "the call and its one retry"
    );
    assert_eq!(fakes.requests_to("auth"), auth + 1, "one refresh");
    let c = home.json(&["connections"]);
    assert_eq!(c[0]["state"], "needs_reconnect", "{c}");
    assert!(
        c[0]["reason"]
            .as_str()
            .unwrap()
            .contains("even after a refresh"),
        "{c}"
    );
    // The next calls, from this process or another, stop before the provider.
    let r = s.call("github__list_notifications", json!({}));
    assert_eq!(structured(&r)["reason"], "reconnect_required", "{r}");
    let mut other = session(&home, &token, Some(&keyring));
    let r = other.call("github__list_notifications", json!({}));
    assert_eq!(structured(&r)["reason"], "reconnect_required", "{r}");
    assert_eq!(
        fakes.requests_to("github"),
        github + 2,
        "no request after the verdict"
    );
    assert_eq!(fakes.requests_to("auth"), auth + 1);
    let errs = [s.stderr_text(), other.stderr_text()];
    s.finish();
    other.finish();
    assert_no_tokens(&home, &fakes, &[errs[0].as_bytes(), errs[1].as_bytes()]);
}
