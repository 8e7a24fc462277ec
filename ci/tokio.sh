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
version=$(cargo metadata --format-version 1 --features tokio |
  python3 -c 'import json,sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"] == "tokio"))')
work=$repo/target/tokio-process-tests
rm -rf "$work/tests"
mkdir -p "$work/src" "$work/tests"
cat >"$work/Cargo.toml" <<EOF
[package]
name = "tokio-process-tests-on-childfd"
version = "0.0.0"
edition = "2021"
publish = false

# The cfgs tokio's tests check.
[features]
default = ["full", "process"]
full = []
process = []

[dev-dependencies]
childfd = { path = "$repo", features = ["tokio"] }
tokio = { version = "=$version", features = ["full"] }
tokio-test = "0.4"
futures = "0.3"
libc = "0.2"

[workspace]
EOF
echo >"$work/src/lib.rs"
cd "$work"
cargo fetch --quiet
src=$(cargo metadata --format-version 1 |
  python3 -c 'import json,os,sys; print(os.path.dirname(next(p["manifest_path"] for p in json.load(sys.stdin)["packages"] if p["name"] == "tokio")))')
count=0
for f in "$src"/tests/process_*.rs; do
  sed 's/tokio::process/childfd::tokio/g' "$f" >"tests/$(basename "$f")"
  count=$((count + 1))
done
echo "== tokio $version: $count process test files, tokio::process -> childfd::tokio"
if grep -l 'tokio::process' tests/*.rs; then
  echo "a test still uses tokio::process" >&2
  exit 1
fi
echo "== backend: probed"
cargo test --tests
echo "== backend: CHILDFD_BACKEND=thread"
CHILDFD_BACKEND=thread cargo test --tests
