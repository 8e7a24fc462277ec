#!/usr/bin/env bash
# The declared MSRV (rust-version, 1.74) builds both libraries: `cargo +1.74 check --lib`,
# first with the committed Cargo.lock, then with a lock resolved afresh for the MSRV (cargo's
# MSRV-aware fallback resolver, run by the main toolchain, since 1.74's resolver ignores
# rust-version): the first proves what CI tests, the second that a working set of
# dependency versions still exists for a 1.74 user, also with the `tokio` feature (that lock
# leaves out the dev-dependencies, whose tokio 1.54 would pin the library's tokio too).
# Installs the toolchain with rustup.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
msrv=$(sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml)
rustup toolchain install "$msrv" --profile minimal >/dev/null 2>&1 || rustup toolchain install "$msrv" --profile minimal
export CARGO_TARGET_DIR="$root/target/msrv"
check() { cargo "+$msrv" check -q --lib -p childfd -p childfd-platform; }

echo "== cargo +$msrv check --lib (committed Cargo.lock)"
check

echo "== cargo +$msrv check --lib (a lock resolved for Rust $msrv)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git ls-files -co --exclude-standard | tar -cf - -T - | tar -xf - -C "$tmp"
cd "$tmp"
rm -f Cargo.lock
python3 - <<'PY'
import re
text = open("Cargo.toml").read()
# The [dev-dependencies] table, up to the next table header.
open("Cargo.toml", "w").write(re.sub(r"(?ms)^\[dev-dependencies\]\n.*?(?=^\[)", "", text))
PY
CARGO_RESOLVER_INCOMPATIBLE_RUST_VERSIONS=fallback cargo generate-lockfile -q
check
echo "== cargo +$msrv check --lib --features tokio (the same lock: tokio $(
  sed -n '/^name = "tokio"$/{n;s/^version = "\(.*\)"/\1/p}' Cargo.lock))"
cargo "+$msrv" check -q --lib -p childfd --features tokio
echo "msrv: Rust $msrv builds childfd and childfd-platform, and childfd with tokio"
