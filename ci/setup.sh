#!/usr/bin/env bash
# Installs what a fresh machine lacks: the cross targets that are compile-checked, and strace
# for tests/strace.rs.
set -euo pipefail
rustup component add rustfmt clippy >/dev/null 2>&1 || true
rustup target add x86_64-unknown-freebsd x86_64-apple-darwin x86_64-pc-windows-msvc >/dev/null
if ! command -v strace >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends strace >/dev/null
fi
