#!/usr/bin/env bash
# Runs this crate's tests/tokio_*.rs, then tokio's own process tests (tests/process_*.rs of the tokio release childfd depends on)
# against `childfd::tokio`: their `tokio::process` is replaced by `childfd::tokio`, nothing
# else is changed. The sources are fetched by cargo at run time, never committed. Twice:
# with the probed backend (pidfd here), then with the helper-thread fallback forced.
#
# Excluded: none. process_raw_handle.rs is Windows-only (compiled out here; ci/windows.sh runs
# it, and the other tokio process tests that build on Windows, under Wine);
# process_issue_7144.rs returns early without strace, as it does for tokio.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
own=$(ls tests/tokio_*.rs | xargs -n1 basename | sed 's/\.rs$//; s/^/--test /')
echo "== this crate's tokio tests (backend: probed)"
cargo test --features tokio $own
echo "== this crate's tokio tests (backend: CHILDFD_BACKEND=thread)"
CHILDFD_BACKEND=thread cargo test --features tokio $own
work=$repo/target/tokio-process-tests
bash ci/tokio-project.sh "$work"
cd "$work"
echo "== backend: probed"
cargo test --tests
echo "== backend: CHILDFD_BACKEND=thread"
CHILDFD_BACKEND=thread cargo test --tests
