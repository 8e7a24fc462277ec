#!/usr/bin/env bash
# The side-by-side benchmark in its quick mode (< 1 minute on 2 cores): fewer children, 2
# repetitions, a 256 MiB heap. It asserts nothing; it checks that every backend still runs and
# leaves target/bench/compare.md and target/bench/compare.svg behind.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench --bench compare -- --quick "$@"
cargo bench --bench childset -- --quick
