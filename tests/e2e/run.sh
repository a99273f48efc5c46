#!/usr/bin/env bash
# The tray app's end-to-end tests: the real app (target/debug/gatehouse-tray)
# under Xvfb in its own D-Bus session, driven by tauri-driver and Debian's
# WebKitWebDriver with Python selenium. Screenshots go to docs/screenshots/.
#   bash tests/e2e/run.sh [unittest args, e.g. test_tray.BadInput]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
args=("$@")
((${#args[@]})) || args=(test_tray test_accounts)
# A plain X session (no desktop): the tests start a real notification service themselves.
export GDK_BACKEND=x11
exec timeout --kill-after=10 "${E2E_TIMEOUT:-600}" xvfb-run -a -s "-screen 0 1280x1024x24" \
  dbus-run-session -- ../.venv/bin/python -X faulthandler -m unittest -v "${args[@]}"
