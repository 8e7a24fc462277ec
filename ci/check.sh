#!/usr/bin/env bash
# fmt, clippy and rustdoc with warnings as errors, on Linux and on every target that is
# compile-checked only (no linker for them here: see README, "Platforms").
set -euo pipefail
export RUSTDOCFLAGS="-D warnings"
cargo fmt --all -- --check
for target in "" x86_64-unknown-freebsd x86_64-apple-darwin x86_64-pc-windows-msvc; do
  flag=${target:+--target $target}
  echo "== clippy and doc ${target:-host}"
  cargo clippy --workspace --all-targets $flag -- -D warnings
  cargo doc --workspace --no-deps $flag
  echo "== clippy and doc ${target:-host}, feature tokio"
  cargo clippy --workspace --all-targets $flag --features childfd/tokio -- -D warnings
  cargo doc --workspace --no-deps $flag --features childfd/tokio
done
