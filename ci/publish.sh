#!/usr/bin/env bash
# `cargo publish --dry-run` for both crates, platform first. `--workspace` (cargo 1.90+)
# packages them in dependency order and verifies childfd against the packaged platform
# through a temporary local registry, so childfd's exact `=0.1.0` requirement on a crate
# that is not on crates.io yet needs neither `--no-verify` nor a [patch]. `--allow-dirty`
# lets it run on a work tree with uncommitted changes (it packages what is on disk).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="$PWD/target/publish"
cargo publish -q --dry-run --workspace --allow-dirty
echo "publish: dry run of childfd-platform and childfd passed"
