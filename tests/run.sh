#!/usr/bin/env bash
# The whole test suite, from a clean clone on a fresh Debian machine with Rust:
#   bash tests/run.sh
# 1. installs what the tests need (apt: python3-venv, nodejs/npm, dbus-daemon,
#    gnome-keyring, keyutils, the tray app's build and test packages, if
#    missing; the Python `mcp` SDK, the OpenTelemetry SDK and selenium into
#    tests/.venv; the MCP Inspector, server-everything, the conformance
#    suite, oauth2-mock-server and the Tauri CLI into tests/node_modules;
#    tauri-driver into tests/.tools), all inside the clone;
# 2. checks formatting and lints;
# 3. runs every unit and black-box test;
# 4. builds the tray app (debug) and its deb/rpm packages, and runs its
#    end-to-end tests under Xvfb (screenshots into docs/screenshots/).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n== %s\n' "$*" >&2; }

apt_install() {
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    step "apt-get install $*"
    apt-get -o DPkg::Lock::Timeout=300 update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq "$@" >&2
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
# The tray app (FIELD-NOTES): build packages, then what its end-to-end tests
# run: Xvfb, a D-Bus session, WebKitWebDriver, a font, a notification service.
for pkg in build-essential pkg-config libssl-dev libxdo-dev librsvg2-dev libwebkit2gtk-4.1-dev \
  libayatana-appindicator3-dev xvfb xauth dbus-daemon webkit2gtk-driver fonts-dejavu-core dunst; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if ((${#missing[@]})); then apt_install "${missing[@]}"; fi

step "test clients (tests/setup.sh)"
bash tests/setup.sh

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test"
cargo test --workspace --locked -- --color never

step "tray app: deb and rpm packages (debug build; the tests use its binaries)"
bash scripts/package.sh --debug
target=${CARGO_TARGET_DIR:-target}
deb=$(ls "$target"/debug/bundle/deb/*.deb)
listing=$(dpkg-deb -c "$deb")
for f in usr/bin/gatehouse-tray usr/bin/gatehouse usr/share/applications/Gatehouse.desktop \
  usr/share/icons/hicolor/128x128/apps/gatehouse-tray.png; do
  grep -Eq " (\./)?$f\$" <<<"$listing" || { echo "run.sh: $deb lacks $f" >&2; exit 1; }
done
ls "$target"/debug/bundle/rpm/*.rpm >/dev/null

step "tray app: tauri-driver (tests/.tools)"
if [[ ! -x tests/.tools/bin/tauri-driver ]]; then
  cargo install tauri-driver --version '^2' --locked --root tests/.tools
fi

step "tray app: end-to-end tests (Xvfb, D-Bus, tauri-driver, WebKitWebDriver, selenium)"
bash tests/e2e/run.sh

step "all tests passed"
