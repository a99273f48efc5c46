//! Gatehouse: a local MCP server that puts production guardrails in front of
//! every tool call an AI agent makes: who is calling, how much, and what
//! happened. A tour of the crate, in the order a call meets it:
//!
//! - [`server`]: the MCP server over any byte pipe (stdio in `serve`): framing
//!   that answers bad bytes, and the rmcp handler that sends every
//!   `tools/call` through the guard.
//! - [`guard`]: the pipeline identify → policy → limit → execute → record,
//!   each stage its own module, failing closed.
//! - [`agents`]: agent identity: names, tokens (stored hashed), approval, client config snippets.
//! - [`budget`]: token-bucket arithmetic, pure; [`store`] keeps the buckets exact across processes.
//! - [`tools`]: tool names, the built-in `gatehouse__budgets`, and the registry of callable tools.
//! - [`upstream`]: MCP servers put behind the guardrails, spawned, supervised and forwarded to.
//! - [`oauth`]: connecting GitHub and Google (PKCE + loopback, device flow), refresh behind a lease.
//! - [`secrets`]: the OS keychain that holds OAuth tokens; never a plaintext fallback.
//! - [`browser`]: opening the sign-in URL in the user's browser (or `GATEHOUSE_BROWSER`).
//! - [`store`]: the one SQLite database every process shares: agents, buckets, history.
//! - [`telemetry`]: JSON logs, redaction, the PII scanner, and traces (spans,
//!   W3C context, span files, OTLP export, reading a trace back as a tree).
//! - [`alerts`]: the four alerts computed from history, each saying why it fired.
//! - [`config`], [`home`], [`clock`]: settings, file locations and time, all passed in.
//! - [`views`]: the stable JSON shapes of `--json` output (and the tray); [`listings`] builds them.
//! - [`doctor`]: checks of paths, database, config and upstreams, each with its fix.
//! - [`wire`]: newline-delimited JSON-RPC framing shared by the server and upstream sides.

#![deny(missing_docs)]
#![deny(clippy::print_stdout)]

pub mod agents;
pub mod alerts;
pub mod browser;
pub mod budget;
pub mod clock;
pub mod config;
pub mod doctor;
pub mod guard;
pub mod home;
pub mod listings;
pub mod oauth;
pub mod secrets;
pub mod server;
pub mod store;
pub mod telemetry;
pub mod tools;
pub mod upstream;
pub mod views;
pub mod wire;
