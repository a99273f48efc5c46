//! The connection views the CLI (`connections --json`, `disconnect --json`)
//! and the tray show: metadata from the database, the account's label from
//! the keychain entry. Never a token.

use serde::Serialize;

use super::Provider;
use crate::clock::UnixMillis;
use crate::store::ConnectionRow;

/// One connection as `connections --json` and the tray show it. Never a token.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ConnectionView {
    /// `github` or `google`.
    pub provider: String,
    /// The account's login or email, read from the keychain entry with the
    /// tokens; null when unknown or when the keychain can't be read (then
    /// `reason` says why).
    pub account: Option<String>,
    /// The scopes granted.
    pub scopes: Vec<String>,
    /// `connected` or `needs_reconnect`.
    pub state: String,
    /// Why it needs reconnecting; for a usable connection, why its account
    /// can't be shown (the keychain is locked, or holds no entry).
    pub reason: Option<String>,
    /// When the access token expires (RFC 3339); null: it does not.
    pub expires_at: Option<String>,
    /// Whether Gatehouse holds a refresh token.
    pub refreshable: bool,
    /// Which keychain holds the tokens.
    pub keychain: String,
    /// The prefix of the tools this connection enables (`github`, `gmail`).
    pub tools: String,
    /// When the user connected.
    pub connected_at: String,
    /// When the tokens were last refreshed.
    pub refreshed_at: Option<String>,
}

/// The account label of a connection as read from its keychain entry: the
/// label if any, or why the entry can't be read.
pub(super) type AccountLabel = Result<Option<String>, String>;

impl ConnectionView {
    pub(super) fn new(row: &ConnectionRow, account: AccountLabel) -> Self {
        let tools = Provider::parse(&row.provider).map_or("", Provider::tool_prefix);
        let (account, unreadable) = match account {
            Ok(a) => (a, None),
            Err(why) => (None, Some(why)),
        };
        Self {
            provider: row.provider.clone(),
            account,
            scopes: row.scopes.clone(),
            state: row.state.name().into(),
            reason: row.state_reason.clone().or(unreadable),
            expires_at: row.expires.map(UnixMillis::to_rfc3339),
            refreshable: row.refreshable,
            keychain: row.secret_store.clone(),
            tools: tools.into(),
            connected_at: row.connected.to_rfc3339(),
            refreshed_at: row.refreshed.map(UnixMillis::to_rfc3339),
        }
    }
}

/// What `disconnect` did.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Disconnected {
    /// `github` or `google`.
    pub provider: String,
    /// Whether the provider confirmed the revocation.
    pub revoked: bool,
    /// What happened at the provider, in a sentence.
    pub revocation: String,
    /// Whether the keychain entry was deleted.
    pub keychain_deleted: bool,
}
