#!/usr/bin/env bash
# The soak of issue 14 on its own, with its summary line shown: tests/soak.rs (spawn, drop,
# cancel, kill and output cycles under async-io, smol, tokio and plain threads at once, then
# no zombie, descriptor or thread left and RSS bounded), with the probed backend, then with the
# helper-thread fallback forced. About a minute each on 2 cores; CHILDFD_SOAK_CYCLES sets the
# number of cycles (default in tests/soak.rs). Not in .ci/run: ci/test.sh runs the soak within
# the suite, with both backends; this script is for running it alone.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== soak (backend: probed)"
cargo test --test soak -- --nocapture
echo "== soak (backend: CHILDFD_BACKEND=thread)"
CHILDFD_BACKEND=thread cargo test --test soak -- --nocapture
