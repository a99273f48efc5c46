#!/usr/bin/env bash
# Builds the tray app's Debian and RPM packages, with the `gatehouse` CLI
# inside (clients launch `/usr/bin/gatehouse serve`; the app sits beside it):
#   bash scripts/package.sh            release build: target/release/bundle/{deb,rpm}/
#                                      (CARGO_TARGET_DIR is honoured)
#   bash scripts/package.sh --debug    debug build (quicker; what the tests check)
# Needs the Tauri CLI from tests/node_modules (`bash tests/setup.sh`) and the
# build packages listed in README.md. AppImage is not built: its bundler
# downloads tools at build time, which fails without network access.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

profile=release
tauri_flags=()
if [[ ${1:-} == --debug ]]; then
  profile=debug
  tauri_flags+=(--debug)
fi
cargo_flags=(--locked -p gatehouse)
[[ $profile == release ]] && cargo_flags+=(--release)

target=${CARGO_TARGET_DIR:-target}
tauri=tests/node_modules/.bin/tauri
[[ -x $tauri ]] || { echo "package.sh: $tauri is missing: run bash tests/setup.sh" >&2; exit 1; }

# The CLI goes in as a Tauri "external binary", named with the target triple.
cargo build "${cargo_flags[@]}"
triple=$(rustc -vV | sed -n 's/^host: //p')
mkdir -p src-tauri/binaries
cp "$target/$profile/gatehouse" "src-tauri/binaries/gatehouse-$triple"

"$tauri" build "${tauri_flags[@]}" --bundles deb,rpm --ci \
  --config '{"bundle": {"externalBin": ["binaries/gatehouse"]}}'
ls -1 "$target/$profile/bundle/deb/"*.deb "$target/$profile/bundle/rpm/"*.rpm
