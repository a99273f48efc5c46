//! Getting a usable access token: from the process cache or the keychain
//! while it has more than `refresh_before_seconds` left, else refreshed.
//! A refresh runs behind a lease row (`oauth-refresh:<provider>`), so exactly
//! one process spends a rotating, single-use refresh token; the others wait
//! for the connection's `generation` to move and read the new tokens from
//! the keychain. A rejected refresh token marks the connection
//! `needs_reconnect` for every process at once. Inside the lease the tokens
//! are always read from the keychain (never the process cache): it is the
//! one place the last refresh wrote, even one whose row update failed.

use std::time::Duration;

use tokio::time::Instant;

use super::accounts::{Accounts, blocking};
use super::endpoint::{self, TraceHeaders};
use super::tokens::Tokens;
use super::{AccessError, Provider};
use crate::secrets::StoreKind;
use crate::store::{ConnectionRow, ConnectionState};
use crate::telemetry::Redacted;

/// A lease outlives the slowest refresh its holder can make (a keychain read
/// and write of up to 15 s each, the 30 s token request, three database
/// statements of up to 2 s: 66 s), so no other process takes it over
/// mid-refresh; a crashed holder blocks the others for at most this long.
const LEASE_TTL_MS: i64 = 90_000;
/// How long a call waits for another process's refresh before giving up.
const WAIT_FOR_OTHERS: Duration = Duration::from_secs(50);
/// How often a waiting process looks at the connection row.
const POLL: Duration = Duration::from_millis(100);

/// An access token and the generation of the connection it belongs to
/// (pass it back as `stale` when the API rejects the token).
#[derive(Clone, Debug)]
pub struct AccessToken {
    /// The bearer token.
    pub token: Redacted<String>,
    /// The connection generation it came from.
    pub generation: i64,
}

enum Step {
    Done(AccessToken),
    /// The row moved on while we took the lease: look again.
    Again,
}

impl Accounts {
    /// A usable access token for `provider`. `stale` is the generation of a
    /// token the API just rejected: that one is refreshed even if not due.
    /// `trace` is the calling request's trace context, sent with a refresh.
    pub async fn access_token(
        &self,
        provider: Provider,
        stale: Option<i64>,
        trace: &TraceHeaders,
    ) -> Result<AccessToken, AccessError> {
        let give_up = Instant::now() + WAIT_FOR_OTHERS;
        let margin = i64::try_from(self.config.refresh_before.as_millis()).unwrap_or(i64::MAX);
        loop {
            let row = self.row(provider).await?;
            let now = self.clock.now();
            let forced = stale == Some(row.generation);
            let due = row.expires.is_some_and(|e| e.0 - now.0 <= margin);
            let expired = row.expires.is_some_and(|e| e.0 <= now.0);
            if !forced && !due {
                return self.read(provider, &row).await;
            }
            if !row.refreshable {
                if !forced && !expired {
                    return self.read(provider, &row).await;
                }
                let why = if forced {
                    "the provider no longer accepts the access token, and there is no refresh token"
                } else {
                    "the access token expired, and there is no refresh token"
                };
                return Err(self.needs_reconnect(provider, &row, why).await);
            }
            let holder = format!("{}-{:x}", std::process::id(), rand_u64());
            let lease_name = format!("oauth-refresh:{}", provider.name());
            let store = self.store.clone();
            let lease =
                blocking(move || store.try_lease(&lease_name, &holder, now, LEASE_TTL_MS)).await?;
            match lease {
                Some(lease) => {
                    let step = self.refresh_holding(provider, &row, trace).await;
                    let store = self.store.clone();
                    if let Err(e) = blocking(move || store.release_lease(&lease)).await {
                        tracing::warn!(error = %e, "could not release the refresh lease; it expires by itself");
                    }
                    match step? {
                        Step::Done(t) => return Ok(t),
                        Step::Again => continue,
                    }
                }
                None => {
                    if Instant::now() >= give_up {
                        return Err(AccessError::Busy { provider });
                    }
                    // Another process is refreshing: wait for the row to move, then read its result.
                    let seen = row.generation;
                    while Instant::now() < give_up {
                        tokio::time::sleep(POLL).await;
                        let r = self.row(provider).await?;
                        if r.generation != seen || r.state != ConnectionState::Connected {
                            break;
                        }
                        // A holder that died leaves a lease that expires: then try to take it.
                        let store = self.store.clone();
                        let name = format!("oauth-refresh:{}", provider.name());
                        let at = self.clock.now();
                        let free = blocking(move || store.lease_free(&name, at)).await?;
                        if free {
                            break;
                        }
                    }
                }
            }
        }
    }

    async fn row(&self, provider: Provider) -> Result<ConnectionRow, AccessError> {
        let store = self.store.clone();
        let name = provider.name();
        let row = blocking(move || store.connection(name))
            .await?
            .ok_or(AccessError::NotConnected { provider })?;
        if row.state == ConnectionState::NeedsReconnect {
            return Err(AccessError::NeedsReconnect {
                provider,
                reason: row
                    .state_reason
                    .unwrap_or_else(|| "the provider rejected the tokens".into()),
            });
        }
        Ok(row)
    }

    /// The tokens of `row`, from the cache when it holds this generation.
    async fn tokens(&self, provider: Provider, row: &ConnectionRow) -> Result<Tokens, AccessError> {
        if let Some((k, g, t)) = self
            .cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&provider)
            && *g == row.generation
            && *k == row.secret_key
        {
            return Ok(t.clone());
        }
        self.keychain_tokens(provider, row).await
    }

    /// The tokens of `row` as the keychain holds them now (then cached).
    async fn keychain_tokens(
        &self,
        provider: Provider,
        row: &ConnectionRow,
    ) -> Result<Tokens, AccessError> {
        let Some(kind) = StoreKind::parse(&row.secret_store) else {
            return Err(self
                .needs_reconnect(provider, row, "its keychain is unknown to this Gatehouse")
                .await);
        };
        let record = self.secrets.get(kind, &row.secret_key).await?;
        let Some(tokens) = record.and_then(|r| Tokens::from_record(&r).ok()) else {
            let why = if kind == StoreKind::Keyutils {
                "the tokens are no longer in the kernel keyring (keyutils keys are lost at reboot)"
            } else {
                "the tokens are no longer in the keychain"
            };
            return Err(self.needs_reconnect(provider, row, why).await);
        };
        self.cache.lock().unwrap_or_else(|p| p.into_inner()).insert(
            provider,
            (row.secret_key.clone(), row.generation, tokens.clone()),
        );
        Ok(tokens)
    }

    async fn read(
        &self,
        provider: Provider,
        row: &ConnectionRow,
    ) -> Result<AccessToken, AccessError> {
        let t = self.tokens(provider, row).await?;
        Ok(AccessToken {
            token: t.access,
            generation: row.generation,
        })
    }

    /// Refreshes while holding the lease. The row is read again first: the
    /// previous holder may have refreshed between our read and our lease.
    /// On any error the process cache is dropped: after the provider
    /// answered, the keychain may hold tokens newer than the cache.
    async fn refresh_holding(
        &self,
        provider: Provider,
        seen: &ConnectionRow,
        trace: &TraceHeaders,
    ) -> Result<Step, AccessError> {
        let step = self.spend_refresh_token(provider, seen, trace).await;
        if step.is_err() {
            self.forget(provider);
        }
        step
    }

    async fn spend_refresh_token(
        &self,
        provider: Provider,
        seen: &ConnectionRow,
        trace: &TraceHeaders,
    ) -> Result<Step, AccessError> {
        let row = self.row(provider).await?;
        if row.generation != seen.generation {
            return Ok(Step::Again);
        }
        // Never the cache here: a refresh whose row update failed (database
        // busy, a crash) left its new refresh token only in the keychain,
        // and a single-use token must not be spent twice.
        let tokens = self.keychain_tokens(provider, &row).await?;
        let creds = self.creds(provider, &row.client_id, tokens.client_secret.clone());
        let granted = match endpoint::refresh(&self.http, &creds, &tokens, trace).await {
            Ok(g) => g,
            Err(f) if f.grant_rejected() => {
                let why = format!(
                    "{}'s token endpoint {} to the refresh token",
                    provider.title(),
                    f.describe()
                );
                return Err(self.needs_reconnect(provider, &row, &why).await);
            }
            Err(f) => {
                let status = match &f {
                    endpoint::Failure::Unreachable { status, .. } => *status,
                    _ => None,
                };
                return Err(AccessError::RefreshFailed {
                    provider,
                    reason: format!("the token endpoint {}", f.describe()),
                    status,
                });
            }
        };
        let kind = StoreKind::parse(&row.secret_store).unwrap_or(StoreKind::SecretService);
        // Keychain first: if we die before the row is updated, the next
        // refresher finds the new refresh token there.
        self.secrets
            .put(kind, &row.secret_key, granted.tokens.to_record())
            .await?;
        let now = self.clock.now();
        let expires = granted
            .expires_in
            .map(|d| now.plus(i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 2)));
        let scopes = granted.scopes.clone().unwrap_or_else(|| row.scopes.clone());
        let refreshable = granted.tokens.refresh.is_some();
        let store = self.store.clone();
        let (gen_before, name) = (row.generation, provider.name());
        let applied = blocking(move || {
            store.record_refresh(name, gen_before, expires, &scopes, refreshable, now)
        })
        .await?;
        if !applied {
            // Only a holder of the lease refreshes; the row moved anyway (a disconnect or reconnect).
            self.forget(provider);
            return Ok(Step::Again);
        }
        self.cache.lock().unwrap_or_else(|p| p.into_inner()).insert(
            provider,
            (
                row.secret_key.clone(),
                gen_before + 1,
                granted.tokens.clone(),
            ),
        );
        tracing::info!(provider = name, "access token refreshed");
        Ok(Step::Done(AccessToken {
            token: granted.tokens.access,
            generation: gen_before + 1,
        }))
    }

    /// The API refused the access token of `generation` although it was just
    /// refreshed: the grant is gone (revoked, or the app's access removed).
    /// Marks the connection `needs_reconnect` as a rejected refresh token
    /// does, so later calls stop without a request, and returns their error.
    pub async fn access_rejected(&self, provider: Provider, generation: i64) -> AccessError {
        let why = format!(
            "{} refuses the access token even after a refresh",
            provider.title()
        );
        self.needs_reconnect_at(provider, generation, &why).await
    }

    /// Marks the connection as needing reconnection and returns the error calls get.
    async fn needs_reconnect(
        &self,
        provider: Provider,
        row: &ConnectionRow,
        why: &str,
    ) -> AccessError {
        self.needs_reconnect_at(provider, row.generation, why).await
    }

    /// As `needs_reconnect`, for the connection at `generation` (a row that
    /// moved on since, by a refresh or a reconnect, is left alone).
    async fn needs_reconnect_at(
        &self,
        provider: Provider,
        generation: i64,
        why: &str,
    ) -> AccessError {
        tracing::warn!(
            provider = provider.name(),
            reason = why,
            "the connection needs to be reconnected"
        );
        let store = self.store.clone();
        let (name, reason) = (provider.name(), why.to_string());
        if let Err(e) =
            blocking(move || store.mark_needs_reconnect(name, generation, &reason)).await
        {
            return AccessError::Store(e);
        }
        self.forget(provider);
        AccessError::NeedsReconnect {
            provider,
            reason: why.to_string(),
        }
    }
}

#[cfg(test)]
mod tests;

fn rand_u64() -> u64 {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).expect("the OS has a random source");
    u64::from_le_bytes(b)
}
