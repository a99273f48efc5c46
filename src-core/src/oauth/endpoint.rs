//! Talking to a token endpoint with the `oauth2` crate over `reqwest`
//! (rustls, redirects off, bounded timeouts): exchanging a code, refreshing,
//! revoking. Failures are sorted into what the caller must do, and no
//! response body ever reaches an error message (it may hold tokens); only
//! the OAuth `error` code and description are kept.

use std::time::Duration;

use oauth2::basic::{BasicClient, BasicErrorResponse, BasicTokenResponse};
use oauth2::{
    AuthType, AuthorizationCode, ClientId, ClientSecret, ErrorResponse, HttpClientError,
    PkceCodeVerifier, RedirectUrl, RefreshToken, RequestTokenError, TokenResponse, TokenUrl,
};
use serde_json::Value;
use url::Url;

use super::tokens::{Granted, Tokens};
use crate::telemetry::Redacted;

/// The longest one request (a token refresh, an API call) may take.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The HTTP client every OAuth and API request uses: no redirects (a token
/// must never follow one to another host), rustls, bounded timeouts.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10))
        .timeout(REQUEST_TIMEOUT)
        .user_agent(concat!("gatehouse/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("a TLS backend is compiled in")
}

/// The OAuth client a flow or refresh speaks as.
#[derive(Clone, Debug)]
pub struct Creds {
    /// The client id.
    pub client_id: String,
    /// The client secret, where the provider requires one.
    pub client_secret: Option<Redacted<String>>,
    /// The token endpoint.
    pub token_url: Url,
    /// The revocation endpoint, if any.
    pub revoke_url: Option<Url>,
}

impl Creds {
    fn client(
        &self,
    ) -> BasicClient<
        oauth2::EndpointNotSet,
        oauth2::EndpointNotSet,
        oauth2::EndpointNotSet,
        oauth2::EndpointNotSet,
        oauth2::EndpointSet,
    > {
        let mut c = BasicClient::new(ClientId::new(self.client_id.clone()))
            .set_token_uri(TokenUrl::from_url(self.token_url.clone()))
            // Client credentials in the form body: GitHub, Google and RFC 6749 all accept it.
            .set_auth_type(AuthType::RequestBody);
        if let Some(s) = &self.client_secret {
            c = c.set_client_secret(ClientSecret::new(s.expose().clone()));
        }
        c
    }
}

/// How a token request failed.
#[derive(Debug)]
pub enum Failure {
    /// The endpoint answered with an OAuth error (`invalid_grant`, ...).
    Rejected {
        /// The OAuth `error` code.
        error: String,
        /// Its `error_description`.
        description: Option<String>,
    },
    /// The endpoint answered something that is no token response.
    Garbage {
        /// What was wrong, without the body.
        what: String,
    },
    /// The endpoint could not be reached, or answered an HTTP error without an OAuth error.
    Unreachable {
        /// What failed.
        reason: String,
        /// The HTTP status, when there was an answer.
        status: Option<u16>,
    },
}

impl Failure {
    /// Whether this means the grant itself (code or refresh token) is dead.
    pub fn grant_rejected(&self) -> bool {
        matches!(self, Failure::Rejected { error, .. }
            if matches!(error.as_str(), "invalid_grant" | "bad_refresh_token" | "bad_verification_code" | "unauthorized_client"))
    }

    /// A phrase for messages: `answered invalid_grant (…)`.
    pub fn describe(&self) -> String {
        match self {
            Failure::Rejected { error, description } => match description {
                Some(d) => format!("answered {error} ({d})"),
                None => format!("answered {error}"),
            },
            Failure::Garbage { what } => what.clone(),
            Failure::Unreachable { reason, .. } => format!("could not be reached: {reason}"),
        }
    }
}

/// The `error` and `error_description` of a JSON body, trimmed: all that is kept of a body.
fn oauth_error(body: &[u8]) -> Option<(String, Option<String>)> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let clean = |s: &str| crate::telemetry::redact::truncate(&crate::telemetry::pii::scrub(s), 200);
    let error = v.get("error")?.as_str()?;
    let description = v
        .get("error_description")
        .and_then(Value::as_str)
        .map(clean);
    Some((clean(error), description))
}

type TokenError<TE> = RequestTokenError<HttpClientError<reqwest::Error>, TE>;

fn failure<TE: ErrorResponse + 'static>(e: TokenError<TE>) -> Failure {
    match e {
        RequestTokenError::ServerResponse(r) => {
            // BasicErrorResponse serialises to {"error": ..., "error_description": ...}.
            let body = serde_json::to_vec(&r).unwrap_or_default();
            match oauth_error(&body) {
                Some((error, description)) => Failure::Rejected { error, description },
                None => Failure::Garbage {
                    what: "answered an error it did not explain".into(),
                },
            }
        }
        // GitHub answers errors with HTTP 200 and an `error` field: read it, keep nothing else.
        RequestTokenError::Parse(_, body) => match oauth_error(&body) {
            Some((error, description)) => Failure::Rejected { error, description },
            None => Failure::Garbage {
                what: "answered with something that is not an OAuth token response".into(),
            },
        },
        RequestTokenError::Request(e) => Failure::Unreachable {
            reason: match &e {
                HttpClientError::Reqwest(r) => reqwest_reason(r),
                other => other.to_string(),
            },
            status: None,
        },
        RequestTokenError::Other(what) => Failure::Garbage {
            what: format!(
                "answered unexpectedly: {}",
                crate::telemetry::redact::truncate(&what, 200)
            ),
        },
    }
}

/// A reqwest error in a sentence, without the URL's query (which never holds a token here, but may hold other values).
pub fn reqwest_reason(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    let mut msg = kind.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg = format!("{msg}: {s}");
        src = s.source();
    }
    crate::telemetry::redact::truncate(&msg, 300)
}

fn granted(
    r: &BasicTokenResponse,
    keep_refresh: Option<&Redacted<String>>,
    secret: Option<Redacted<String>>,
) -> Granted {
    Granted {
        tokens: Tokens {
            access: Redacted::new(r.access_token().secret().clone()),
            // A provider that does not rotate refresh tokens (Google) sends none back: keep ours.
            refresh: r
                .refresh_token()
                .map(|t| Redacted::new(t.secret().clone()))
                .or_else(|| keep_refresh.cloned()),
            client_secret: secret,
            account: None,
        },
        expires_in: r.expires_in(),
        // GitHub separates granted scopes with commas, RFC 6749 with spaces.
        scopes: r.scopes().map(|s| {
            s.iter()
                .flat_map(|s| s.split(','))
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        }),
    }
}

fn checked(r: BasicTokenResponse) -> Result<BasicTokenResponse, Failure> {
    if r.access_token().secret().trim().is_empty() {
        return Err(Failure::Garbage {
            what: "answered with an empty access token".into(),
        });
    }
    Ok(r)
}

/// Exchanges an authorization code (with its PKCE verifier) for tokens.
pub async fn exchange_code(
    http: &reqwest::Client,
    creds: &Creds,
    redirect: &Url,
    code: Redacted<String>,
    verifier: PkceCodeVerifier,
) -> Result<Granted, Failure> {
    let r = creds
        .client()
        .set_redirect_uri(RedirectUrl::from_url(redirect.clone()))
        .exchange_code(AuthorizationCode::new(code.into_inner()))
        .set_pkce_verifier(verifier)
        .request_async(http)
        .await
        .map_err(failure::<BasicErrorResponse>)
        .and_then(checked)?;
    Ok(granted(&r, None, None))
}

/// W3C trace context to send with a request: `traceparent` and maybe `tracestate`.
pub type TraceHeaders = Option<(String, Option<String>)>;

/// The reqwest client, adding the trace headers to each request `oauth2` makes.
struct Traced<'a> {
    http: &'a reqwest::Client,
    trace: &'a TraceHeaders,
}

impl<'c> oauth2::AsyncHttpClient<'c> for Traced<'_> {
    type Error = HttpClientError<reqwest::Error>;
    type Future = <reqwest::Client as oauth2::AsyncHttpClient<'c>>::Future;

    fn call(&'c self, mut req: oauth2::HttpRequest) -> Self::Future {
        if let Some((parent, state)) = self.trace {
            let headers = req.headers_mut();
            if let Ok(v) = oauth2::http::HeaderValue::from_str(parent) {
                headers.insert("traceparent", v);
            }
            if let Some(v) = state
                .as_deref()
                .and_then(|s| oauth2::http::HeaderValue::from_str(s).ok())
            {
                headers.insert("tracestate", v);
            }
        }
        self.http.call(req)
    }
}

/// Spends `tokens.refresh` for new tokens; the request carries `trace`.
pub async fn refresh(
    http: &reqwest::Client,
    creds: &Creds,
    tokens: &Tokens,
    trace: &TraceHeaders,
) -> Result<Granted, Failure> {
    let Some(rt) = &tokens.refresh else {
        return Err(Failure::Rejected {
            error: "no_refresh_token".into(),
            description: Some("the provider issued no refresh token".into()),
        });
    };
    // The call that needed the refresh: its trace context goes along, as on every request.
    let traced = Traced { http, trace };
    let r = creds
        .client()
        .exchange_refresh_token(&RefreshToken::new(rt.expose().clone()))
        .request_async(&traced)
        .await
        .map_err(failure::<BasicErrorResponse>)
        .and_then(checked)?;
    let mut g = granted(&r, Some(rt), tokens.client_secret.clone());
    // The account's label lives in the same keychain entry: keep it.
    g.tokens.account = tokens.account.clone();
    Ok(g)
}

/// Revokes `tokens` at the provider's RFC 7009 endpoint: the refresh token
/// (which ends the grant) when there is one, else the access token. Written
/// by hand because the `oauth2` crate refuses non-https revocation URLs,
/// and `http://127.0.0.1` is how tests (and local providers) are reached.
pub async fn revoke(http: &reqwest::Client, creds: &Creds, tokens: &Tokens) -> Result<(), Failure> {
    let Some(url) = &creds.revoke_url else {
        return Err(Failure::Unreachable {
            reason: "no revocation endpoint is configured".into(),
            status: None,
        });
    };
    let (token, hint) = match &tokens.refresh {
        Some(r) => (r, "refresh_token"),
        None => (&tokens.access, "access_token"),
    };
    let mut form = vec![
        ("token", token.expose().as_str()),
        ("token_type_hint", hint),
        ("client_id", creds.client_id.as_str()),
    ];
    if let Some(s) = &creds.client_secret {
        form.push(("client_secret", s.expose().as_str()));
    }
    let resp = http
        .post(url.clone())
        .header("Accept", "application/json")
        .form(&form)
        .send()
        .await
        .map_err(|e| Failure::Unreachable {
            reason: reqwest_reason(&e),
            status: None,
        })?;
    let status = resp.status().as_u16();
    if resp.status().is_success() {
        return Ok(());
    }
    let body = resp.bytes().await.unwrap_or_default();
    Err(match oauth_error(&body) {
        Some((error, description)) => Failure::Rejected { error, description },
        None => Failure::Unreachable {
            reason: format!("HTTP {status}"),
            status: Some(status),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_error_code_and_description_of_a_body_are_kept() {
        let body = br#"{"error":"bad_refresh_token","error_description":"The refresh token passed is incorrect","refresh_token":"ghr_x"}"#;
        let (e, d) = oauth_error(body).unwrap();
        assert_eq!(e, "bad_refresh_token");
        assert_eq!(d.as_deref(), Some("The refresh token passed is incorrect"));
        assert!(oauth_error(b"<html>").is_none());
        assert!(oauth_error(br#"{"access_token":"x"}"#).is_none());
    }

    #[test]
    fn rejected_grants_are_told_apart_from_other_failures() {
        let f = |e: &str| Failure::Rejected {
            error: e.into(),
            description: None,
        };
        assert!(f("invalid_grant").grant_rejected());
        assert!(f("bad_refresh_token").grant_rejected());
        assert!(!f("temporarily_unavailable").grant_rejected());
        assert!(
            !Failure::Unreachable {
                reason: "x".into(),
                status: Some(503)
            }
            .grant_rejected()
        );
    }
}
