#!/usr/bin/env bash
# The platform crate's pure logic (wait-status decoding, the FreeBSD backend's decisions) under
# Miri, compiled for FreeBSD: the closest this Linux machine gets to running FreeBSD code.
# Optional (not in .ci/run): needs a nightly toolchain with the miri component.
set -euo pipefail
cd "$(dirname "$0")/.."
rustup component add --toolchain nightly miri rust-src >/dev/null
cargo +nightly miri setup --target x86_64-unknown-freebsd >/dev/null 2>&1 || true
cargo +nightly miri test -p childfd-platform --target x86_64-unknown-freebsd
