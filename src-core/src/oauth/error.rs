//! Errors of the OAuth flows and of getting a usable access token. Every
//! message is a sentence a user can act on, and none holds a token, a code
//! or a response body (a token endpoint's body may hold tokens).

use std::time::Duration;

use super::Provider;
use crate::secrets::SecretsError;
use crate::store::StoreError;

/// Why connecting, refreshing or disconnecting failed.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// No client id configured.
    #[error(
        "no OAuth client id for {}: set [oauth.{}] client_id in config.toml or pass --client-id (see docs/configuration.md)",
        provider.title(), provider.name()
    )]
    NotConfigured {
        /// The provider.
        provider: Provider,
    },
    /// The provider has no device flow configured.
    #[error("{} has no device flow here: set [oauth.{}] device_url, or connect without --device", provider.title(), provider.name())]
    NoDeviceFlow {
        /// The provider.
        provider: Provider,
    },
    /// The loopback listener could not start.
    #[error(
        "cannot listen on 127.0.0.1:{port} for the browser's redirect: {reason} (another program may use the port; \
         set redirect_port = 0 for a random free port)"
    )]
    Listen {
        /// The port asked for (0: random).
        port: u16,
        /// What the OS said.
        reason: String,
    },
    /// The callback's `state` did not match the one sent.
    #[error(
        "the browser came back with a `state` this sign-in did not send, so it was not started by this \
         `gatehouse connect` (a stale tab, or a forged request); nothing was stored: run `gatehouse connect` again"
    )]
    StateMismatch,
    /// The callback carried no code.
    #[error(
        "the browser came back without an authorization code; nothing was stored: run `gatehouse connect` again"
    )]
    MissingCode,
    /// The provider (or the user) refused the authorization.
    #[error("{} refused the authorization: {error}{}; nothing was stored", provider.title(), describe(description))]
    Refused {
        /// The provider.
        provider: Provider,
        /// The OAuth `error` code, e.g. `access_denied`.
        error: String,
        /// The `error_description`, if any.
        description: Option<String>,
    },
    /// Nobody finished the sign-in in time.
    #[error("no answer from the browser (or the device approval) within {} s; nothing was stored: run `gatehouse connect` again", waited.as_secs())]
    TimedOut {
        /// How long we waited.
        waited: Duration,
    },
    /// The token endpoint refused or answered nonsense.
    #[error("{}'s token endpoint {what}; nothing was stored", provider.title())]
    TokenEndpoint {
        /// The provider.
        provider: Provider,
        /// What went wrong, e.g. `answered HTTP 200 with something that is not an OAuth token response`.
        what: String,
    },
    /// The token endpoint could not be reached.
    #[error("cannot reach {}'s {endpoint}: {reason}", provider.title())]
    Unreachable {
        /// The provider.
        provider: Provider,
        /// Which endpoint.
        endpoint: &'static str,
        /// What failed.
        reason: String,
    },
    /// The keychain could not be used.
    #[error(transparent)]
    Secrets(#[from] SecretsError),
    /// The database could not be used.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// There is no connection to this provider.
    #[error("{} is not connected; run `gatehouse connect {}`", provider.title(), provider.name())]
    NotConnected {
        /// The provider.
        provider: Provider,
    },
}

fn describe(d: &Option<String>) -> String {
    d.as_deref().map(|d| format!(" ({d})")).unwrap_or_default()
}

/// Why a tool can't get an access token right now.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// The account is not connected (any more).
    #[error("{} is not connected", provider.title())]
    NotConnected {
        /// The provider.
        provider: Provider,
    },
    /// The provider rejected the refresh token, or the tokens are gone.
    #[error("the {} connection needs to be reconnected ({reason})", provider.title())]
    NeedsReconnect {
        /// The provider.
        provider: Provider,
        /// Why (an OAuth error code or a sentence; no secret).
        reason: String,
    },
    /// The keychain could not be used.
    #[error(transparent)]
    Keychain(#[from] SecretsError),
    /// The database could not be used.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The refresh failed for a reason that may pass (network, 5xx).
    #[error("refreshing the {} token failed: {reason}", provider.title())]
    RefreshFailed {
        /// The provider.
        provider: Provider,
        /// What failed.
        reason: String,
        /// The HTTP status the token endpoint answered, if it answered.
        status: Option<u16>,
    },
    /// Another process is refreshing and did not finish in time.
    #[error("another Gatehouse process is refreshing the {} token and has not finished", provider.title())]
    Busy {
        /// The provider.
        provider: Provider,
    },
}
