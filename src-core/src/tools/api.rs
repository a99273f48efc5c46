//! The REST client the GitHub and Gmail tools share: the bearer token, the
//! call's `traceparent`/`tracestate`, JSON in and out, and one reading of
//! what an HTTP error means: its status, a short message, and when the
//! provider says a retry may succeed (`Retry-After`, or GitHub's
//! `x-ratelimit-remaining: 0` with `x-ratelimit-reset`).

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use rmcp::model::RequestMetaObject;
use serde_json::Value;
use url::Url;

use crate::clock::UnixMillis;
use crate::oauth::Provider;
use tracing::Instrument;

use crate::telemetry::{Redacted, spans};
use crate::upstream::UpstreamError;

/// `base` + `path`, keeping a base path (`https://host/api/v3` + `user`).
pub fn join(base: &Url, path: &str) -> Result<Url, url::ParseError> {
    let mut s = base.as_str().trim_end_matches('/').to_string();
    s.push('/');
    s.push_str(path.trim_start_matches('/'));
    Url::parse(&s)
}

/// A value that can't be one segment of an API path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} must not be empty, \".\" or \"..\" (it is one part of the API path)")]
pub struct BadSegment {
    /// The argument it came from (`owner`, `repo`, `id`).
    pub field: &'static str,
}

/// `value` (the argument `field`: an owner, a repo, a message id) as one
/// encoded path segment. `.`, `..` and empty values are refused: encoding
/// leaves them as they are, and they would move the request to another path
/// of the API host (`repos/../user`).
pub fn segment(field: &'static str, value: &str) -> Result<String, BadSegment> {
    if matches!(value, "" | "." | "..") {
        return Err(BadSegment { field });
    }
    Ok(url::form_urlencoded::byte_serialize(value.as_bytes())
        .collect::<String>()
        .replace('+', "%20"))
}

/// An API request that did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiFailure {
    /// The HTTP status (0: no answer).
    pub status: u16,
    /// What happened, in a short sentence (the provider's message, scrubbed).
    pub message: String,
    /// When the provider says a retry may succeed, in ms from now.
    pub retry_after_ms: Option<i64>,
}

impl ApiFailure {
    /// As the error contract's `upstream_error`.
    pub fn into_upstream(self, provider: Provider) -> UpstreamError {
        UpstreamError::Http {
            upstream: provider.tool_prefix().to_string(),
            status: self.status,
            message: self.message,
            retry_after_ms: self.retry_after_ms,
        }
    }
}

/// A client for one call: one provider, one token, one trace.
pub struct Api<'a> {
    /// The shared HTTP client (no redirects).
    pub http: &'a reqwest::Client,
    /// Whose API.
    pub provider: Provider,
    /// The API base URL from config.
    pub base: &'a Url,
    /// The bearer token.
    pub token: &'a Redacted<String>,
    /// The call's trace context (`traceparent`, `tracestate`).
    pub trace: &'a RequestMetaObject,
    /// Now, for turning a reset time into a wait.
    pub now: UnixMillis,
}

impl Api<'_> {
    /// `GET path?query`, parsed as JSON.
    pub async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<Value, ApiFailure> {
        self.send(Method::GET, path, query, None).await
    }

    /// `POST path` with a JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> Result<Value, ApiFailure> {
        self.send(Method::POST, path, &[], Some(body)).await
    }

    /// One request in its own CLIENT span, whose context the request carries.
    async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Value, ApiFailure> {
        let url = join(self.base, path).map_err(|e| ApiFailure {
            status: 0,
            message: format!("bad API URL: {e}"),
            retry_after_ms: None,
        })?;
        let span = spans::http_request(
            method.as_str(),
            self.provider.tool_prefix(),
            url.host_str().unwrap_or_default(),
        );
        let mut trace = self.trace.clone();
        spans::propagate_from(&span, &mut trace);
        let result = self
            .request(method, url, query, body, &trace)
            .instrument(span.clone())
            .await;
        match &result {
            Ok(_) => {}
            Err(f) if f.status == 0 => spans::fail(&span, "no_answer"),
            Err(f) => spans::fail(&span, &f.status.to_string()),
        }
        result
    }

    async fn request(
        &self,
        method: Method,
        url: Url,
        query: &[(&str, String)],
        body: Option<&Value>,
        trace: &RequestMetaObject,
    ) -> Result<Value, ApiFailure> {
        let mut req = self
            .http
            .request(method, url)
            .bearer_auth(self.token.expose())
            .query(query);
        req = match self.provider {
            Provider::GitHub => req
                .header("Accept", "application/vnd.github+json")
                .header("X-GitHub-Api-Version", "2022-11-28"),
            Provider::Google => req.header("Accept", "application/json"),
        };
        if let Some(tp) = trace.get_traceparent() {
            req = req.header("traceparent", tp);
        }
        if let Some(ts) = trace.get_tracestate() {
            req = req.header("tracestate", ts);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.map_err(|e| ApiFailure {
            status: 0,
            message: format!(
                "{} API could not be reached: {}",
                self.provider.title(),
                crate::oauth::reqwest_reason(&e)
            ),
            retry_after_ms: None,
        })?;
        let status = resp.status();
        // The current span is this request's (see `send`).
        tracing::Span::current().record("http.response.status_code", status.as_u16());
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.map_err(|e| ApiFailure {
            status: status.as_u16(),
            message: format!(
                "the answer could not be read: {}",
                crate::oauth::reqwest_reason(&e)
            ),
            retry_after_ms: None,
        })?;
        if status.is_success() {
            if bytes.is_empty() {
                return Ok(Value::Null);
            }
            return serde_json::from_slice(&bytes).map_err(|_| ApiFailure {
                status: 502,
                message: format!(
                    "{} answered with something that is not JSON",
                    self.provider.title()
                ),
                retry_after_ms: None,
            });
        }
        Err(failure(self.provider, status, &headers, &bytes, self.now))
    }
}

/// Reads an error answer: status, the provider's message, and the retry time it gives.
pub fn failure(
    provider: Provider,
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    now: UnixMillis,
) -> ApiFailure {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    // GitHub: {"message": ...}; Google: {"error": {"message": ...}}.
    let said = v
        .get("message")
        .or_else(|| v.get("error").and_then(|e| e.get("message")))
        .and_then(Value::as_str)
        .map(|m| crate::telemetry::redact::truncate(&crate::telemetry::pii::scrub(m), 200));
    let retry_after_ms = retry_after(headers, now);
    let limited = status == StatusCode::TOO_MANY_REQUESTS
        || (status == StatusCode::FORBIDDEN && retry_after_ms.is_some());
    let what = if limited {
        format!("{} rate limit reached", provider.title())
    } else {
        format!("{} API answered HTTP {}", provider.title(), status.as_u16())
    };
    ApiFailure {
        status: status.as_u16(),
        message: match said {
            Some(m) => format!("{what}: {m}"),
            None => what,
        },
        retry_after_ms,
    }
}

/// When the answer says to come back: `Retry-After` (seconds or an HTTP
/// date), else GitHub's `x-ratelimit-reset` (epoch seconds) when
/// `x-ratelimit-remaining` is 0. `None` when it says nothing.
pub fn retry_after(headers: &HeaderMap, now: UnixMillis) -> Option<i64> {
    let header = |k: &str| headers.get(k).and_then(|v| v.to_str().ok()).map(str::trim);
    if let Some(ra) = header("retry-after") {
        if let Ok(secs) = ra.parse::<i64>() {
            return Some(secs.max(0) * 1000);
        }
        if let Ok(t) =
            time::OffsetDateTime::parse(ra, &time::format_description::well_known::Rfc2822)
        {
            let ms = i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()?;
            return Some((ms - now.0).max(0));
        }
    }
    if header("x-ratelimit-remaining") == Some("0")
        && let Some(reset) = header("x-ratelimit-reset").and_then(|r| r.parse::<i64>().ok())
    {
        return Some((reset * 1000 - now.0).max(0));
    }
    None
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn retry_after_reads_seconds_dates_and_github_resets() {
        let now = UnixMillis(1_700_000_000_000);
        assert_eq!(
            retry_after(&headers(&[("retry-after", "30")]), now),
            Some(30_000)
        );
        assert_eq!(
            retry_after(
                &headers(&[("retry-after", "Tue, 14 Nov 2023 22:13:50 GMT")]),
                now
            ),
            Some(30_000)
        );
        let gh = headers(&[
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "1700000042"),
        ]);
        assert_eq!(retry_after(&gh, now), Some(42_000));
        let not_empty = headers(&[
            ("x-ratelimit-remaining", "12"),
            ("x-ratelimit-reset", "1700000042"),
        ]);
        assert_eq!(retry_after(&not_empty, now), None);
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }

    #[test]
    fn a_github_403_with_an_empty_budget_is_a_rate_limit_with_a_truthful_wait() {
        let now = UnixMillis(1_700_000_000_000);
        let h = headers(&[
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "1700000060"),
        ]);
        let f = failure(
            Provider::GitHub,
            StatusCode::FORBIDDEN,
            &h,
            br#"{"message":"API rate limit exceeded"}"#,
            now,
        );
        assert_eq!(f.status, 403);
        assert_eq!(f.retry_after_ms, Some(60_000));
        assert!(f.message.contains("rate limit"), "{}", f.message);
        let e = f.into_upstream(Provider::GitHub);
        assert!(e.retryable());
        assert_eq!(e.upstream_status(), 403);
    }

    #[test]
    fn urls_join_under_a_base_path_and_segments_are_escaped() {
        let base = Url::parse("https://ghe.example/api/v3/").unwrap();
        assert_eq!(
            join(&base, "/user").unwrap().as_str(),
            "https://ghe.example/api/v3/user"
        );
        assert_eq!(segment("owner", "a b/c").unwrap(), "a%20b%2Fc");
        assert_eq!(segment("id", "...").unwrap(), "...");
    }

    #[test]
    fn dot_segments_and_empty_ones_are_refused() {
        // `.` and `..` would re-route the request within the API host
        // (`repos/../user`), and an empty one would drop a path level.
        for bad in [".", "..", ""] {
            let e = segment("owner", bad).unwrap_err().to_string();
            assert!(e.contains("owner"), "{e}");
        }
        let base = Url::parse("https://api.github.com/").unwrap();
        let ok = format!("repos/{}/x/issues", segment("owner", ".x").unwrap());
        assert_eq!(
            join(&base, &ok).unwrap().as_str(),
            "https://api.github.com/repos/.x/x/issues"
        );
    }
}
