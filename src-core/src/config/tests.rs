//! Config parsing: defaults, layering, and errors that name file, line and key.

use std::path::Path;

use super::*;

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(Path::new("/etc/gh/config.toml"), text)
}

fn error(text: &str) -> String {
    parse(text).unwrap_err().to_string()
}

#[test]
fn the_embedded_defaults_serve_without_a_file() {
    let c = Config::load(Path::new("/nonexistent/config.toml")).unwrap();
    assert_eq!(c.source, None);
    assert_eq!(c.approval_wait, Duration::from_secs(20));
    assert_eq!(c.server.max_message_bytes, 8 << 20);
    assert_eq!(c.retention_days, 30);
    let agent: Vec<String> = c
        .limits
        .agent_budgets("x")
        .budgets()
        .map(|b| b.to_string())
        .collect();
    assert_eq!(agent, ["60/minute", "2000/day"]);
    assert!(c.upstreams.is_empty());
}

#[test]
fn a_named_config_file_must_exist() {
    let e = Config::load_named(Path::new("/nonexistent/gh.toml"), Some("GATEHOUSE_CONFIG"))
        .unwrap_err();
    assert!(matches!(e, ConfigError::Missing { .. }), "{e:?}");
    let text = e.to_string();
    assert!(
        text.starts_with("GATEHOUSE_CONFIG names the config file /nonexistent/gh.toml"),
        "{text}"
    );
    let mut home = crate::home::Home::in_dir("/nonexistent");
    assert!(
        Config::load_for(&home).is_ok(),
        "the implicit path may be missing"
    );
    home.config_named_by = Some("GATEHOUSE_CONFIG");
    assert!(Config::load_for(&home).is_err());
}

#[test]
fn the_design_example_parses() {
    let c = parse(
        r#"
[limits.agent]
per_minute = 60
per_day = 2000
[limits.tool]
per_minute = 120
[limits.tools."github__create_issue"]
per_minute = 5
per_day = 50
[limits.agents."claude-desktop"]
per_minute = 30
[limits.agents."claude-desktop".tools."gmail__send"]
per_hour = 10

[approval]
wait_seconds = 20

[[upstream]]
name = "everything"
command = "npx"
args = ["-y", "@modelcontextprotocol/server-everything"]
env = { }

[agents."claude-desktop"]
deny_tools = ["gmail__send"]
"#,
    )
    .unwrap();
    let limits: Vec<String> = c
        .limits
        .limits_for("claude-desktop", "gmail__send")
        .iter()
        .map(|l| format!("{} {}", l.key.scope.name(), l.budget))
        .collect();
    assert_eq!(
        limits,
        [
            "agent 30/minute",
            "agent 2000/day",
            "tool 2/minute",
            "tool 10/hour",
            "tool 50/day",
            "agent_tool 10/hour"
        ]
    );
    assert_eq!(c.upstreams[0].name.as_str(), "everything");
    assert_eq!(
        c.upstreams[0].args,
        ["-y", "@modelcontextprotocol/server-everything"]
    );
    assert_eq!(c.policy_for("claude-desktop").deny.len(), 1);
}

#[test]
fn an_unknown_key_names_file_line_and_key() {
    let e = error("[approval]\nwait_secs = 5\n");
    assert!(
        e.starts_with("/etc/gh/config.toml:2:1: key `approval.wait_secs`"),
        "{e}"
    );
    assert!(e.contains("unknown field"), "{e}");
}

#[test]
fn a_wrong_type_names_file_line_and_key() {
    let e = error("[limits.tool]\nper_minute = \"lots\"\n");
    assert!(e.starts_with("/etc/gh/config.toml:2:"), "{e}");
    assert!(e.contains("limits.tool.per_minute"), "{e}");
}

#[test]
fn a_zero_budget_is_an_error() {
    let e = error("[limits.tools.\"x__y\"]\nper_day = 0\n");
    assert!(
        e.contains(":2:11: key `limits.tools.\"x__y\".per_day`"),
        "{e}"
    );
    assert!(e.contains("deny_tools"), "{e}");
}

#[test]
fn negative_and_huge_numbers_are_errors() {
    assert!(error("[limits.agent]\nper_minute = -1\n").contains("limits.agent.per_minute"));
    assert!(
        error("[limits.agent]\nper_minute = 99999999999\n").contains("limits.agent.per_minute")
    );
    assert!(error("[approval]\nwait_seconds = 100000\n").contains("out of range"));
    assert!(error("[server]\nmax_message_bytes = 10\n").contains("out of range"));
}

#[test]
fn invalid_toml_is_an_error_with_a_line() {
    let e = error("[limits\nper_minute = 1\n");
    assert!(e.starts_with("/etc/gh/config.toml:1:"), "{e}");
}

#[test]
fn upstream_names_must_be_valid_and_unique() {
    let up = |name: &str| format!("[[upstream]]\nname = \"{name}\"\ncommand = \"x\"\n");
    assert!(error(&up("Bad Name")).contains(":2:8: key `upstream.name`"));
    assert!(error(&up("github")).contains("reserved"));
    assert!(error(&format!("{}{}", up("a"), up("a"))).contains("unique"));
    assert!(error("[[upstream]]\nname = \"a\"\ncommand = \"  \"\n").contains("command is empty"));
    assert!(error("[[upstream]]\nname = \"a\"\n").contains("missing field `command`"));
}

#[test]
fn bad_tool_patterns_are_errors() {
    let e = error("[agents.\"a\"]\nallow_tools = [\"ok__*\", \"not ok\"]\n");
    assert!(
        e.contains(":2:") && e.contains("agents.\"a\".allow_tools"),
        "{e}"
    );
}

#[test]
fn file_settings_override_defaults() {
    let c = parse("[server]\nmax_message_bytes = 4096\nupstream_start_seconds = 1\n[history]\nretention_days = 7\n").unwrap();
    assert_eq!(c.server.max_message_bytes, 4096);
    assert_eq!(c.server.upstream_start, Duration::from_secs(1));
    assert_eq!(c.server.upstream_call, Duration::from_secs(120));
    assert_eq!(c.retention_days, 7);
}

#[test]
fn traces_and_alerts_have_documented_defaults_and_layer_key_by_key() {
    let d = Config::defaults();
    assert!(d.traces.local_files);
    assert!(d.alerts.enabled);
    assert_eq!(d.alerts.check_every, Duration::from_secs(10));
    assert_eq!(d.alerts.window, Duration::from_secs(600));
    assert_eq!(d.alerts.baseline, Duration::from_secs(24 * 3600));
    assert_eq!(d.alerts.baseline_min_calls, 100);
    assert_eq!(d.alerts.baseline_min_span, Duration::from_secs(3600));
    assert_eq!(
        (
            d.alerts.error_min_calls,
            d.alerts.error_rate_factor,
            d.alerts.error_rate_min_points
        ),
        (20, 2.0, 10)
    );
    assert_eq!(d.alerts.latency_factor, 3.0);
    assert_eq!(d.alerts.latency_min_increase, Duration::from_millis(100));
    assert_eq!(
        (
            d.alerts.budget_min_refusals,
            d.alerts.auth_min_failures,
            d.alerts.auth_factor
        ),
        (1, 5, 3.0)
    );
    let c = parse(
        "[traces]\nlocal_files = false\n[alerts]\nwindow_minutes = 5\nerror_rate_factor = 4\n",
    )
    .unwrap();
    assert!(!c.traces.local_files);
    assert_eq!(c.alerts.window, Duration::from_secs(300));
    assert_eq!(c.alerts.error_rate_factor, 4.0);
    assert_eq!(
        c.alerts.baseline_min_calls, 100,
        "keys not set keep the default"
    );
}

#[test]
fn bad_traces_and_alerts_keys_are_errors() {
    assert!(error("[traces]\nfiles = true\n").contains("key `traces.files`: unknown field"));
    assert!(error("[traces]\nlocal_files = \"yes\"\n").contains("traces.local_files"));
    assert!(error("[alerts]\nwindow = 5\n").contains("unknown field `window`"));
    let e = error("[alerts]\nwindow_minutes = 0\n");
    assert!(
        e.contains(":2:18: key `alerts.window_minutes`") && e.contains("out of range"),
        "{e}"
    );
    assert!(error("[alerts]\nlatency_factor = 0.5\n").contains("alerts.latency_factor"));
    assert!(
        error("[alerts]\nbaseline_hours = 2\nbaseline_min_hours = 3\n")
            .contains("longer than baseline_hours")
    );
}
