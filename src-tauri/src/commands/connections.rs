//! Connections page: the GitHub and Google (Gmail) accounts, each with its
//! connection (account, scopes, expiry, state, keychain); connect with the
//! library's flow, the one `gatehouse connect` runs (browser with PKCE and a
//! loopback redirect, or GitHub's device flow), its progress sent to the
//! window as events; cancel; disconnect. No token ever reaches the window.

use gatehouse::browser;
use gatehouse::oauth::{ClientOverride, ConnectionView, Disconnected, Flow, Progress, Provider};
use gatehouse::secrets::StoreKind;
use serde::Serialize;
use tauri::{AppHandle, Emitter, Runtime, State};

use super::settled;
use crate::connecting::Connecting;
use crate::core::Core;
use crate::error::UiError;
use crate::window::MAIN;

/// The event carrying a sign-in's progress (`ConnectEvent`) to the window.
pub const CONNECT_EVENT: &str = "gatehouse://connect";

/// One provider on the page.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ProviderCard {
    /// `github` or `google`.
    pub provider: &'static str,
    /// `GitHub`, `Gmail`.
    pub title: &'static str,
    /// The prefix of its tools: `github`, `gmail`.
    pub tools: &'static str,
    /// The config key that must hold a client id: `[oauth.github] client_id`.
    pub client_id_key: String,
    /// Whether that key is set (connecting needs it).
    pub configured: bool,
    /// Whether it offers a device flow (GitHub, unless `device_url` is unset).
    pub device_flow: bool,
    /// Whether a sign-in is in progress in this app.
    pub connecting: bool,
    /// The connection, when there is one.
    pub connection: Option<ConnectionView>,
    /// The keychain holding its tokens, in words.
    pub keychain_label: Option<&'static str>,
}

/// What the Connections page shows.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ConnectionsPage {
    /// The config file client ids go in.
    pub config_file: String,
    /// GitHub, then Google.
    pub providers: Vec<ProviderCard>,
}

/// Where new tokens would go, or why they can't.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct KeychainView {
    /// `secret-service`, `keyutils`, ...; absent when none can be used.
    pub name: Option<&'static str>,
    /// The same in words.
    pub label: Option<&'static str>,
    /// What is wrong and how to fix it.
    pub problem: Option<String>,
}

/// One step of a sign-in, for the window.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step {
    /// The user signs in at `url` (the browser was opened when `opened`).
    OpenBrowser {
        /// The authorization URL, to open or copy.
        url: String,
        /// The loopback address the browser comes back to.
        redirect: String,
        /// Whether a browser was started.
        opened: bool,
        /// Why none was, when not.
        browser_problem: Option<String>,
    },
    /// The user enters `user_code` at `verification_uri`.
    DeviceCode {
        /// Where to enter the code.
        verification_uri: String,
        /// The code.
        user_code: String,
        /// How long the code is valid, in seconds.
        expires_in_s: u64,
    },
    /// The browser came back; the code is being exchanged for tokens.
    Exchanging,
    /// Tokens are in the keychain and the connection is recorded.
    Saved,
}

/// A sign-in's progress: `CONNECT_EVENT`'s payload.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct ConnectEvent {
    /// `github` or `google`.
    pub provider: &'static str,
    /// What happened.
    #[serde(flatten)]
    pub step: Step,
}

fn provider(name: &str) -> Result<Provider, UiError> {
    Provider::parse(name).ok_or_else(|| {
        UiError::BadRequest(format!(
            "\"{name}\" is not a provider: use github or google"
        ))
    })
}

/// The page's view: every provider, its settings and its connection.
pub async fn page(core: &Core, flows: &Connecting) -> Result<ConnectionsPage, UiError> {
    let accounts = core.accounts()?;
    let connections = accounts.list().await?;
    let oauth = accounts.config();
    let providers = Provider::ALL
        .iter()
        .map(|&p| {
            let cfg = p.config(oauth);
            let connection = connections.iter().find(|c| c.provider == p.name()).cloned();
            ProviderCard {
                provider: p.name(),
                title: match p {
                    Provider::GitHub => "GitHub",
                    Provider::Google => "Gmail",
                },
                tools: p.tool_prefix(),
                client_id_key: format!("[oauth.{}] client_id", p.name()),
                configured: cfg.client_id.is_some(),
                device_flow: cfg.device_url.is_some(),
                connecting: flows.active(p),
                keychain_label: connection
                    .as_ref()
                    .and_then(|c| StoreKind::parse(&c.keychain))
                    .map(StoreKind::describe),
                connection,
            }
        })
        .collect();
    Ok(ConnectionsPage {
        config_file: core.home.config_file.display().to_string(),
        providers,
    })
}

/// Every provider and its connection.
#[tauri::command]
pub async fn list_connections(
    core: State<'_, Core>,
    flows: State<'_, Connecting>,
) -> Result<ConnectionsPage, UiError> {
    settled(&core, page(&core, &flows).await)
}

/// Which keychain new tokens go to (the connections list works without one).
#[tauri::command]
pub async fn keychain_status(core: State<'_, Core>) -> Result<KeychainView, UiError> {
    let config = core.config()?;
    Ok(match core.secrets(&config).pick().await {
        Ok(kind) => KeychainView {
            name: Some(kind.name()),
            label: Some(kind.describe()),
            problem: None,
        },
        Err(e) => KeychainView {
            name: None,
            label: None,
            problem: Some(UiError::from(e).to_string()),
        },
    })
}

/// Runs the sign-in for `provider` (GitHub's device flow when `device`),
/// sending its progress as `CONNECT_EVENT`s; the connection once stored, or
/// `None` when the user cancelled it.
#[tauri::command]
pub async fn connect_account<R: Runtime>(
    app: AppHandle<R>,
    core: State<'_, Core>,
    flows: State<'_, Connecting>,
    provider: String,
    device: bool,
) -> Result<Option<ConnectionView>, UiError> {
    let p = self::provider(&provider)?;
    let accounts = match core.accounts() {
        Ok(a) => a,
        Err(e) => return settled(&core, Err(e)),
    };
    let flow = if device { Flow::Device } else { Flow::Browser };
    let started = flows.start(p);
    let ticket = started.ticket;
    let env = core.env.clone();
    let flows_ref: &Connecting = &flows;
    let progress = |step: Progress| {
        let step = match step {
            Progress::OpenBrowser { url, redirect } => {
                flows_ref.set_page(p, ticket, &url);
                let opened = browser::open(&url, &env);
                Step::OpenBrowser {
                    url,
                    redirect,
                    opened: opened.is_ok(),
                    browser_problem: opened.err().map(|e| e.to_string()),
                }
            }
            Progress::DeviceCode {
                verification_uri,
                user_code,
                expires_in,
            } => {
                flows_ref.set_page(p, ticket, &verification_uri);
                Step::DeviceCode {
                    verification_uri,
                    user_code,
                    expires_in_s: expires_in.as_secs(),
                }
            }
            Progress::Exchanging => Step::Exchanging,
            Progress::Saved => Step::Saved,
        };
        let event = ConnectEvent {
            provider: p.name(),
            step,
        };
        if let Err(e) = app.emit_to(MAIN, CONNECT_EVENT, &event) {
            tracing::warn!(error = %e, "cannot send the sign-in's progress to the window");
        }
    };
    let result = tokio::select! {
        r = accounts.connect(p, flow, ClientOverride::default(), &progress) => Some(r),
        () = started.cancel.notified() => None,
    };
    flows.finish(p, ticket);
    match result {
        None => Ok(None),
        Some(r) => {
            let out = r.map(Some).map_err(UiError::from);
            if out.is_ok() {
                core.mark_changed();
            }
            settled(&core, out)
        }
    }
}

/// Stops the sign-in in progress for `provider` (its loopback listener closes).
#[tauri::command]
pub fn cancel_connect(flows: State<'_, Connecting>, provider: String) -> Result<bool, UiError> {
    Ok(flows.cancel(self::provider(&provider)?))
}

/// Opens the page of the sign-in in progress again (the authorization URL,
/// or the device-flow page). The window never passes a URL to open.
#[tauri::command]
pub fn open_connect_page(
    core: State<'_, Core>,
    flows: State<'_, Connecting>,
    provider: String,
) -> Result<(), UiError> {
    let p = self::provider(&provider)?;
    let page = flows.page(p).ok_or_else(|| {
        UiError::BadRequest(format!(
            "No {} sign-in is in progress: connect again",
            p.title()
        ))
    })?;
    browser::open(&page, &core.env).map_err(|e| {
        UiError::BadRequest(format!(
            "No browser opened ({e}); copy the address shown instead"
        ))
    })
}

/// Revokes (where the provider can) and forgets `provider`'s connection and tokens.
#[tauri::command]
pub async fn disconnect_account(
    core: State<'_, Core>,
    provider: String,
) -> Result<Disconnected, UiError> {
    let p = self::provider(&provider)?;
    let out = match core.accounts() {
        Ok(a) => a.disconnect(p).await.map_err(UiError::from),
        Err(e) => Err(e),
    };
    if out.is_ok() {
        core.mark_changed();
    }
    settled(&core, out)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use gatehouse::secrets::{Choice, Secrets, SecretsError};

    use super::*;
    use crate::core::testing::{core_in, core_with};

    fn run<T>(f: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn the_page_lists_both_providers_and_says_which_key_a_client_id_goes_in() {
        let (core, _dir) = core_in(|d| {
            std::fs::write(
                d.join("config.toml"),
                "[oauth.github]\nclient_id = \"gh-1\"\n",
            )
            .unwrap();
        });
        let page = run(page(&core, &Connecting::default())).unwrap();
        let names: Vec<_> = page
            .providers
            .iter()
            .map(|p| (p.provider, p.configured))
            .collect();
        assert_eq!(names, [("github", true), ("google", false)]);
        assert_eq!(page.providers[1].client_id_key, "[oauth.google] client_id");
        assert!(page.providers[0].device_flow && !page.providers[1].device_flow);
        assert!(page.providers.iter().all(|p| p.connection.is_none()));
    }

    #[test]
    fn connecting_without_a_client_id_names_the_config_key() {
        let (core, _dir) = core_in(|_| {});
        let accounts = core.accounts().unwrap();
        let e = run(accounts.connect(
            Provider::Google,
            Flow::Browser,
            ClientOverride::default(),
            &|_| {},
        ))
        .unwrap_err();
        let text = UiError::from(e).to_string();
        assert!(text.contains("client_id under [oauth.google]"), "{text}");
        assert!(
            !text.contains("--client-id"),
            "no CLI flags in the window: {text}"
        );
    }

    #[test]
    fn an_unavailable_keychain_is_a_problem_with_a_fix_and_connecting_fails_before_any_browser() {
        let fail: crate::core::SecretsFactory = Arc::new(|choice| {
            Secrets::new(
                choice,
                Arc::new(|_| {
                    Err(SecretsError::Unavailable {
                        detail: "no Secret Service on the session bus".into(),
                        fix: "start one".into(),
                    })
                }),
            )
        });
        let (core, _dir) = core_with(
            |d| {
                std::fs::write(
                    d.join("config.toml"),
                    "[secrets]\nstore = \"secret-service\"\n[oauth.github]\nclient_id = \"gh-1\"\n",
                )
                .unwrap();
            },
            fail,
        );
        assert_eq!(
            core.config().unwrap().secrets,
            Choice::Only(StoreKind::SecretService)
        );
        let accounts = core.accounts().unwrap();
        let opened = std::sync::atomic::AtomicBool::new(false);
        let e = run(accounts.connect(
            Provider::GitHub,
            Flow::Browser,
            ClientOverride::default(),
            &|_| opened.store(true, std::sync::atomic::Ordering::SeqCst),
        ))
        .unwrap_err();
        let text = UiError::from(e).to_string();
        assert!(
            text.starts_with("No OS keychain is available") && text.contains("start one"),
            "{text}"
        );
        assert!(
            !opened.load(std::sync::atomic::Ordering::SeqCst),
            "no URL was handed out"
        );
    }
}
