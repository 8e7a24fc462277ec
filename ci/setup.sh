#!/usr/bin/env bash
# Installs what a fresh machine lacks: the cross targets that are compile-checked.
set -euo pipefail
rustup component add rustfmt clippy >/dev/null 2>&1 || true
rustup target add x86_64-unknown-freebsd x86_64-pc-windows-msvc >/dev/null
