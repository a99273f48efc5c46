//! `gatehouse connect|disconnect github|google` and `gatehouse connections`:
//! thin edges over `oauth::Accounts`. `connect` prints the URL (and opens a
//! browser when it can) or the device code on stderr; with `--json` the
//! stored connection is printed on stdout. No token is ever printed.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow};
use clap::Args as ClapArgs;
use gatehouse::oauth::{Accounts, ClientOverride, ConnectionView, Flow, Progress, Provider};
use gatehouse::secrets::Secrets;
use gatehouse::telemetry::Redacted;

use super::{Ctx, print_json, table};

#[derive(Debug, ClapArgs)]
pub struct ConnectArgs {
    /// `github` or `google` (Gmail).
    provider: String,
    /// Use GitHub's device flow: enter a code on another device (no browser needed here).
    #[arg(long)]
    device: bool,
    /// Don't try to open a browser; only print the URL.
    #[arg(long)]
    no_browser: bool,
    /// The OAuth client id (overrides [oauth.PROVIDER] client_id).
    #[arg(long)]
    client_id: Option<String>,
    /// The OAuth client secret, where the provider requires one (kept in the keychain with the tokens).
    #[arg(long, env = "GATEHOUSE_CLIENT_SECRET", hide_env_values = true)]
    client_secret: Option<String>,
    /// Print the stored connection as one JSON document.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, ClapArgs)]
pub struct DisconnectArgs {
    /// `github` or `google`.
    provider: String,
    /// Print what was done as one JSON document.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, ClapArgs)]
pub struct ConnectionsArgs {
    /// Print one JSON document instead of a table.
    #[arg(long)]
    json: bool,
}

fn provider(name: &str) -> Result<Provider> {
    Provider::parse(name)
        .ok_or_else(|| anyhow!("unknown provider \"{name}\": use `github` or `google`"))
}

fn accounts(ctx: &Ctx) -> Result<Accounts> {
    let config = ctx.config()?;
    Ok(Accounts::new(
        ctx.store()?,
        Secrets::system(config.secrets),
        Arc::new(config.oauth),
        ctx.clock.clone(),
    ))
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

pub fn connect(ctx: &Ctx, a: ConnectArgs) -> Result<ExitCode> {
    let provider = provider(&a.provider)?;
    let accounts = accounts(ctx)?;
    let flow = if a.device {
        Flow::Device
    } else {
        Flow::Browser
    };
    let over = ClientOverride {
        client_id: a.client_id,
        client_secret: a.client_secret.map(Redacted::new),
    };
    let open = !a.no_browser;
    let env = ctx.env.clone();
    let progress = move |p: Progress| match p {
        Progress::OpenBrowser { url, redirect } => {
            eprintln!(
                "Open this URL in your browser to connect {}:\n\n  {url}\n",
                provider.title()
            );
            eprintln!("Waiting for the browser to come back to {redirect} ...");
            if open && let Err(e) = gatehouse::browser::open(&url, &env) {
                eprintln!("(no browser opened: {e}; copy the URL into one)");
            }
        }
        Progress::DeviceCode {
            verification_uri,
            user_code,
            expires_in,
        } => {
            eprintln!(
                "On any device, open {verification_uri} and enter the code:\n\n  {user_code}\n\n(valid for {} minutes) Waiting ...",
                expires_in.as_secs() / 60
            );
        }
        Progress::Exchanging => eprintln!("Authorization received; getting the tokens ..."),
        Progress::Saved => {}
    };
    let view = runtime()?
        .block_on(accounts.connect(provider, flow, over, &progress))
        .with_context(|| format!("connecting {} failed", provider.title()))?;
    if a.json {
        print_json(&view)?;
    } else {
        println!(
            "Connected {} as {} (tokens in {}); its {}__* tools are now offered to agents.",
            provider.title(),
            view.account.as_deref().unwrap_or("an unknown account"),
            view.keychain,
            view.tools
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn disconnect(ctx: &Ctx, a: DisconnectArgs) -> Result<ExitCode> {
    let provider = provider(&a.provider)?;
    let accounts = accounts(ctx)?;
    let done = runtime()?
        .block_on(accounts.disconnect(provider))
        .with_context(|| format!("disconnecting {} failed", provider.title()))?;
    if a.json {
        print_json(&done)?;
    } else {
        println!(
            "Disconnected {}: {}; the tokens were deleted from the keychain.",
            provider.title(),
            done.revocation
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn connections(ctx: &Ctx, a: ConnectionsArgs) -> Result<ExitCode> {
    let accounts = accounts(ctx)?;
    let list: Vec<ConnectionView> = runtime()?.block_on(accounts.list())?;
    if a.json {
        print_json(&list)?;
        return Ok(ExitCode::SUCCESS);
    }
    if list.is_empty() {
        println!(
            "No accounts connected. Run `gatehouse connect github` or `gatehouse connect google`."
        );
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|c| {
            vec![
                c.provider.clone(),
                c.account.clone().unwrap_or_else(|| "-".into()),
                match &c.reason {
                    Some(r) => format!("{} ({r})", c.state),
                    None => c.state.clone(),
                },
                c.expires_at.clone().unwrap_or_else(|| "never".into()),
                c.keychain.clone(),
                c.scopes.join(" "),
            ]
        })
        .collect();
    println!(
        "{}",
        table::render(
            &[
                "PROVIDER",
                "ACCOUNT",
                "STATE",
                "TOKEN EXPIRES",
                "KEYCHAIN",
                "SCOPES"
            ],
            &rows
        )
    );
    Ok(ExitCode::SUCCESS)
}
