//! Helpers of the OAuth tests: the fakes (a real OAuth2 server from npm plus
//! GitHub and Gmail API doubles, `tests/fakes/server.mjs`), a private real
//! Secret Service (a `dbus-daemon` session bus and `gnome-keyring-daemon`,
//! started per test and stopped by pid), the browser step (an HTTP client
//! following the redirect to Gatehouse's loopback callback), and the canary
//! check that no token string leaked anywhere.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::util::{Home, contains, tests_dir};

fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// The fakes: one `node` process, killed on drop.
pub struct Fakes {
    child: Child,
    _stdin: ChildStdin,
    /// The OAuth2 authorization server (`/authorize`, `/token`, `/revoke`).
    pub auth: String,
    /// The GitHub API (and device flow) double.
    pub github: String,
    /// The Gmail API double.
    pub gmail: String,
    control: String,
    http: reqwest::blocking::Client,
}

impl Fakes {
    /// Starts them and waits (up to 20 s) for their addresses.
    pub fn start() -> Self {
        let mut child = Command::new("node")
            .arg(tests_dir().join("fakes/server.mjs"))
            .current_dir(tests_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node runs tests/fakes/server.mjs");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| {
                kill(&mut child);
                panic!("tests/fakes/server.mjs did not start within 20 s")
            });
        let v: Value = serde_json::from_str(&line).expect("the fakes print their addresses");
        let s = |k: &str| v[k].as_str().unwrap().to_string();
        Self {
            auth: s("auth"),
            github: s("github"),
            gmail: s("gmail"),
            control: s("control"),
            child,
            _stdin: stdin,
            http: no_redirects(),
        }
    }

    /// Counters, requests seen, tokens issued.
    pub fn state(&self) -> Value {
        self.http
            .get(format!("{}/state", self.control))
            .send()
            .unwrap()
            .json()
            .unwrap()
    }

    /// Changes a knob (see `state.config` in server.mjs).
    pub fn set(&self, config: Value) {
        let r = self
            .http
            .post(format!("{}/config", self.control))
            .json(&config)
            .send()
            .unwrap();
        assert!(r.status().is_success());
    }

    /// Makes every access token issued so far invalid at the APIs (as a
    /// provider does when it expires tokens early); new ones work.
    pub fn expire_access_tokens(&self) {
        let r = self
            .http
            .post(format!("{}/expire_access_tokens", self.control))
            .send()
            .unwrap();
        assert!(r.status().is_success());
    }

    /// How many requests reached `service` (`auth` counts refreshes).
    pub fn requests_to(&self, service: &str) -> usize {
        self.state()["requests"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["service"] == service)
            .count()
    }

    /// Approves (or denies) every pending device code, as the user would on github.com.
    pub fn approve_devices(&self, deny: bool) {
        self.http
            .post(format!("{}/device/approve", self.control))
            .json(&json!({ "deny": deny }))
            .send()
            .unwrap();
    }

    /// Every token string the authorization server issued so far.
    pub fn issued(&self) -> Vec<String> {
        self.state()["issued"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap().to_string())
            .collect()
    }

    /// The config section pointing both providers at the fakes.
    pub fn config(&self) -> String {
        format!(
            "[oauth]\ncallback_timeout_seconds = 20\n\
             [oauth.github]\nclient_id = \"gh-client\"\nclient_secret = \"gh-client-secret\"\n\
             authorize_url = \"{a}/authorize\"\ntoken_url = \"{a}/token\"\n\
             device_url = \"{g}/login/device/code\"\napi_base_url = \"{g}\"\n\
             [oauth.google]\nclient_id = \"google-client\"\nclient_secret = \"google-client-secret\"\n\
             authorize_url = \"{a}/authorize\"\ntoken_url = \"{a}/token\"\nrevoke_url = \"{a}/revoke\"\n\
             api_base_url = \"{m}\"\n",
            a = self.auth,
            g = self.github,
            m = self.gmail
        )
    }
}

impl Drop for Fakes {
    fn drop(&mut self) {
        kill(&mut self.child);
    }
}

/// An HTTP client that shows redirects instead of following them.
pub fn no_redirects() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// A `gatehouse connect` in progress.
pub struct Connecting {
    child: Child,
    lines: Receiver<String>,
    /// Everything it wrote on stderr so far.
    pub stderr: Vec<String>,
}

impl Connecting {
    /// Starts `gatehouse connect ARGS --json --no-browser` with `env`.
    pub fn start(home: &Home, args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut c = home.cmd();
        c.arg("connect").args(args).args(["--json", "--no-browser"]);
        for (k, v) in env {
            c.env(k, v);
        }
        let mut child = c
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(l) = line else { return };
                if tx.send(l).is_err() {
                    return;
                }
            }
        });
        Self {
            child,
            lines: rx,
            stderr: Vec::new(),
        }
    }

    /// Waits (up to 20 s) for a stderr line containing `needle`; returns it.
    pub fn wait_line(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    self.stderr.push(l.clone());
                    if l.contains(needle) {
                        return l;
                    }
                }
                Err(_) => panic!(
                    "connect printed no line with {needle:?}; stderr so far: {:?}",
                    self.stderr
                ),
            }
        }
    }

    /// The authorization URL it printed.
    pub fn authorize_url(&mut self) -> String {
        self.wait_line("/authorize?").trim().to_string()
    }

    /// Waits (up to 30 s) for it to exit; returns its output (stderr as collected).
    pub fn finish(mut self) -> Output {
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            if Instant::now() > deadline {
                kill(&mut self.child);
                panic!(
                    "gatehouse connect did not exit within 30 s; stderr: {:?}",
                    self.stderr
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut stdout = Vec::new();
        self.child
            .stdout
            .take()
            .unwrap()
            .read_to_end(&mut stdout)
            .unwrap();
        while let Ok(l) = self.lines.recv_timeout(Duration::from_millis(500)) {
            self.stderr.push(l);
        }
        Output {
            status,
            stdout,
            stderr: self.stderr.join("\n").into_bytes(),
        }
    }
}

impl Drop for Connecting {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The browser: GET the authorization URL, follow its redirect to
/// Gatehouse's loopback callback; returns (callback URL, status, page text).
pub fn browse(authorize_url: &str) -> (String, u16, String) {
    let http = no_redirects();
    let r = http.get(authorize_url).send().unwrap();
    assert_eq!(
        r.status().as_u16(),
        302,
        "the authorization server redirects back"
    );
    let callback = r.headers()["location"].to_str().unwrap().to_string();
    assert!(callback.starts_with("http://127.0.0.1:"), "{callback}");
    let page = http.get(&callback).send().unwrap();
    let status = page.status().as_u16();
    (callback, status, page.text().unwrap())
}

/// The loopback redirect URL inside an authorization URL.
pub fn redirect_of(authorize_url: &str) -> (String, String) {
    let u = url::Url::parse(authorize_url).unwrap();
    let get = |k: &str| {
        u.query_pairs()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.into_owned())
            .unwrap()
    };
    (get("redirect_uri"), get("state"))
}

/// Connects `provider` through the browser flow; returns the `--json` connection and the CLI's output.
pub fn connect(home: &Home, provider: &str, env: &[(&str, &str)]) -> (Value, Output) {
    let mut c = Connecting::start(home, &[provider], env);
    let url = c.authorize_url();
    let (_, status, page) = browse(&url);
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("close this tab"), "{page}");
    let out = c.finish();
    assert!(
        out.status.success(),
        "connect failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (serde_json::from_slice(&out.stdout).unwrap(), out)
}

/// Asserts that no token the authorization server issued appears in any
/// file under the home (database, WAL, logs), in history, or in `outputs`.
pub fn assert_no_tokens(home: &Home, fakes: &Fakes, outputs: &[&[u8]]) {
    let tokens = fakes.issued();
    assert!(
        !tokens.is_empty(),
        "the test issued no token: the canary check would prove nothing"
    );
    let history = serde_json::to_vec(&home.history()).unwrap();
    let files = home.all_file_bytes();
    for t in &tokens {
        for (path, bytes) in &files {
            assert!(
                !contains(bytes, t),
                "a token leaked into {}",
                path.display()
            );
        }
        assert!(!contains(&history, t), "a token leaked into history");
        for (i, o) in outputs.iter().enumerate() {
            assert!(!contains(o, t), "a token leaked into output #{i}");
        }
    }
}

/// `connections --json`, with `env` (the keychain's bus) added: the
/// account labels are read from the keychain.
pub fn connections(home: &Home, env: &[(&str, &str)]) -> Value {
    home.json_with(&["connections"], env)
}
