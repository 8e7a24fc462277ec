#!/usr/bin/env bash
# Runs the README's test command twice: with the backend the probe picks (pidfd here), then
# with the helper-thread fallback forced. Ends with one summary line over both runs.
set -euo pipefail
log=$(mktemp)
trap 'rm -f "$log"' EXIT
echo "== cargo test --workspace (backend: probed)"
cargo test --workspace 2>&1 | tee "$log"
echo "== cargo test --workspace (backend: CHILDFD_BACKEND=thread)"
CHILDFD_BACKEND=thread cargo test --workspace 2>&1 | tee -a "$log"
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed/) p += $(i-1); if ($i ~ /^failed/) f += $(i-1) } }
     END { printf "tests: %d passed, %d failed\n", p, f; exit (p == 0 || f > 0) }' "$log"
