//! OTLP/HTTP export, configured by the standard `OTEL_EXPORTER_OTLP_*`
//! variables (read from the environment map passed in): `_ENDPOINT` (the
//! base URL; `/v1/traces` and `/v1/metrics` are appended) or the per-signal
//! `_TRACES_ENDPOINT`/`_METRICS_ENDPOINT` (used as they are), `_PROTOCOL`
//! (`http/protobuf`, the default, or `http/json`), `_HEADERS`, `_TIMEOUT`.
//! Nothing is exported unless an endpoint is set. Requests go out through a
//! small blocking HTTP client (ureq), from the export threads only.

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use opentelemetry_http::{HttpClient, HttpError};
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};

use crate::home::EnvMap;

/// Why the OTLP variables can't be used. `serve` then runs without export
/// and says why on stderr: telemetry is no guardrail, and a client whose
/// server won't start has no guardrails at all.
#[derive(Debug, thiserror::Error)]
pub enum OtlpError {
    /// A protocol other than the two HTTP ones.
    #[error("{var}={value} is not supported: use http/protobuf (the default) or http/json")]
    Protocol {
        /// The variable.
        var: &'static str,
        /// Its value.
        value: String,
    },
    /// An endpoint that is no http(s) URL.
    #[error("{var} must be an http:// or https:// URL, got {value:?}")]
    Endpoint {
        /// The variable.
        var: &'static str,
        /// Its value.
        value: String,
    },
    /// A number that isn't one.
    #[error("{var} must be a whole number of milliseconds, got {value:?}")]
    Number {
        /// The variable.
        var: &'static str,
        /// Its value.
        value: String,
    },
    /// The exporter could not be built.
    #[error("the OTLP exporter could not be built: {0}")]
    Build(String),
}

/// Where and how to export, from the environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OtlpSettings {
    /// Full URL spans are POSTed to.
    pub traces_endpoint: Option<String>,
    /// Full URL metrics are POSTed to (none when only a traces endpoint is set).
    pub metrics_endpoint: Option<String>,
    /// Payload encoding.
    pub json: bool,
    /// Extra request headers (API keys of hosted collectors: never logged).
    pub headers: HashMap<String, String>,
    /// How long one export may take.
    pub timeout: Duration,
    /// How often metrics are exported (`OTEL_METRIC_EXPORT_INTERVAL`, default 60 s).
    pub metric_interval: Duration,
}

fn var<'a>(env: &'a EnvMap, name: &str) -> Option<&'a str> {
    env.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
}

fn url(var_name: &'static str, value: &str) -> Result<String, OtlpError> {
    if (value.starts_with("http://") || value.starts_with("https://"))
        && value.parse::<http::Uri>().is_ok()
    {
        Ok(value.to_string())
    } else {
        Err(OtlpError::Endpoint {
            var: var_name,
            value: value.to_string(),
        })
    }
}

fn millis(env: &EnvMap, name: &'static str, default: u64) -> Result<Duration, OtlpError> {
    match var(env, name) {
        None => Ok(Duration::from_millis(default)),
        Some(v) => v
            .parse::<u64>()
            .map(Duration::from_millis)
            .map_err(|_| OtlpError::Number {
                var: name,
                value: v.to_string(),
            }),
    }
}

/// `k1=v1,k2=v2`, values percent-decoded, as the OTLP exporter spec says.
fn headers(text: &str, out: &mut HashMap<String, String>) {
    for pair in text.split(',') {
        if let Some((k, v)) = pair.split_once('=') {
            let (k, v) = (k.trim(), v.trim());
            if !k.is_empty() {
                out.insert(k.to_string(), percent_decode(v));
            }
        }
    }
}

fn percent_decode(s: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16);
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (
            bytes[i],
            bytes.get(i + 1).and_then(|&b| hex(b)),
            bytes.get(i + 2).and_then(|&b| hex(b)),
        ) {
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl OtlpSettings {
    /// The settings in `env`; `Ok(None)` when no endpoint is set (or
    /// `OTEL_SDK_DISABLED=true`): nothing is exported.
    pub fn from_env(env: &EnvMap) -> Result<Option<OtlpSettings>, OtlpError> {
        if var(env, "OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
            return Ok(None);
        }
        let base = var(env, "OTEL_EXPORTER_OTLP_ENDPOINT")
            .map(|v| url("OTEL_EXPORTER_OTLP_ENDPOINT", v))
            .transpose()?;
        let signal = |name: &'static str, path: &str| -> Result<Option<String>, OtlpError> {
            match var(env, name) {
                Some(v) => url(name, v).map(Some),
                None => Ok(base
                    .as_ref()
                    .map(|b| format!("{}/{path}", b.trim_end_matches('/')))),
            }
        };
        let traces_endpoint = signal("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "v1/traces")?;
        let metrics_endpoint = signal("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "v1/metrics")?;
        if traces_endpoint.is_none() && metrics_endpoint.is_none() {
            return Ok(None);
        }
        let (pvar, protocol) = match var(env, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") {
            Some(p) => ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", p),
            None => (
                "OTEL_EXPORTER_OTLP_PROTOCOL",
                var(env, "OTEL_EXPORTER_OTLP_PROTOCOL").unwrap_or("http/protobuf"),
            ),
        };
        let json = match protocol {
            "http/protobuf" => false,
            "http/json" => true,
            other => {
                return Err(OtlpError::Protocol {
                    var: pvar,
                    value: other.to_string(),
                });
            }
        };
        let mut h = HashMap::new();
        for name in [
            "OTEL_EXPORTER_OTLP_HEADERS",
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
        ] {
            if let Some(v) = var(env, name) {
                headers(v, &mut h);
            }
        }
        Ok(Some(OtlpSettings {
            traces_endpoint,
            metrics_endpoint,
            json,
            headers: h,
            timeout: millis(env, "OTEL_EXPORTER_OTLP_TIMEOUT", 10_000)?,
            metric_interval: millis(env, "OTEL_METRIC_EXPORT_INTERVAL", 60_000)?,
        }))
    }

    fn protocol(&self) -> Protocol {
        if self.json {
            Protocol::HttpJson
        } else {
            Protocol::HttpBinary
        }
    }

    fn client(&self) -> UreqClient {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(self.timeout))
            .build();
        UreqClient(ureq::Agent::new_with_config(config))
    }

    /// The span exporter, when a traces endpoint is set.
    pub fn span_exporter(&self) -> Result<Option<opentelemetry_otlp::SpanExporter>, OtlpError> {
        let Some(endpoint) = &self.traces_endpoint else {
            return Ok(None);
        };
        opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_http_client(self.client())
            .with_endpoint(endpoint.clone())
            .with_protocol(self.protocol())
            .with_timeout(self.timeout)
            .with_headers(self.headers.clone())
            .build()
            .map(Some)
            .map_err(|e| OtlpError::Build(e.to_string()))
    }

    /// The metric exporter, when a metrics endpoint is set.
    pub fn metric_exporter(&self) -> Result<Option<opentelemetry_otlp::MetricExporter>, OtlpError> {
        let Some(endpoint) = &self.metrics_endpoint else {
            return Ok(None);
        };
        opentelemetry_otlp::MetricExporter::builder()
            .with_http()
            .with_http_client(self.client())
            .with_endpoint(endpoint.clone())
            .with_protocol(self.protocol())
            .with_timeout(self.timeout)
            .with_headers(self.headers.clone())
            .build()
            .map(Some)
            .map_err(|e| OtlpError::Build(e.to_string()))
    }
}

/// The HTTP client of the OTLP exporters: blocking, used from export threads only.
#[derive(Debug)]
struct UreqClient(ureq::Agent);

/// Longest response body read from a collector.
const MAX_RESPONSE: u64 = 1 << 20;

#[async_trait::async_trait]
impl HttpClient for UreqClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let (parts, body) = request.into_parts();
        let response = self.0.run(Request::from_parts(parts, body.to_vec()))?;
        let (parts, mut body) = response.into_parts();
        let bytes = body.with_config().limit(MAX_RESPONSE).read_to_vec()?;
        Ok(Response::from_parts(parts, Bytes::from(bytes)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::home::env_of as env;

    #[test]
    fn nothing_is_exported_without_an_endpoint() {
        assert_eq!(OtlpSettings::from_env(&env(&[])).unwrap(), None);
        let disabled = env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"),
            ("OTEL_SDK_DISABLED", "true"),
        ]);
        assert_eq!(OtlpSettings::from_env(&disabled).unwrap(), None);
    }

    #[test]
    fn the_base_endpoint_gets_signal_paths_and_a_signal_endpoint_is_used_as_is() {
        let s = OtlpSettings::from_env(&env(&[(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "http://127.0.0.1:4318/",
        )]))
        .unwrap()
        .unwrap();
        assert_eq!(
            s.traces_endpoint.as_deref(),
            Some("http://127.0.0.1:4318/v1/traces")
        );
        assert_eq!(
            s.metrics_endpoint.as_deref(),
            Some("http://127.0.0.1:4318/v1/metrics")
        );
        assert!(!s.json);
        assert_eq!(s.timeout, Duration::from_secs(10));
        let s = OtlpSettings::from_env(&env(&[
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "https://otel.example/t",
            ),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "api-key=a%20b, x=1"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(s.traces_endpoint.as_deref(), Some("https://otel.example/t"));
        assert_eq!(s.metrics_endpoint, None);
        assert!(s.json);
        assert_eq!(s.headers["api-key"], "a b");
        assert_eq!(s.headers["x"], "1");
    }

    #[test]
    fn bad_values_are_clear_errors() {
        let grpc = env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ]);
        let e = OtlpSettings::from_env(&grpc).unwrap_err().to_string();
        assert!(e.contains("grpc") && e.contains("http/protobuf"), "{e}");
        let e = OtlpSettings::from_env(&env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "localhost:4318")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("http://"), "{e}");
    }
}
