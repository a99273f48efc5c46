//! `[oauth]` and `[secrets]`: the OAuth clients the user brings for GitHub
//! and Google, their endpoints (configurable, so tests and GitHub Enterprise
//! can point elsewhere), scopes, and which keychain holds the tokens.
//! Checked once here: URLs parse, and plain `http` is only allowed to this machine.

use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;
use url::Url;

use super::error::{ConfigError, Source};
use crate::secrets::{Choice, StoreKind};
use crate::telemetry::Redacted;

/// `[oauth.github]` / `[oauth.google]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProvider {
    /// The OAuth client id (public).
    pub client_id: Option<Spanned<String>>,
    /// The client secret, where the provider requires one.
    pub client_secret: Option<Spanned<String>>,
    /// The authorization endpoint (the browser goes there).
    pub authorize_url: Option<Spanned<String>>,
    /// The token endpoint.
    pub token_url: Option<Spanned<String>>,
    /// The device authorization endpoint (GitHub's device flow).
    pub device_url: Option<Spanned<String>>,
    /// The revocation endpoint (RFC 7009), if the provider has one.
    pub revoke_url: Option<Spanned<String>>,
    /// The REST API the tools call.
    pub api_base_url: Option<Spanned<String>>,
    /// The scopes asked for.
    pub scopes: Option<Vec<Spanned<String>>>,
    /// A fixed loopback port for the redirect (0: a random free port).
    pub redirect_port: Option<Spanned<u64>>,
}

/// `[oauth]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOAuth {
    /// Refresh an access token when it has less than this left.
    pub refresh_before_seconds: Option<Spanned<u64>>,
    /// How long `gatehouse connect` waits for the browser.
    pub callback_timeout_seconds: Option<Spanned<u64>>,
    /// `[oauth.github]`
    pub github: Option<RawProvider>,
    /// `[oauth.google]`
    pub google: Option<RawProvider>,
}

/// `[secrets]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSecrets {
    /// `auto`, `secret-service`, `keyutils`, `macos-keychain` or `windows-credential-manager`.
    pub store: Option<Spanned<String>>,
}

/// One provider's OAuth client and endpoints, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderConfig {
    /// The OAuth client id; `None` until the user configures one.
    pub client_id: Option<String>,
    /// The client secret, where the provider requires one.
    pub client_secret: Option<Redacted<String>>,
    /// The authorization endpoint.
    pub authorize_url: Url,
    /// The token endpoint.
    pub token_url: Url,
    /// The device authorization endpoint, for providers with a device flow.
    pub device_url: Option<Url>,
    /// The RFC 7009 revocation endpoint, if any.
    pub revoke_url: Option<Url>,
    /// The REST API base the tools call.
    pub api_base_url: Url,
    /// The scopes asked for.
    pub scopes: Vec<String>,
    /// The loopback redirect port; 0 picks a random free one.
    pub redirect_port: u16,
}

/// `[oauth]`, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuthConfig {
    /// Refresh an access token when it has less than this left.
    pub refresh_before: Duration,
    /// How long `gatehouse connect` waits for the browser (or device approval).
    pub callback_timeout: Duration,
    /// GitHub.
    pub github: ProviderConfig,
    /// Google (Gmail).
    pub google: ProviderConfig,
}

/// One layer's `[oauth]` and `[secrets]`, checked but not yet layered.
#[derive(Default)]
pub struct OAuthLayer {
    refresh_before: Option<Duration>,
    callback_timeout: Option<Duration>,
    github: ProviderLayer,
    google: ProviderLayer,
    secrets: Option<Choice>,
}

#[derive(Default)]
struct ProviderLayer {
    client_id: Option<String>,
    client_secret: Option<Redacted<String>>,
    authorize_url: Option<Url>,
    token_url: Option<Url>,
    device_url: Option<Url>,
    revoke_url: Option<Url>,
    api_base_url: Option<Url>,
    scopes: Option<Vec<String>>,
    redirect_port: Option<u16>,
}

/// A URL Gatehouse may send tokens to: `https`, or `http` to this machine only.
fn url(src: &Source<'_>, v: &Option<Spanned<String>>) -> Result<Option<Url>, ConfigError> {
    let Some(v) = v else { return Ok(None) };
    let bad = |why: &str| src.invalid(Some(v.span()), why.to_string());
    let u = Url::parse(v.get_ref()).map_err(|e| bad(&format!("not a URL: {e}")))?;
    let local = matches!(
        u.host_str(),
        Some("127.0.0.1" | "localhost" | "[::1]" | "::1")
    );
    match u.scheme() {
        "https" => Ok(Some(u)),
        "http" if local => Ok(Some(u)),
        _ => Err(bad(
            "use an https:// URL (plain http:// only to 127.0.0.1 or localhost): tokens travel on it",
        )),
    }
}

fn text(src: &Source<'_>, v: &Option<Spanned<String>>) -> Result<Option<String>, ConfigError> {
    let Some(v) = v else { return Ok(None) };
    let s = v.get_ref().trim();
    if s.is_empty() {
        return Err(src.invalid(Some(v.span()), "must not be empty"));
    }
    Ok(Some(s.to_string()))
}

fn provider(src: &Source<'_>, raw: &Option<RawProvider>) -> Result<ProviderLayer, ConfigError> {
    let Some(p) = raw else {
        return Ok(ProviderLayer::default());
    };
    let scopes = match &p.scopes {
        None => None,
        Some(list) => {
            let mut out = Vec::new();
            for s in list {
                let v = s.get_ref();
                if v.is_empty() || v.chars().any(|c| c.is_whitespace()) {
                    return Err(src.invalid(
                        Some(s.span()),
                        "a scope is one word without spaces; list each separately",
                    ));
                }
                out.push(v.clone());
            }
            Some(out)
        }
    };
    let redirect_port = match &p.redirect_port {
        None => None,
        Some(v) => Some(
            u16::try_from(*v.get_ref())
                .map_err(|_| src.invalid(Some(v.span()), "use a port from 0 (random) to 65535"))?,
        ),
    };
    Ok(ProviderLayer {
        client_id: text(src, &p.client_id)?,
        client_secret: text(src, &p.client_secret)?.map(Redacted::new),
        authorize_url: url(src, &p.authorize_url)?,
        token_url: url(src, &p.token_url)?,
        device_url: url(src, &p.device_url)?,
        revoke_url: url(src, &p.revoke_url)?,
        api_base_url: url(src, &p.api_base_url)?,
        scopes,
        redirect_port,
    })
}

fn seconds(
    src: &Source<'_>,
    v: &Option<Spanned<u64>>,
    min: u64,
    max: u64,
) -> Result<Option<Duration>, ConfigError> {
    let Some(v) = v else { return Ok(None) };
    let n = *v.get_ref();
    if n < min || n > max {
        return Err(src.invalid(
            Some(v.span()),
            format!("{n} is out of range: use a number from {min} to {max}"),
        ));
    }
    Ok(Some(Duration::from_secs(n)))
}

/// Checks one layer's `[oauth]` and `[secrets]`.
pub fn parse(
    src: &Source<'_>,
    oauth: &Option<RawOAuth>,
    secrets: &Option<RawSecrets>,
) -> Result<OAuthLayer, ConfigError> {
    let mut layer = OAuthLayer::default();
    if let Some(o) = oauth {
        layer.refresh_before = seconds(src, &o.refresh_before_seconds, 0, 86_400)?;
        layer.callback_timeout = seconds(src, &o.callback_timeout_seconds, 5, 3_600)?;
        layer.github = provider(src, &o.github)?;
        layer.google = provider(src, &o.google)?;
    }
    if let Some(store) = secrets.as_ref().and_then(|s| s.store.as_ref()) {
        let name = store.get_ref().as_str();
        layer.secrets = Some(match name {
            "auto" => Choice::Auto,
            _ => match StoreKind::parse(name).filter(|k| *k != StoreKind::Mock) {
                Some(k) => Choice::Only(k),
                None => {
                    return Err(src.invalid(
                        Some(store.span()),
                        "use \"auto\", \"secret-service\", \"keyutils\", \"macos-keychain\" or \
                         \"windows-credential-manager\" (there is no plaintext store, on purpose)",
                    ));
                }
            },
        });
    }
    Ok(layer)
}

fn merge_provider(d: ProviderLayer, f: ProviderLayer) -> ProviderConfig {
    let fallback = || Url::parse("https://invalid.example/").expect("a valid URL");
    ProviderConfig {
        client_id: f.client_id.or(d.client_id),
        client_secret: f.client_secret.or(d.client_secret),
        authorize_url: f.authorize_url.or(d.authorize_url).unwrap_or_else(fallback),
        token_url: f.token_url.or(d.token_url).unwrap_or_else(fallback),
        device_url: f.device_url.or(d.device_url),
        revoke_url: f.revoke_url.or(d.revoke_url),
        api_base_url: f.api_base_url.or(d.api_base_url).unwrap_or_else(fallback),
        scopes: f.scopes.or(d.scopes).unwrap_or_default(),
        redirect_port: f.redirect_port.or(d.redirect_port).unwrap_or(0),
    }
}

/// The file's `[oauth]`/`[secrets]` over the defaults', key by key.
pub fn merge(d: OAuthLayer, f: OAuthLayer) -> (OAuthConfig, Choice) {
    let oauth = OAuthConfig {
        refresh_before: f
            .refresh_before
            .or(d.refresh_before)
            .unwrap_or(Duration::from_secs(300)),
        callback_timeout: f
            .callback_timeout
            .or(d.callback_timeout)
            .unwrap_or(Duration::from_secs(300)),
        github: merge_provider(d.github, f.github),
        google: merge_provider(d.google, f.google),
    };
    (oauth, f.secrets.or(d.secrets).unwrap_or_default())
}
