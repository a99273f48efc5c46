//! Bad input during `gatehouse connect`: a callback with a wrong `state`, no
//! code, an `error` parameter, a second callback, a port already in use, a
//! token endpoint answering garbage, a provider without a client id. Each is
//! a clear error, and nothing is stored: no connection row, no keychain entry.

use serde_json::{Value, json};

use crate::keyring_util::Keyring;
use crate::oauth_util::{Connecting, Fakes, assert_no_tokens, browse, no_redirects, redirect_of};
use crate::util::Home;

fn nothing_stored(home: &Home, keyring: &Keyring) {
    assert_eq!(
        home.json(&["connections"]),
        json!([]),
        "no connection is recorded"
    );
    assert_eq!(keyring.items(&[]).0, 0, "no keychain entry is left");
}

/// Starts a connect, sends the browser back to its loopback with `query`
/// instead of the real authorization, and returns the CLI's error text and the page.
fn callback_with(
    home: &Home,
    keyring: &Keyring,
    query: impl Fn(&str) -> String,
) -> (String, String) {
    let mut c = Connecting::start(home, &["github"], &keyring.env());
    let url = c.authorize_url();
    let (redirect, state) = redirect_of(&url);
    let page = no_redirects()
        .get(format!("{redirect}?{}", query(&state)))
        .send()
        .unwrap();
    assert_eq!(page.status().as_u16(), 400);
    let page = page.text().unwrap();
    let out = c.finish();
    assert!(!out.status.success());
    (String::from_utf8_lossy(&out.stderr).into_owned(), page)
}

#[test]
fn bad_callbacks_are_clear_errors_and_store_nothing() {
    let fakes = Fakes::start();
    let keyring = Keyring::unlocked();
    let home = Home::with_config(&fakes.config());

    let (err, page) = callback_with(&home, &keyring, |_| "code=abc&state=not-the-state".into());
    assert!(err.contains("`state` this sign-in did not send"), "{err}");
    assert!(
        page.contains("did not send"),
        "the browser page says why: {page}"
    );
    nothing_stored(&home, &keyring);

    let (err, _) = callback_with(&home, &keyring, |s| format!("state={s}"));
    assert!(err.contains("without an authorization code"), "{err}");
    nothing_stored(&home, &keyring);

    let (err, _) = callback_with(&home, &keyring, |s| {
        format!("state={s}&error=access_denied&error_description=The+user+said+no")
    });
    assert!(
        err.contains("GitHub refused the authorization: access_denied (The user said no)"),
        "{err}"
    );
    nothing_stored(&home, &keyring);

    // Other paths on the loopback (a favicon) are ignored; the flow still completes.
    let mut c = Connecting::start(&home, &["github"], &keyring.env());
    let url = c.authorize_url();
    let (redirect, _) = redirect_of(&url);
    let favicon = redirect.replace("/callback", "/favicon.ico");
    assert_eq!(
        no_redirects()
            .get(&favicon)
            .send()
            .unwrap()
            .status()
            .as_u16(),
        404
    );
    let (callback, status, _) = browse(&url);
    assert_eq!(status, 200);
    assert!(c.finish().status.success());
    // A second callback finds nobody listening, and changes nothing.
    assert!(
        no_redirects().get(&callback).send().is_err(),
        "the loopback listener is closed"
    );
    let before = home.json(&["connections"]);
    assert_eq!(before.as_array().unwrap().len(), 1);
    assert_eq!(keyring.items(&[]).0, 1);
    let out = home
        .cmd()
        .args(["disconnect", "github"])
        .envs(keyring.env())
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_no_tokens(&home, &fakes, &[&out.stdout, &out.stderr]);
}

#[test]
fn a_busy_port_garbage_tokens_and_missing_client_ids_are_clear_errors() {
    let fakes = Fakes::start();
    let keyring = Keyring::unlocked();
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let home = Home::with_config(&fakes.config().replace(
        "[oauth.google]",
        &format!("redirect_port = {port}\n[oauth.google]"),
    ));
    let out = home
        .cmd()
        .args(["connect", "github", "--no-browser"])
        .envs(keyring.env())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{err}"
    );
    assert!(err.contains("redirect_port = 0"), "the fix is named: {err}");
    nothing_stored(&home, &keyring);
    drop(busy);

    // The token endpoint answers garbage: nothing stored.
    let home = Home::with_config(&fakes.config());
    fakes.set(json!({"garbage_next_token": true}));
    let mut c = Connecting::start(&home, &["google"], &keyring.env());
    let url = c.authorize_url();
    let (_, status, _) = browse(&url);
    assert_eq!(status, 200, "the browser part worked");
    let out = c.finish();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "Google's token endpoint answered with something that is not an OAuth token response"
        ),
        "{err}"
    );
    assert!(err.contains("nothing was stored"), "{err}");
    nothing_stored(&home, &keyring);

    // No client id configured, an unknown provider: errors before anything starts.
    let bare = Home::new();
    let out = bare
        .cmd()
        .args(["connect", "github"])
        .envs(keyring.env())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("set [oauth.github] client_id"));
    let out = bare.cmd().args(["connect", "gitlab"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown provider \"gitlab\""));
    // A config that would send tokens over plain http to another host is refused.
    let insecure = Home::with_config("[oauth.github]\ntoken_url = \"http://example.com/token\"\n");
    let out = insecure.cmd().args(["connections"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("oauth.github.token_url") && err.contains("https://"),
        "{err}"
    );
    assert_eq!(
        fakes.state()["stats"]["code_requests"],
        0,
        "no grant was issued, so nothing could leak"
    );
}

#[test]
fn the_device_flow_connects_github_without_a_browser() {
    let fakes = Fakes::start();
    let keyring = Keyring::unlocked();
    // In the device flow GitHub's own endpoints issue the token.
    let config = fakes.config().replace(
        &format!("token_url = \"{}/token\"\ndevice_url", fakes.auth),
        &format!(
            "token_url = \"{}/login/oauth/access_token\"\ndevice_url",
            fakes.github
        ),
    );
    let home = Home::with_config(&config);
    let mut c = Connecting::start(&home, &["github", "--device"], &keyring.env());
    let line = c.wait_line("/login/device");
    assert!(line.contains(&fakes.github), "{line}");
    let code = c.wait_line("-");
    assert_eq!(
        fakes.state()["pending_devices"][0].as_str().unwrap(),
        code.trim()
    );
    fakes.approve_devices(false);
    let out = c.finish();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let view: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(view["account"], "octocat");
    assert_eq!(view["scopes"], json!(["repo", "notifications"]));
    assert_eq!(keyring.items(&fakes.issued()).1, vec![true, true]);

    // A user who refuses on github.com gets a clear error; the old connection stays.
    let mut c = Connecting::start(&home, &["github", "--device"], &keyring.env());
    c.wait_line("/login/device");
    fakes.approve_devices(true);
    let out = c.finish();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("access_denied"));
    assert_eq!(home.json(&["connections"]).as_array().unwrap().len(), 1);
    assert_no_tokens(&home, &fakes, &[&out.stdout, &out.stderr]);
}
