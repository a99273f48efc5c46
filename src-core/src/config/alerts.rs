//! `[alerts]` and `[traces]`: the thresholds of the four alerts, and whether
//! spans are written to local files. Raw values are checked here, once, and
//! layered over the embedded defaults key by key.

use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::ConfigError;
use super::error::Source;

/// `[traces]`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TracesConfig {
    /// Spans of every call go to `traces/` (OTLP JSON lines).
    pub local_files: bool,
}

/// `[alerts]`: when each alert fires. See `docs/configuration.md`.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertsConfig {
    /// Whether running `serve` processes evaluate alerts as calls are recorded.
    pub enabled: bool,
    /// A `serve` process evaluates at most this often.
    pub check_every: Duration,
    /// The recent window every rule looks at.
    pub window: Duration,
    /// The period before the window that rates and latencies are compared with.
    pub baseline: Duration,
    /// A tool has a baseline once it has this many calls in the baseline period...
    pub baseline_min_calls: u32,
    /// ...spread over at least this long.
    pub baseline_min_span: Duration,
    /// The error-rate rule needs this many calls of the tool in the window.
    pub error_min_calls: u32,
    /// The window's error rate must be at least this many times the baseline's...
    pub error_rate_factor: f64,
    /// ...and at least this many percentage points above it.
    pub error_rate_min_points: u32,
    /// The latency rule needs this many completed calls of the tool in the window.
    pub latency_min_calls: u32,
    /// The window's p99 must be at least this many times the baseline's p99...
    pub latency_factor: f64,
    /// ...and at least this much longer.
    pub latency_min_increase: Duration,
    /// A tool's budget refused at least this many calls in the window.
    pub budget_min_refusals: u32,
    /// At least this many auth failures from one source in the window...
    pub auth_min_failures: u32,
    /// ...and at least this many times what its baseline predicts.
    pub auth_factor: f64,
}

/// `[traces]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTraces {
    /// Write spans to `traces/`.
    pub local_files: Option<Spanned<bool>>,
}

/// `[alerts]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)] // each key is documented in docs/configuration.md and on AlertsConfig
pub struct RawAlerts {
    pub enabled: Option<Spanned<bool>>,
    pub check_every_seconds: Option<Spanned<u64>>,
    pub window_minutes: Option<Spanned<u64>>,
    pub baseline_hours: Option<Spanned<u64>>,
    pub baseline_min_calls: Option<Spanned<u64>>,
    pub baseline_min_hours: Option<Spanned<u64>>,
    pub error_min_calls: Option<Spanned<u64>>,
    pub error_rate_factor: Option<Spanned<f64>>,
    pub error_rate_min_points: Option<Spanned<u64>>,
    pub latency_min_calls: Option<Spanned<u64>>,
    pub latency_factor: Option<Spanned<f64>>,
    pub latency_min_increase_ms: Option<Spanned<u64>>,
    pub budget_min_refusals: Option<Spanned<u64>>,
    pub auth_min_failures: Option<Spanned<u64>>,
    pub auth_factor: Option<Spanned<f64>>,
}

/// One layer's checked `[traces]` and `[alerts]`, every key optional.
#[derive(Clone, Debug, Default)]
pub(crate) struct Layer {
    local_files: Option<bool>,
    enabled: Option<bool>,
    ints: [Option<u64>; 11],
    floats: [Option<f64>; 3],
}

/// The integer keys: name, minimum, maximum (the index is their slot in `Layer::ints`).
const INTS: [(&str, u64, u64); 11] = [
    ("check_every_seconds", 1, 3_600),
    ("window_minutes", 1, 1_440),
    ("baseline_hours", 1, 720),
    ("baseline_min_calls", 1, 10_000_000),
    ("baseline_min_hours", 0, 720),
    ("error_min_calls", 1, 10_000_000),
    ("error_rate_min_points", 0, 100),
    ("latency_min_calls", 1, 10_000_000),
    ("latency_min_increase_ms", 0, 3_600_000),
    ("budget_min_refusals", 1, 10_000_000),
    ("auth_min_failures", 1, 10_000_000),
];

/// The float keys: name, minimum, maximum.
const FLOATS: [(&str, f64, f64); 3] = [
    ("error_rate_factor", 1.0, 1_000.0),
    ("latency_factor", 1.0, 1_000.0),
    ("auth_factor", 1.0, 1_000.0),
];

impl Layer {
    /// Checks `[traces]` and `[alerts]` of one file.
    pub(crate) fn parse(
        src: &Source<'_>,
        traces: Option<&RawTraces>,
        alerts: Option<&RawAlerts>,
    ) -> Result<Layer, ConfigError> {
        let mut layer = Layer {
            local_files: traces
                .and_then(|t| t.local_files.as_ref())
                .map(|v| *v.get_ref()),
            ..Layer::default()
        };
        let Some(a) = alerts else { return Ok(layer) };
        layer.enabled = a.enabled.as_ref().map(|v| *v.get_ref());
        let ints = [
            &a.check_every_seconds,
            &a.window_minutes,
            &a.baseline_hours,
            &a.baseline_min_calls,
            &a.baseline_min_hours,
            &a.error_min_calls,
            &a.error_rate_min_points,
            &a.latency_min_calls,
            &a.latency_min_increase_ms,
            &a.budget_min_refusals,
            &a.auth_min_failures,
        ];
        for (i, (value, (_, min, max))) in ints.into_iter().zip(INTS).enumerate() {
            layer.ints[i] = super::bounded(src, value, min, max)?;
        }
        let floats = [&a.error_rate_factor, &a.latency_factor, &a.auth_factor];
        for (i, (value, (_, min, max))) in floats.into_iter().zip(FLOATS).enumerate() {
            let Some(v) = value else { continue };
            let n = *v.get_ref();
            if !(min..=max).contains(&n) {
                return Err(src.invalid(
                    Some(v.span()),
                    format!("{n} is out of range: use a number from {min} to {max}"),
                ));
            }
            layer.floats[i] = Some(n);
        }
        if let (Some(min_hours), Some(hours)) = (layer.ints[4], layer.ints[2])
            && min_hours > hours
            && let Some(v) = &a.baseline_min_hours
        {
            return Err(src.invalid(
                Some(v.span()),
                format!("{min_hours} is longer than baseline_hours ({hours})"),
            ));
        }
        Ok(layer)
    }

    /// `self` (the file) over `d` (the embedded defaults).
    pub(crate) fn over(&self, d: &Layer) -> (TracesConfig, AlertsConfig) {
        let int = |i: usize| self.ints[i].or(d.ints[i]).unwrap_or(INTS[i].1);
        let float = |i: usize| self.floats[i].or(d.floats[i]).unwrap_or(FLOATS[i].1);
        let count = |i: usize| int(i).min(u64::from(u32::MAX)) as u32;
        let traces = TracesConfig {
            local_files: self.local_files.or(d.local_files).unwrap_or(true),
        };
        let alerts = AlertsConfig {
            enabled: self.enabled.or(d.enabled).unwrap_or(true),
            check_every: Duration::from_secs(int(0)),
            window: Duration::from_secs(int(1) * 60),
            baseline: Duration::from_secs(int(2) * 3_600),
            baseline_min_calls: count(3),
            baseline_min_span: Duration::from_secs(int(4) * 3_600),
            error_min_calls: count(5),
            error_rate_factor: float(0),
            error_rate_min_points: count(6),
            latency_min_calls: count(7),
            latency_factor: float(1),
            latency_min_increase: Duration::from_millis(int(8)),
            budget_min_refusals: count(9),
            auth_min_failures: count(10),
            auth_factor: float(2),
        };
        (traces, alerts)
    }
}
