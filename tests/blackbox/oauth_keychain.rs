//! Where tokens live when the Secret Service isn't there: the kernel keyutils
//! fallback (chosen only where no Secret Service answers), and a keychain
//! that is absent or locked, which is a clear error naming what to do, with
//! nothing stored anywhere else.

use serde_json::{Value, json};

use crate::keyring_util::Keyring;
use crate::oauth_util::{Connecting, Fakes, assert_no_tokens, browse, connect, connections};
use crate::util::{Home, structured, text};

#[test]
fn keyutils_holds_the_tokens_where_no_secret_service_runs() {
    let fakes = Fakes::start();
    let home = Home::with_config(&fakes.config());
    let token = home.add_agent("bot");
    // No DBUS_SESSION_BUS_ADDRESS: `auto` falls back to the kernel keyring.
    let (view, out) = connect(&home, "github", &[]);
    assert_eq!(view["keychain"], "keyutils");
    let doctor: Value = home.json(&["doctor", "--no-start"]);
    let check = doctor
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "keychain")
        .unwrap();
    assert_eq!(
        check["level"], "warn",
        "keyutils is lost at reboot: {check}"
    );
    let conn = doctor
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "connection github")
        .unwrap();
    assert_eq!(conn["level"], "ok", "{conn}");
    let mut s = home.session("c", &[("GATEHOUSE_TOKEN", token.as_str())]);
    let r = s.call("github__list_notifications", json!({}));
    assert_eq!(r["isError"], false, "{r}");
    let err = s.stderr_text();
    s.finish();
    let out2 = home.cmd().args(["disconnect", "github"]).output().unwrap();
    assert!(
        out2.status.success(),
        "{}",
        String::from_utf8_lossy(&out2.stderr)
    );
    assert_no_tokens(
        &home,
        &fakes,
        &[
            &out.stdout,
            &out.stderr,
            err.as_bytes(),
            &out2.stdout,
            &out2.stderr,
        ],
    );
}

#[test]
fn an_absent_or_locked_keychain_is_a_clear_error_and_nothing_falls_back_to_a_file() {
    let fakes = Fakes::start();
    // Asked for the Secret Service, with no session bus: fails before the browser step.
    let home = Home::with_config(&format!(
        "{}[secrets]\nstore = \"secret-service\"\n",
        fakes.config()
    ));
    let out = home
        .cmd()
        .args(["connect", "github", "--no-browser"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no OS keychain is available") && err.contains("DBUS_SESSION_BUS_ADDRESS"),
        "{err}"
    );
    assert!(
        !err.contains("/authorize?"),
        "no sign-in starts without a keychain: {err}"
    );
    assert_eq!(home.json(&["connections"]), json!([]));
    let doctor = home.run(&["doctor", "--no-start", "--json"]);
    let checks: Value = serde_json::from_slice(&doctor.stdout).unwrap();
    let k = checks
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "keychain")
        .unwrap();
    assert_eq!(k["level"], "warn", "nothing is connected yet: {k}");
    assert!(
        k["fix"]
            .as_str()
            .unwrap()
            .contains("never stores tokens in a file")
    );

    // A keyring that is locked: a clear error, nothing stored.
    let locked = Keyring::locked();
    let home = Home::with_config(&fakes.config());
    let out = home
        .cmd()
        .args(["connect", "google", "--no-browser"])
        .envs(locked.env())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Secret Service keyring is locked") && err.contains("unlock it"),
        "{err}"
    );
    assert_eq!(home.json(&["connections"]), json!([]));
    drop(locked);

    // Connected, then the keyring locks: calls are refused as retryable (an
    // unlock prompt passes), never let through or failed as permanent.
    let mut keyring = Keyring::unlocked();
    let home = Home::with_config(&fakes.config());
    let token = home.add_agent("bot");
    let mut c = Connecting::start(&home, &["github"], &keyring.env());
    let url = c.authorize_url();
    browse(&url);
    assert!(c.finish().status.success());
    keyring.relock();
    let mut s = home.session(
        "c",
        &[
            ("GATEHOUSE_TOKEN", token.as_str()),
            ("DBUS_SESSION_BUS_ADDRESS", keyring.address.as_str()),
        ],
    );
    let r = s.call("github__list_notifications", json!({}));
    assert_eq!(structured(&r)["code"], "system_error", "{r}");
    assert_eq!(structured(&r)["reason"], "keychain_unavailable");
    assert_eq!(structured(&r)["retryable"], true);
    assert!(
        structured(&r)["retry_after_ms"].as_i64().unwrap() > 0,
        "{r}"
    );
    assert!(text(&r).contains("unlock"), "{r}");
    let row = &home.history()[0];
    assert_eq!(
        (row["status"].as_str(), row["code"].as_str()),
        (Some("system_error"), Some("system_error")),
        "{row}"
    );
    let doctor = home
        .cmd()
        .args(["doctor", "--no-start", "--json"])
        .envs(keyring.env())
        .output()
        .unwrap();
    assert!(
        !doctor.status.success(),
        "a connection whose tokens can't be read fails doctor"
    );
    let err = s.stderr_text();
    s.finish();
    // Nothing was written anywhere but the keychain.
    assert!(!home.path().join("tokens").exists());
    assert_no_tokens(
        &home,
        &fakes,
        &[err.as_bytes(), &doctor.stdout, &doctor.stderr],
    );
}

#[test]
fn the_account_name_is_read_from_the_keychain_and_unavailable_while_it_is_locked() {
    let fakes = Fakes::start();
    let mut keyring = Keyring::unlocked();
    let home = Home::with_config(&fakes.config());
    let (view, _) = connect(&home, "google", &keyring.env());
    assert_eq!(view["account"], "me@example.com");
    assert_eq!(
        connections(&home, &keyring.env())[0]["account"],
        "me@example.com"
    );
    keyring.relock();
    // The connection is still listed, its account unknown, and the listing says why.
    let listed = connections(&home, &keyring.env());
    assert_eq!(listed[0]["provider"], "google", "{listed}");
    assert_eq!(listed[0]["account"], Value::Null, "{listed}");
    assert_eq!(listed[0]["state"], "connected", "{listed}");
    let reason = listed[0]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("keychain") && reason.contains("locked"),
        "{listed}"
    );
    let text = home
        .cmd()
        .args(["connections"])
        .envs(keyring.env())
        .output()
        .unwrap();
    assert!(text.status.success());
    home.assert_nowhere("me@example.com");
}
