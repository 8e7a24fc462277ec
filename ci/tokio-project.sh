#!/usr/bin/env bash
# Makes the cargo project that runs tokio's own process tests against `childfd::tokio`, in the
# directory $1: the tests/process_*.rs of the tokio release childfd resolves to, fetched by
# cargo at run time (never committed), with `tokio::process` replaced by `childfd::tokio` and
# nothing else changed. Used by ci/tokio.sh (Linux) and ci/windows.sh (under Wine).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
work=$1
version=$(cargo metadata --format-version 1 --features tokio |
  python3 -c 'import json,sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"] == "tokio"))')
rm -rf "$work/tests"
mkdir -p "$work/src" "$work/tests"
cat >"$work/Cargo.toml" <<MANIFEST
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

# process_raw_handle.rs calls GetProcessId.
[target.'cfg(windows)'.dev-dependencies]
windows-sys = { version = "0.61", features = ["Win32_Foundation", "Win32_System_Threading"] }

[workspace]
MANIFEST
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
