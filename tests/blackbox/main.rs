//! Black-box tests: they drive the built `gatehouse` binary as users and
//! their clients do, each in its own `GATEHOUSE_HOME`, with real SQLite
//! files, real MCP clients (the official Python SDK, the MCP Inspector) and a
//! real upstream (`@modelcontextprotocol/server-everything`).
//! Run `bash tests/setup.sh` once first (the README's test command does).

mod alerts;
mod budgets;
mod cli;
mod clients;
mod conformance;
mod errors;
mod identity;
mod keyring_util;
mod oauth;
mod oauth_bad_input;
mod oauth_keychain;
mod oauth_refresh;
mod oauth_util;
mod otlp;
mod pause;
mod protocol;
mod redaction;
mod reload;
mod session;
mod traces;
mod upstream;
mod util;
