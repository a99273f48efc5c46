#!/usr/bin/env bash
# The whole test suite, from a clean clone on a fresh Debian machine with Rust:
#   bash tests/run.sh
# 1. installs what the tests need (apt: python3-venv, nodejs/npm, dbus-daemon,
#    gnome-keyring, keyutils if missing;
#    the Python `mcp` SDK into tests/.venv; the MCP Inspector and
#    server-everything into tests/node_modules), all inside the clone;
# 2. checks formatting and lints;
# 3. runs every unit and black-box test.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n== %s\n' "$*" >&2; }

apt_install() {
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    step "apt-get install $*"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
  else
    echo "tests/run.sh: missing $*; install it (sudo apt-get install $*)" >&2
    exit 1
  fi
}

missing=()
command -v python3 >/dev/null || missing+=(python3)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
command -v pgrep >/dev/null || missing+=(procps)
command -v cc >/dev/null || missing+=(gcc)
# The OAuth tests start their own Secret Service (a private D-Bus session bus
# and gnome-keyring) and use the kernel keyring (keyutils) fallback.
command -v dbus-daemon >/dev/null || missing+=(dbus-daemon)
command -v dbus-send >/dev/null || missing+=(dbus-bin)
command -v gnome-keyring-daemon >/dev/null || missing+=(gnome-keyring)
command -v keyctl >/dev/null || missing+=(keyutils)
if ((${#missing[@]})); then apt_install "${missing[@]}"; fi

step "test clients (tests/setup.sh)"
bash tests/setup.sh

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test"
cargo test --workspace --locked -- --color never

step "all tests passed"
