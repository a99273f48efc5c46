//! `UiError`: what the window sees when a command fails: one sentence saying
//! what is wrong and how to fix it, never a value we hold (no token, no
//! argument). One variant per src-core module the commands call.

use gatehouse::agents::AgentsError;
use gatehouse::config::ConfigError;
use gatehouse::config::edit::EditError;
use gatehouse::oauth::OAuthError;
use gatehouse::secrets::SecretsError;
use gatehouse::store::StoreError;
use gatehouse::telemetry::trace_tree::TraceReadError;
use serde::{Serialize, Serializer};

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum UiError {
    /// The database can't be opened or read.
    #[error("{0}. {fix}", fix = database_fix(.0))]
    Database(StoreError),
    /// The config file is broken.
    #[error(
        "The config file is broken: {0}. Fix that line (docs/configuration.md lists every key); the app reads the file again on its own."
    )]
    Config(ConfigError),
    /// An agent operation failed.
    #[error("{0}")]
    Agents(#[from] AgentsError),
    /// A budget could not be written to the config file.
    #[error("{0}")]
    Edit(#[from] EditError),
    /// Connecting or disconnecting an account failed.
    #[error("{}", oauth_message(.0))]
    OAuth(OAuthError),
    /// The keychain can't be used.
    #[error("{}", sentence(&.0.to_string()))]
    Keychain(#[from] SecretsError),
    /// The span files can't be read.
    #[error("{0}")]
    Trace(#[from] TraceReadError),
    /// The window asked for something that doesn't exist or makes no sense.
    #[error("{0}")]
    BadRequest(String),
}

impl From<OAuthError> for UiError {
    fn from(e: OAuthError) -> Self {
        match e {
            OAuthError::Store(s) => UiError::Database(s),
            OAuthError::Secrets(s) => UiError::Keychain(s),
            other => UiError::OAuth(other),
        }
    }
}

/// `text` with a capital first letter.
fn sentence(text: &str) -> String {
    let mut c = text.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// The library's message, worded for the window where the CLI's wording
/// (flags, "run `gatehouse connect`") would not help.
fn oauth_message(e: &OAuthError) -> String {
    match e {
        OAuthError::NotConfigured { provider } => format!(
            "No OAuth client id for {title}: set client_id under [oauth.{name}] in config.toml \
             (docs/configuration.md says how to create an OAuth client); this window reads the file again on its own",
            title = provider.title(),
            name = provider.name()
        ),
        OAuthError::NoDeviceFlow { provider } => format!(
            "{} has no device flow configured: set device_url under [oauth.{}] in config.toml, or sign in with the browser",
            provider.title(),
            provider.name()
        ),
        OAuthError::NotConnected { provider } => {
            format!("{} is not connected (any more); refresh the page", provider.title())
        }
        OAuthError::StateMismatch => "The browser came back with a sign-in this window did not start (a stale tab?); nothing was stored: connect again".into(),
        OAuthError::MissingCode => "The browser came back without an authorization code; nothing was stored: connect again".into(),
        OAuthError::TimedOut { waited } => format!(
            "No answer from the browser (or the device approval) within {} s; nothing was stored: connect again \
             ([oauth] callback_timeout_seconds sets how long to wait)",
            waited.as_secs()
        ),
        other => sentence(&other.to_string()),
    }
}

impl From<StoreError> for UiError {
    fn from(e: StoreError) -> Self {
        UiError::Database(e)
    }
}

/// How to fix a database problem, in a sentence.
fn database_fix(e: &StoreError) -> &'static str {
    match e {
        StoreError::Corrupt(_) => {
            "Close the AI clients using Gatehouse and move the file away (Gatehouse creates a new, empty one); this window picks it up by itself"
        }
        StoreError::Open { .. } | StoreError::Unwritable(_) => {
            "Check that the folder exists and is writable and the disk is not full, or set GATEHOUSE_HOME to a writable folder; `gatehouse doctor` checks it all"
        }
        StoreError::Busy(_) => "Another process holds it; this usually passes in a moment",
        StoreError::TooNew { .. } => "Install the newer Gatehouse that wrote it",
        StoreError::NoSuchAgent(_) | StoreError::AgentExists(_) => "Refresh the list",
        StoreError::Other(_) => "Run `gatehouse doctor` to see what is wrong",
    }
}

impl UiError {
    /// Whether the database handle should be dropped and opened again next time.
    pub fn is_database_failure(&self) -> bool {
        let store = match self {
            UiError::Database(e) => e,
            UiError::Agents(AgentsError::Store(e)) => e,
            _ => return false,
        };
        !matches!(
            store,
            StoreError::NoSuchAgent(_) | StoreError::AgentExists(_) | StoreError::Busy(_)
        )
    }
}

impl Serialize for UiError {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_damaged_database_says_how_to_recover() {
        let e = UiError::Database(StoreError::Corrupt("file is not a database".into()));
        let text = serde_json::to_string(&e).unwrap();
        assert!(
            text.contains("damaged") && text.contains("move the file away"),
            "{text}"
        );
        assert!(e.is_database_failure());
        let missing = UiError::Agents(AgentsError::Store(StoreError::NoSuchAgent("x".into())));
        assert!(!missing.is_database_failure());
    }
}
