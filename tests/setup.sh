#!/usr/bin/env bash
# Install the black-box test clients into this directory only (idempotent):
#   tests/.venv          Python venv with requirements.txt (official `mcp` SDK)
#   tests/node_modules   npm packages from package.json + package-lock.json
#                        (@modelcontextprotocol/inspector, @modelcontextprotocol/server-everything,
#                        oauth2-mock-server: the authorization server of the OAuth tests)
# Re-runs are no-ops (a few ms) until requirements.txt or the npm files change.
# Env: PYTHON=python3.x to choose the interpreter; SETUP_FORCE=1 to reinstall.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

log() { echo "setup.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || die "'$1' not found on PATH"; }
fingerprint() { cat "$@" | sha256sum | cut -d' ' -f1; }

PY=${PYTHON:-python3}
need "$PY"; need node; need npm
force=${SETUP_FORCE:-}

# --- Python ---------------------------------------------------------------
want=$(fingerprint requirements.txt)
if [[ -z $force && -x .venv/bin/python && "$(cat .venv/.setup-stamp 2>/dev/null)" == "$want" ]]; then
  log "python venv up to date (tests/.venv)"
else
  if [[ -n $force || ! -x .venv/bin/pip ]]; then
    if ! "$PY" -c 'import venv, ensurepip' 2>/dev/null; then
      if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
        log "installing python3-venv with apt-get"
        apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >&2
      else
        die "$PY cannot create venvs (no ensurepip); install it: sudo apt-get install python3-venv"
      fi
    fi
    log "creating tests/.venv with $("$PY" --version 2>&1)"
    rm -rf .venv
    "$PY" -m venv .venv
  fi
  log "installing Python packages from requirements.txt"
  .venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.txt >&2
  echo "$want" > .venv/.setup-stamp
fi

# --- npm ------------------------------------------------------------------
lock_files=(package.json)
[[ -f package-lock.json ]] && lock_files+=(package-lock.json)
want=$(fingerprint "${lock_files[@]}")
if [[ -z $force && -d node_modules && "$(cat node_modules/.setup-stamp 2>/dev/null)" == "$want" ]]; then
  log "node_modules up to date (tests/node_modules)"
else
  # Inspector 2.x declares node >=22.19 but its stdio CLI works on Node 20; don't let engine-strict refuse.
  # Its only install script is a no-op when installed as a dependency, hence --ignore-scripts.
  npm_opts=(--ignore-scripts --no-audit --no-fund --engine-strict=false --loglevel=error)
  if [[ -f package-lock.json ]]; then
    log "npm ci (package-lock.json)"
    npm ci "${npm_opts[@]}" >&2
  else
    log "npm install (no lock file yet; writing package-lock.json)"
    npm install "${npm_opts[@]}" >&2
    want=$(fingerprint package.json package-lock.json)
  fi
  echo "$want" > node_modules/.setup-stamp
fi

log "ready: $(node -p '["inspector", "server-everything"].map(p =>
  p + "@" + require("./node_modules/@modelcontextprotocol/" + p + "/package.json").version).join(", ")'),\
 $(.venv/bin/python -c 'import importlib.metadata as m; print("mcp==" + m.version("mcp"))'), node $(node --version)"
