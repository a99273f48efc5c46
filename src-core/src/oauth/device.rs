//! GitHub's device flow (RFC 8628 as GitHub implements it), for machines
//! without a browser: ask for a device code, show the user the code and the
//! page to enter it on, poll the token endpoint at the interval given
//! (slowing down when told), until approval, refusal, expiry or our timeout.
//! GitHub answers pending polls with HTTP 200 and an `error` field, so the
//! polling is written here rather than left to the `oauth2` crate, which
//! expects RFC 8628's HTTP 400.

use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;
use tokio::time::Instant;

use super::endpoint::{Creds, reqwest_reason};
use super::tokens::{Granted, Tokens};
use super::{OAuthError, Progress, Provider};
use crate::config::ProviderConfig;
use crate::telemetry::Redacted;

#[derive(Deserialize)]
struct DeviceCode {
    device_code: String,
    user_code: String,
    verification_uri: String,
    expires_in: u64,
    #[serde(default)]
    interval: Option<u64>,
}

fn unreachable(provider: Provider, endpoint: &'static str, e: &reqwest::Error) -> OAuthError {
    OAuthError::Unreachable {
        provider,
        endpoint,
        reason: reqwest_reason(e),
    }
}

/// Runs the device flow; `progress` gets the code to show.
pub async fn run(
    http: &reqwest::Client,
    provider: Provider,
    cfg: &ProviderConfig,
    creds: &Creds,
    timeout: Duration,
    progress: &(dyn Fn(Progress) + Send + Sync),
) -> Result<Granted, OAuthError> {
    let Some(device_url) = &cfg.device_url else {
        return Err(OAuthError::NoDeviceFlow { provider });
    };
    let scope = cfg.scopes.join(" ");
    let resp = http
        .post(device_url.clone())
        .header("Accept", "application/json")
        .form(&[
            ("client_id", creds.client_id.as_str()),
            ("scope", scope.as_str()),
        ])
        .send()
        .await
        .map_err(|e| unreachable(provider, "device endpoint", &e))?;
    let status = resp.status().as_u16();
    let body = resp
        .bytes()
        .await
        .map_err(|e| unreachable(provider, "device endpoint", &e))?;
    let code: DeviceCode = serde_json::from_slice(&body).map_err(|_| {
        let what = match error_of(&body) {
            Some((e, _)) => format!("answered HTTP {status} {e} to the device code request"),
            None => format!("answered HTTP {status} with something that is not a device code"),
        };
        OAuthError::TokenEndpoint { provider, what }
    })?;
    progress(Progress::DeviceCode {
        verification_uri: code.verification_uri.clone(),
        user_code: code.user_code.clone(),
        expires_in: Duration::from_secs(code.expires_in),
    });
    let waited = timeout.min(Duration::from_secs(code.expires_in));
    let deadline = Instant::now() + waited;
    let mut interval = Duration::from_secs(code.interval.unwrap_or(5).max(1));
    let device_code = Redacted::new(code.device_code);
    loop {
        if Instant::now() + interval > deadline {
            return Err(OAuthError::TimedOut { waited });
        }
        tokio::time::sleep(interval).await;
        let mut form = vec![
            ("client_id", creds.client_id.clone()),
            ("device_code", device_code.expose().clone()),
            (
                "grant_type",
                "urn:ietf:params:oauth:grant-type:device_code".to_string(),
            ),
        ];
        if let Some(s) = &creds.client_secret {
            form.push(("client_secret", s.expose().clone()));
        }
        let resp = http
            .post(creds.token_url.clone())
            .header("Accept", "application/json")
            .form(&form)
            .send()
            .await
            .map_err(|e| unreachable(provider, "token endpoint", &e))?;
        let status = resp.status().as_u16();
        let body = resp
            .bytes()
            .await
            .map_err(|e| unreachable(provider, "token endpoint", &e))?;
        if let Some((error, description)) = error_of(&body) {
            match error.as_str() {
                "authorization_pending" => continue,
                "slow_down" => {
                    // GitHub sends the new interval; RFC 8628 says add 5 s.
                    let given = serde_json::from_slice::<Value>(&body)
                        .ok()
                        .and_then(|v| v.get("interval").and_then(Value::as_u64));
                    interval = given.map_or(interval + Duration::from_secs(5), Duration::from_secs);
                    continue;
                }
                "expired_token" => return Err(OAuthError::TimedOut { waited }),
                _ => {
                    return Err(OAuthError::Refused {
                        provider,
                        error,
                        description,
                    });
                }
            }
        }
        return granted(&body).ok_or_else(|| OAuthError::TokenEndpoint {
            provider,
            what: format!(
                "answered HTTP {status} with something that is not an OAuth token response"
            ),
        });
    }
}

/// `error` and `error_description` of a JSON body (the rest is never kept).
fn error_of(body: &[u8]) -> Option<(String, Option<String>)> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let clean = |s: &str| crate::telemetry::redact::truncate(&crate::telemetry::pii::scrub(s), 200);
    let e = v.get("error")?.as_str()?;
    Some((
        clean(e),
        v.get("error_description")
            .and_then(Value::as_str)
            .map(clean),
    ))
}

fn granted(body: &[u8]) -> Option<Granted> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let s = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    Some(Granted {
        tokens: Tokens {
            access: Redacted::new(s("access_token")?),
            refresh: s("refresh_token").map(Redacted::new),
            client_secret: None,
            account: None,
        },
        expires_in: v
            .get("expires_in")
            .and_then(Value::as_u64)
            .map(Duration::from_secs),
        scopes: s("scope").map(|sc| {
            sc.split([' ', ','])
                .filter(|x| !x.is_empty())
                .map(str::to_string)
                .collect()
        }),
    })
}
