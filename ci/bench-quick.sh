#!/usr/bin/env bash
# The side-by-side benchmark in its quick mode (< 1 minute on 2 cores): fewer children, 2
# repetitions, a 256 MiB heap. It asserts nothing; it checks that every backend (`childfd-tokio`
# too: the `tokio` feature) still runs and leaves target/bench/compare.md and .svg behind.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench --features tokio --bench compare -- --quick "$@"
cargo bench --bench childset -- --quick
