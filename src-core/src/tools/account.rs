//! Running a GitHub or Gmail tool: get a usable access token (refreshed
//! behind the lease when due), call the API with the call's trace context,
//! and when the API says 401 refresh once and retry. Token problems become
//! guard refusals (`denied` with `not_connected` or `reconnect_required`; a
//! locked keychain is a retryable `system_error`), HTTP errors `upstream_error`.

use rmcp::model::{CallToolResult, ContentBlock, JsonObject, RequestMetaObject};
use serde_json::Value;

use super::api::Api;
use super::github::Failure;
use super::{github, gmail};
use crate::guard::{DenyReason, Outcome, Refusal};
use crate::oauth::{AccessError, Accounts, Provider};
use crate::upstream::UpstreamError;

/// The outcome a token problem gives the call.
pub fn refusal(e: AccessError) -> Outcome {
    match e {
        AccessError::NotConnected { provider } => {
            Outcome::Refused(Refusal::Denied(DenyReason::NotConnected {
                provider: provider.name().into(),
            }))
        }
        AccessError::NeedsReconnect { provider, reason } => {
            Outcome::Refused(Refusal::Denied(DenyReason::ReconnectRequired {
                provider: provider.name().into(),
                why: reason,
            }))
        }
        AccessError::Keychain(e) => Outcome::Refused(Refusal::KeychainUnavailable(e.to_string())),
        AccessError::Store(e) => Outcome::Refused(Refusal::from(e)),
        AccessError::RefreshFailed {
            provider,
            reason,
            status,
        } => Outcome::UpstreamFailed(UpstreamError::Http {
            upstream: provider.tool_prefix().into(),
            status: status.unwrap_or(502),
            message: format!("refreshing the {} token failed: {reason}", provider.title()),
            retry_after_ms: Some(2000),
        }),
        AccessError::Busy { provider } => Outcome::UpstreamFailed(UpstreamError::Unavailable {
            upstream: provider.tool_prefix().into(),
            reason: "another Gatehouse process is refreshing its token".into(),
            retry_after_ms: Some(1000),
        }),
    }
}

fn done(value: Value) -> Outcome {
    let mut r = CallToolResult::success(vec![ContentBlock::text(value.to_string())]);
    r.structured_content = Some(value);
    Outcome::Done(r)
}

/// Runs `provider`'s tool `local` with `args`, passing `trace` on as HTTP headers.
pub async fn run(
    accounts: &Accounts,
    provider: Provider,
    local: &str,
    args: JsonObject,
    trace: &RequestMetaObject,
) -> Outcome {
    let args = Value::Object(args);
    let base = provider.config(accounts.config()).api_base_url.clone();
    let trace_headers = trace
        .get_traceparent()
        .map(|p| (p.to_string(), trace.get_tracestate().map(str::to_string)));
    let mut stale = None;
    loop {
        let token = match accounts.access_token(provider, stale, &trace_headers).await {
            Ok(t) => t,
            Err(e) => return refusal(e),
        };
        let api = Api {
            http: accounts.http(),
            provider,
            base: &base,
            token: &token.token,
            trace,
            now: accounts.now(),
        };
        let result = match provider {
            Provider::GitHub => github::run(&api, local, &args).await,
            Provider::Google => gmail::run(&api, local, &args).await,
        };
        match result {
            Ok(v) => return done(v),
            Err(Failure::BadParams(m)) => return Outcome::BadParams(m),
            // The token was refused before its time (revoked, or expired early): refresh once.
            Err(Failure::Api(f)) if f.status == 401 && stale.is_none() => {
                stale = Some(token.generation)
            }
            // Refused again with a fresh token: the grant is gone. Marked for
            // every process, so no later call asks the provider again.
            Err(Failure::Api(f)) if f.status == 401 => {
                return refusal(accounts.access_rejected(provider, token.generation).await);
            }
            Err(Failure::Api(f)) => return Outcome::UpstreamFailed(f.into_upstream(provider)),
        }
    }
}
