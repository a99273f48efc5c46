//! `Config`: the checked settings the rest of the crate sees. Built once, at
//! load, from the embedded defaults with `config.toml` layered over them;
//! downstream code never re-checks a value. A broken file is an error naming
//! file, line and key, and `serve` refuses to start (fail closed). [`edit`]
//! changes one budget in the file, comments kept, checked by the same loader;
//! [`reload`] applies edits to a running `serve` ([`LiveConfig`]).

mod alerts;
pub mod edit;
mod error;
mod limits;
mod live;
mod oauth;
mod raw;
pub mod reload;
mod write;

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use alerts::{AlertsConfig, TracesConfig};
pub use error::ConfigError;
use error::Source;
pub use limits::{AgentLimits, LimitsConfig, PeriodBudgets};
pub use live::LiveConfig;
pub use oauth::{OAuthConfig, ProviderConfig};
use raw::{RawConfig, RawLimits};
use toml::Spanned;

use crate::budget::Period;
use crate::home::Home;
use crate::tools::{ToolPattern, UpstreamName};

/// The embedded defaults, also shown in `docs/configuration.md`.
pub const DEFAULTS_TOML: &str = include_str!("defaults.toml");

/// `[server]`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerSettings {
    /// Longest JSON-RPC line accepted from a client or an upstream.
    pub max_message_bytes: usize,
    /// How long `tools/list` waits for upstreams that are still starting.
    pub upstream_start: Duration,
    /// How long one upstream call may take.
    pub upstream_call: Duration,
}

/// `[agents."N"]`: which tools one agent may call.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ToolPolicy {
    /// When non-empty, only tools matching one of these.
    pub allow: Vec<ToolPattern>,
    /// Tools matching any of these are refused; deny wins.
    pub deny: Vec<ToolPattern>,
}

/// `[[upstream]]`: an MCP server put behind the guardrails.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpstreamConfig {
    /// Its tools are re-exported as `<name>__<tool>`.
    pub name: UpstreamName,
    /// The program.
    pub command: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// Extra environment variables.
    pub env: BTreeMap<String, String>,
    /// Working directory, if not ours.
    pub cwd: Option<PathBuf>,
}

/// Everything configurable, checked.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// The file the settings came from; `None` when only the defaults serve.
    pub source: Option<PathBuf>,
    /// `[server]`
    pub server: ServerSettings,
    /// `[approval] wait_seconds`
    pub approval_wait: Duration,
    /// `[history] retention_days`
    pub retention_days: u32,
    /// `[traces]`
    pub traces: TracesConfig,
    /// `[alerts]`: thresholds of the alerts.
    pub alerts: AlertsConfig,
    /// Budgets, defaults and file layered.
    pub limits: LimitsConfig,
    /// Per-agent tool policy from the file.
    pub policies: BTreeMap<String, ToolPolicy>,
    /// Upstream servers, in file order.
    pub upstreams: Vec<UpstreamConfig>,
    /// `[oauth]`: GitHub and Google clients, endpoints and scopes.
    pub oauth: OAuthConfig,
    /// `[secrets] store`: which keychain holds OAuth tokens.
    pub secrets: crate::secrets::Choice,
}

/// One layer (defaults or file) after checking, before layering.
#[derive(Default)]
struct Layer {
    max_message_bytes: Option<usize>,
    upstream_start: Option<Duration>,
    upstream_call: Option<Duration>,
    approval_wait: Option<Duration>,
    retention_days: Option<u32>,
    observe: alerts::Layer,
    limits: LimitsConfig,
    policies: BTreeMap<String, ToolPolicy>,
    upstreams: Vec<UpstreamConfig>,
    oauth: oauth::OAuthLayer,
}

impl Config {
    /// The embedded defaults alone.
    pub fn defaults() -> Config {
        let layer = parse_layer(Path::new("<embedded defaults>"), DEFAULTS_TOML)
            .expect("the embedded defaults are valid");
        Config::from_layers(layer, Layer::default(), None)
    }

    /// The config `home` points at: its file layered over the defaults. A
    /// file named by a variable (`GATEHOUSE_CONFIG`) must exist; only the
    /// implicit default path may be missing.
    pub fn load_for(home: &Home) -> Result<Config, ConfigError> {
        Config::load_named(&home.config_file, home.config_named_by)
    }

    /// Reads `path` if it exists and layers it over the defaults (the
    /// implicit default path: a missing file means the defaults).
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        Config::load_named(path, None)
    }

    /// Reads `path` and layers it over the defaults; when `named_by` (the
    /// variable that named the file) is given, a missing file is an error.
    pub fn load_named(path: &Path, named_by: Option<&str>) -> Result<Config, ConfigError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Config::parse(path, &text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => match named_by {
                None => Ok(Config::defaults()),
                Some(variable) => Err(ConfigError::Missing {
                    variable: variable.to_string(),
                    path: path.to_path_buf(),
                }),
            },
            Err(source) => Err(ConfigError::Read {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    /// Parses `text` (the contents of `path`) and layers it over the defaults.
    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let defaults = parse_layer(Path::new("<embedded defaults>"), DEFAULTS_TOML)
            .expect("the embedded defaults are valid");
        let file = parse_layer(path, text)?;
        Ok(Config::from_layers(
            defaults,
            file,
            Some(path.to_path_buf()),
        ))
    }

    fn from_layers(d: Layer, f: Layer, source: Option<PathBuf>) -> Config {
        let (oauth, secrets) = oauth::merge(d.oauth, f.oauth);
        let pick = |a: Option<Duration>, b: Option<Duration>| a.or(b).unwrap_or_default();
        let (traces, alerts) = f.observe.over(&d.observe);
        Config {
            source,
            server: ServerSettings {
                max_message_bytes: f
                    .max_message_bytes
                    .or(d.max_message_bytes)
                    .unwrap_or(8 << 20),
                upstream_start: pick(f.upstream_start, d.upstream_start),
                upstream_call: pick(f.upstream_call, d.upstream_call),
            },
            approval_wait: pick(f.approval_wait, d.approval_wait),
            retention_days: f.retention_days.or(d.retention_days).unwrap_or(30),
            traces,
            alerts,
            limits: d.limits.layered_under(&f.limits),
            policies: f.policies,
            upstreams: f.upstreams,
            oauth,
            secrets,
        }
    }

    /// The tool policy configured for `agent` (empty: every tool).
    pub fn policy_for(&self, agent: &str) -> ToolPolicy {
        self.policies.get(agent).cloned().unwrap_or_default()
    }
}

fn parse_layer(path: &Path, text: &str) -> Result<Layer, ConfigError> {
    let src = Source { path, text };
    let raw: RawConfig = toml::from_str(text).map_err(|e| src.invalid(e.span(), e.message()))?;
    let mut layer = Layer {
        oauth: oauth::parse(&src, &raw.oauth, &raw.secrets)?,
        ..Layer::default()
    };

    if let Some(server) = &raw.server {
        layer.max_message_bytes =
            bounded(&src, &server.max_message_bytes, 1024, 1 << 30)?.map(|n| n as usize);
        layer.upstream_start =
            bounded(&src, &server.upstream_start_seconds, 0, 600)?.map(Duration::from_secs);
        layer.upstream_call =
            bounded(&src, &server.upstream_call_seconds, 1, 86_400)?.map(Duration::from_secs);
    }
    if let Some(approval) = &raw.approval {
        layer.approval_wait =
            bounded(&src, &approval.wait_seconds, 0, 300)?.map(Duration::from_secs);
    }
    if let Some(history) = &raw.history {
        layer.retention_days = bounded(&src, &history.retention_days, 1, 36_500)?.map(|n| n as u32);
    }
    layer.observe = alerts::Layer::parse(&src, raw.traces.as_ref(), raw.alerts.as_ref())?;
    if let Some(limits) = &raw.limits {
        let table = |t: &Option<RawLimits>| -> Result<PeriodBudgets, ConfigError> {
            t.as_ref()
                .map_or(Ok(PeriodBudgets::default()), |t| budgets(&src, t))
        };
        layer.limits.agent = table(&limits.agent)?;
        layer.limits.tool = table(&limits.tool)?;
        for (name, t) in limits.tools.iter().flatten() {
            layer.limits.tools.insert(name.clone(), budgets(&src, t)?);
        }
        for (name, a) in limits.agents.iter().flatten() {
            let mut tools = BTreeMap::new();
            for (tool, t) in a.tools.iter().flatten() {
                tools.insert(tool.clone(), budgets(&src, t)?);
            }
            let own = budgets(&src, &a.own())?;
            layer
                .limits
                .agents
                .insert(name.clone(), AgentLimits { own, tools });
        }
    }
    for (name, p) in raw.agents.iter().flatten() {
        let patterns = |list: &Option<Vec<Spanned<String>>>| {
            list.iter()
                .flatten()
                .map(|s| {
                    ToolPattern::parse(s.get_ref())
                        .map_err(|e| src.invalid(Some(s.span()), e.to_string()))
                })
                .collect::<Result<Vec<_>, _>>()
        };
        let policy = ToolPolicy {
            allow: patterns(&p.allow_tools)?,
            deny: patterns(&p.deny_tools)?,
        };
        layer.policies.insert(name.clone(), policy);
    }
    for up in raw.upstream.iter().flatten() {
        let name = UpstreamName::parse(up.name.get_ref())
            .map_err(|e| src.invalid(Some(up.name.span()), e.to_string()))?;
        if layer.upstreams.iter().any(|u| u.name == name) {
            return Err(src.invalid(
                Some(up.name.span()),
                format!("a second [[upstream]] is named \"{name}\"; names must be unique"),
            ));
        }
        if up.command.get_ref().trim().is_empty() {
            return Err(src.invalid(Some(up.command.span()), "command is empty"));
        }
        layer.upstreams.push(UpstreamConfig {
            name,
            command: up.command.get_ref().clone(),
            args: up.args.clone().unwrap_or_default(),
            env: up.env.clone().unwrap_or_default(),
            cwd: up.cwd.as_ref().map(PathBuf::from),
        });
    }
    Ok(layer)
}

/// A number that must lie in `min..=max`.
fn bounded(
    src: &Source<'_>,
    value: &Option<Spanned<u64>>,
    min: u64,
    max: u64,
) -> Result<Option<u64>, ConfigError> {
    let Some(v) = value else { return Ok(None) };
    let n = *v.get_ref();
    if n < min || n > max {
        return Err(src.invalid(
            Some(v.span()),
            format!("{n} is out of range: use a number from {min} to {max}"),
        ));
    }
    Ok(Some(n))
}

/// The one place where numbers from the file become budgets.
fn budgets(src: &Source<'_>, raw: &RawLimits) -> Result<PeriodBudgets, ConfigError> {
    let mut out = PeriodBudgets::default();
    let fields = [
        (Period::Second, &raw.per_second),
        (Period::Minute, &raw.per_minute),
        (Period::Hour, &raw.per_hour),
        (Period::Day, &raw.per_day),
    ];
    for (period, value) in fields {
        let Some(v) = value else { continue };
        let n = u32::try_from(*v.get_ref()).ok().and_then(NonZeroU32::new);
        let n = n.ok_or_else(|| {
            src.invalid(
                Some(v.span()),
                format!(
                    "{} must be a whole number from 1 to {}; to stop an agent calling a tool, \
                     use deny_tools in [agents.\"NAME\"]",
                    period.config_key(),
                    u32::MAX
                ),
            )
        })?;
        out.set(period, n);
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
