//! OAuth2 for the GitHub and Gmail tools: the authorization code flow with
//! PKCE (S256) and a loopback redirect on 127.0.0.1 (RFC 8252), GitHub's
//! device flow, refresh before expiry behind a lease so rotating refresh
//! tokens are spent by exactly one process, revocation, and the connection
//! records. Tokens go to the OS keychain (`secrets`) and nowhere else.

mod accounts;
mod authorize;
mod device;
mod endpoint;
mod error;
mod loopback;
mod refresh;
mod tokens;
mod view;

use std::fmt;

pub use accounts::{Accounts, ClientOverride, Flow, Progress};
pub use endpoint::{TraceHeaders, reqwest_reason};
pub use error::{AccessError, OAuthError};
pub use refresh::AccessToken;
pub use tokens::Tokens;
pub use view::{ConnectionView, Disconnected};

use crate::config::{OAuthConfig, ProviderConfig};

/// An account Gatehouse can connect.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Provider {
    /// GitHub: the `github__*` tools.
    GitHub,
    /// Google: the `gmail__*` tools.
    Google,
}

impl Provider {
    /// Every provider.
    pub const ALL: [Provider; 2] = [Provider::GitHub, Provider::Google];

    /// `github` or `google`: in the CLI, config and database.
    pub fn name(self) -> &'static str {
        match self {
            Provider::GitHub => "github",
            Provider::Google => "google",
        }
    }

    /// The provider called `name` (`gmail` is accepted for Google).
    pub fn parse(name: &str) -> Option<Provider> {
        match name.to_ascii_lowercase().as_str() {
            "github" => Some(Provider::GitHub),
            "google" | "gmail" => Some(Provider::Google),
            _ => None,
        }
    }

    /// For sentences: `GitHub`, `Google`.
    pub fn title(self) -> &'static str {
        match self {
            Provider::GitHub => "GitHub",
            Provider::Google => "Google",
        }
    }

    /// The prefix of this provider's tools: `github`, `gmail`.
    pub fn tool_prefix(self) -> &'static str {
        match self {
            Provider::GitHub => "github",
            Provider::Google => "gmail",
        }
    }

    /// This provider's settings in `config`.
    pub fn config(self, config: &OAuthConfig) -> &ProviderConfig {
        match self {
            Provider::GitHub => &config.github,
            Provider::Google => &config.google,
        }
    }

    /// Extra authorization parameters the provider needs: Google only
    /// issues a refresh token with `access_type=offline`, and only on consent.
    fn extra_authorize_params(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Provider::GitHub => &[],
            Provider::Google => &[("access_type", "offline"), ("prompt", "consent")],
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
