//! The authorization code flow with PKCE (S256) and a loopback redirect:
//! build the URL (state, challenge, scopes), hand it to the caller (which
//! prints it and opens a browser), wait for the callback, check `state`,
//! exchange the code. Nothing is stored here: the caller stores what comes back.

use std::time::Duration;

use oauth2::basic::BasicClient;
use oauth2::{AuthUrl, ClientId, CsrfToken, PkceCodeChallenge, RedirectUrl, Scope};
use tokio::time::Instant;

use super::endpoint::{self, Creds};
use super::loopback;
use super::tokens::Granted;
use super::{OAuthError, Progress, Provider};
use crate::config::ProviderConfig;

/// Runs the browser flow for `provider` as `creds`; `progress` gets the URL to open.
pub async fn run(
    http: &reqwest::Client,
    provider: Provider,
    cfg: &ProviderConfig,
    creds: &Creds,
    timeout: Duration,
    progress: &(dyn Fn(Progress) + Send + Sync),
) -> Result<Granted, OAuthError> {
    let (listener, redirect) = loopback::bind(cfg.redirect_port).await?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let client = BasicClient::new(ClientId::new(creds.client_id.clone()))
        .set_auth_uri(AuthUrl::from_url(cfg.authorize_url.clone()))
        .set_redirect_uri(RedirectUrl::from_url(redirect.clone()));
    let mut request = client
        .authorize_url(CsrfToken::new_random)
        .set_pkce_challenge(challenge)
        .add_scopes(cfg.scopes.iter().cloned().map(Scope::new));
    for (k, v) in provider.extra_authorize_params() {
        request = request.add_extra_param(*k, *v);
    }
    let (url, state) = request.url();
    progress(Progress::OpenBrowser {
        url: url.to_string(),
        redirect: redirect.to_string(),
    });
    let deadline = Instant::now() + timeout;
    let code = loopback::receive(listener, provider, state.secret(), deadline, timeout).await?;
    progress(Progress::Exchanging);
    endpoint::exchange_code(http, creds, &redirect, code, verifier)
        .await
        .map_err(|f| match f {
            endpoint::Failure::Unreachable { reason, .. } => OAuthError::Unreachable {
                provider,
                endpoint: "token endpoint",
                reason,
            },
            other => OAuthError::TokenEndpoint {
                provider,
                what: other.describe(),
            },
        })
}
