#!/usr/bin/env bash
# Builds Gatehouse in release mode and runs every benchmark scenario
# (src-core/benches/guard.rs); the results are printed as Markdown tables.
#
#   scripts/bench.sh                     all scenarios: decision e2e multi startup tracing alerts
#   scripts/bench.sh e2e startup         only these
#   scripts/bench.sh --quick             fewer samples (a smoke test, not numbers to record)
#
# Needs node and npm for the upstream (server-everything, installed into
# tests/node_modules by tests/setup.sh, which this runs first) and python3
# for the rest of setup.sh. Run it on an otherwise idle machine.
# Env: CARGO_TARGET_DIR is honoured; BENCH_SKIP_SETUP=1 skips tests/setup.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [[ -z ${BENCH_SKIP_SETUP:-} ]]; then
  bash tests/setup.sh
fi
cargo build --release -p gatehouse >&2
echo "# $(date -u +%Y-%m-%dT%H:%MZ), $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(rustc --version), node $(node --version), nproc $(nproc)"
# The bench profile inherits release; the `gatehouse` it runs is built alongside it.
exec cargo bench -p gatehouse --bench guard -- "$@"
