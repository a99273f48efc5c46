//! `Accounts`: connecting, listing and disconnecting GitHub and Google, as
//! a library the CLI and the tray both call. `connect` hands out the URL (or
//! device code) through a progress callback and returns the stored
//! connection; tokens (with the account's login or email) go to the
//! keychain first and the metadata row second, so a failure leaves nothing
//! half-stored.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use super::endpoint::{self, Creds};
use super::tokens::{Granted, Tokens};
use super::view::{AccountLabel, ConnectionView, Disconnected};
use super::{OAuthError, Provider, authorize, device};
use crate::clock::{SharedClock, UnixMillis};
use crate::config::OAuthConfig;
use crate::secrets::{Secrets, StoreKind};
use crate::store::{ConnectionRow, ConnectionState, Store, StoreError};
use crate::telemetry::Redacted;

/// How the user signs in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// Authorization code + PKCE, with a browser and a loopback redirect.
    Browser,
    /// GitHub's device flow: a code to enter on another device.
    Device,
}

/// A client id/secret given for one `connect` (e.g. on the command line),
/// over the config file's.
#[derive(Clone, Debug, Default)]
pub struct ClientOverride {
    /// The client id.
    pub client_id: Option<String>,
    /// The client secret; kept in the keychain with the tokens for refreshes.
    pub client_secret: Option<Redacted<String>>,
}

/// What a `connect` is doing, for the CLI or tray to show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Progress {
    /// Open this URL in a browser; the redirect comes back to `redirect`.
    OpenBrowser {
        /// The authorization URL.
        url: String,
        /// The loopback redirect URL Gatehouse listens on.
        redirect: String,
    },
    /// Enter `user_code` at `verification_uri` (device flow).
    DeviceCode {
        /// Where to enter the code.
        verification_uri: String,
        /// The code.
        user_code: String,
        /// How long the code is valid.
        expires_in: Duration,
    },
    /// The browser came back; exchanging the code for tokens.
    Exchanging,
    /// Tokens are in the keychain and the connection is recorded.
    Saved,
}

/// Tokens in process memory: (keychain entry, generation, tokens).
pub(super) type Cached = (String, i64, Tokens);

/// The accounts Gatehouse holds tokens for. Cheap to clone.
#[derive(Clone)]
pub struct Accounts {
    pub(super) store: Store,
    pub(super) secrets: Secrets,
    pub(super) config: Arc<OAuthConfig>,
    pub(super) clock: SharedClock,
    pub(super) http: reqwest::Client,
    /// Tokens read from the keychain, by provider, with the keychain entry and
    /// generation they belong to (a reconnect starts a new entry at generation 0).
    pub(super) cache: Arc<Mutex<HashMap<Provider, Cached>>>,
}

impl std::fmt::Debug for Accounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Accounts")
            .field("secrets", &self.secrets)
            .finish()
    }
}

pub(super) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Other(format!("internal error: {e}")))?
}

fn random_hex(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    getrandom::fill(&mut b).expect("the OS has a random source");
    hex::encode(b)
}

impl Accounts {
    /// Accounts kept in `store` (metadata) and `secrets` (tokens).
    pub fn new(
        store: Store,
        secrets: Secrets,
        config: Arc<OAuthConfig>,
        clock: SharedClock,
    ) -> Self {
        Self {
            store,
            secrets,
            config,
            clock,
            http: endpoint::http_client(),
            cache: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// The settings these accounts use.
    pub fn config(&self) -> &OAuthConfig {
        &self.config
    }

    /// The HTTP client for API calls (no redirects, bounded timeouts).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Now, by the clock these accounts were given.
    pub fn now(&self) -> UnixMillis {
        self.clock.now()
    }

    /// The keychain.
    pub fn secrets(&self) -> &Secrets {
        &self.secrets
    }

    pub(super) fn creds(
        &self,
        provider: Provider,
        client_id: &str,
        secret: Option<Redacted<String>>,
    ) -> Creds {
        let cfg = provider.config(&self.config);
        Creds {
            client_id: client_id.to_string(),
            client_secret: secret.or_else(|| cfg.client_secret.clone()),
            token_url: cfg.token_url.clone(),
            revoke_url: cfg.revoke_url.clone(),
        }
    }

    pub(super) fn forget(&self, provider: Provider) {
        self.cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&provider);
    }

    /// Providers with a connection (usable or waiting to be reconnected): their tools are listed.
    pub async fn listed(&self) -> Result<Vec<Provider>, StoreError> {
        let store = self.store.clone();
        let rows = blocking(move || store.connections()).await?;
        Ok(rows
            .iter()
            .filter_map(|r| Provider::parse(&r.provider))
            .collect())
    }

    /// Every connection, with its account's label from the keychain.
    pub async fn list(&self) -> Result<Vec<ConnectionView>, OAuthError> {
        let store = self.store.clone();
        let rows = blocking(move || store.connections()).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            out.push(ConnectionView::new(row, self.account_label(row).await));
        }
        Ok(out)
    }

    /// The login or email kept with `row`'s tokens, or why it can't be read.
    async fn account_label(&self, row: &ConnectionRow) -> AccountLabel {
        let Some(kind) = StoreKind::parse(&row.secret_store) else {
            return Err(format!(
                "its tokens are in a keychain this Gatehouse doesn't know ({})",
                row.secret_store
            ));
        };
        let record = self.secrets.get(kind, &row.secret_key).await.map_err(|e| {
            format!("the account name is kept in the keychain with the tokens, and {e}")
        })?;
        let Some(record) = record else {
            return Err("the keychain holds no tokens for it any more; connect again".into());
        };
        let tokens = Tokens::from_record(&record).map_err(|e| e.to_string())?;
        Ok(tokens.account.map(Redacted::into_inner))
    }

    /// Signs in to `provider` and stores the connection. The keychain is
    /// checked first, so a locked or absent one fails before the browser opens.
    pub async fn connect(
        &self,
        provider: Provider,
        flow: Flow,
        over: ClientOverride,
        progress: &(dyn Fn(Progress) + Send + Sync),
    ) -> Result<ConnectionView, OAuthError> {
        let cfg = provider.config(&self.config).clone();
        let client_id = over
            .client_id
            .clone()
            .or_else(|| cfg.client_id.clone())
            .ok_or(OAuthError::NotConfigured { provider })?;
        let kind = self.secrets.check().await?;
        let creds = self.creds(provider, &client_id, over.client_secret.clone());
        let timeout = self.config.callback_timeout;
        let granted = match flow {
            Flow::Browser => {
                authorize::run(&self.http, provider, &cfg, &creds, timeout, progress).await?
            }
            Flow::Device => {
                device::run(&self.http, provider, &cfg, &creds, timeout, progress).await?
            }
        };
        let account = self.account_name(provider, &granted.tokens.access).await;
        let row = self
            .save(
                provider,
                kind,
                &client_id,
                &cfg.scopes,
                granted,
                over.client_secret,
                account.clone(),
            )
            .await?;
        progress(Progress::Saved);
        Ok(ConnectionView::new(&row, Ok(account)))
    }

    #[allow(clippy::too_many_arguments)]
    async fn save(
        &self,
        provider: Provider,
        kind: StoreKind,
        client_id: &str,
        asked: &[String],
        granted: Granted,
        client_secret: Option<Redacted<String>>,
        account: Option<String>,
    ) -> Result<ConnectionRow, OAuthError> {
        let now = self.clock.now();
        let mut tokens = granted.tokens;
        tokens.client_secret = client_secret;
        // Personal data: it goes to the keychain with the tokens, not to the database.
        tokens.account = account.map(Redacted::new);
        let key = format!("{}/{}", provider.name(), random_hex(12));
        self.secrets.put(kind, &key, tokens.to_record()).await?;
        let row = ConnectionRow {
            provider: provider.name().into(),
            client_id: client_id.to_string(),
            scopes: granted.scopes.unwrap_or_else(|| asked.to_vec()),
            expires: granted
                .expires_in
                .map(|d| now.plus(i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 2))),
            refreshable: tokens.refresh.is_some(),
            state: ConnectionState::Connected,
            state_reason: None,
            secret_store: kind.name().into(),
            secret_key: key.clone(),
            generation: 0,
            connected: now,
            refreshed: None,
        };
        let store = self.store.clone();
        let to_save = row.clone();
        let old = match blocking(move || store.save_connection(&to_save)).await {
            Ok(old) => old,
            Err(e) => {
                let _ = self.secrets.delete(kind, &key).await;
                return Err(e.into());
            }
        };
        self.forget(provider);
        if let Some(old) = old.filter(|o| o.secret_key != key)
            && let Some(old_kind) = StoreKind::parse(&old.secret_store)
            && let Err(e) = self.secrets.delete(old_kind, &old.secret_key).await
        {
            tracing::warn!(error = %e, provider = provider.name(), "the previous connection's keychain entry could not be deleted");
        }
        Ok(row)
    }

    /// The account's login (GitHub) or email (Google), for the user to see
    /// which account is connected. Best effort: the connection works without it.
    async fn account_name(&self, provider: Provider, token: &Redacted<String>) -> Option<String> {
        let base = &provider.config(&self.config).api_base_url;
        let (path, field) = match provider {
            Provider::GitHub => ("user", "login"),
            Provider::Google => ("gmail/v1/users/me/profile", "emailAddress"),
        };
        let url = crate::tools::api::join(base, path).ok()?;
        let resp = self
            .http
            .get(url)
            .bearer_auth(token.expose())
            .header("Accept", "application/json")
            .send()
            .await
            .ok()?;
        if !resp.status().is_success() {
            tracing::warn!(
                status = resp.status().as_u16(),
                provider = provider.name(),
                "could not read the connected account's name"
            );
            return None;
        }
        let v: Value = resp.json().await.ok()?;
        v.get(field)?
            .as_str()
            .map(|s| crate::telemetry::redact::truncate(s, 200))
    }

    /// Revokes the grant at the provider where it can, deletes the keychain
    /// entry and the connection. A keychain that can't be reached keeps the
    /// connection (so nothing is orphaned) and says so.
    pub async fn disconnect(&self, provider: Provider) -> Result<Disconnected, OAuthError> {
        let store = self.store.clone();
        let name = provider.name();
        let row = blocking(move || store.connection(name))
            .await?
            .ok_or(OAuthError::NotConnected { provider })?;
        let kind = StoreKind::parse(&row.secret_store);
        let tokens = match kind {
            Some(k) => self
                .secrets
                .get(k, &row.secret_key)
                .await?
                .and_then(|r| Tokens::from_record(&r).ok()),
            None => None,
        };
        let creds = self.creds(
            provider,
            &row.client_id,
            tokens.as_ref().and_then(|t| t.client_secret.clone()),
        );
        let (revoked, revocation) = match (&tokens, &creds.revoke_url) {
            (None, _) => (
                false,
                "no tokens were left in the keychain to revoke".to_string(),
            ),
            (Some(_), None) => (
                false,
                format!(
                    "{} has no revocation endpoint configured; to end the grant at {} too, remove the app's access in your account settings",
                    provider.title(),
                    provider.title()
                ),
            ),
            (Some(t), Some(_)) => match endpoint::revoke(&self.http, &creds, t).await {
                Ok(()) => (true, format!("{} revoked the grant", provider.title())),
                Err(f) => (
                    false,
                    format!(
                        "{}'s revocation endpoint {}",
                        provider.title(),
                        f.describe()
                    ),
                ),
            },
        };
        if let Some(k) = kind {
            self.secrets.delete(k, &row.secret_key).await?;
        }
        let store = self.store.clone();
        blocking(move || store.delete_connection(name)).await?;
        self.forget(provider);
        Ok(Disconnected {
            provider: name.into(),
            revoked,
            revocation,
            keychain_deleted: kind.is_some(),
        })
    }
}
