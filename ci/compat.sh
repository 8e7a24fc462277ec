#!/usr/bin/env bash
# Drop-in check (issue 12): code written for async-process 2.5 runs unchanged on childfd.
#
# 1. Fetches async-process 2.5.0's published crate through cargo (nothing of it is committed
#    here) and runs its own tests/std.rs and tests/sleep.rs, unmodified, against a crate
#    named `async-process` whose whole source is `pub use childfd::*;` (this checkout).
# 2. Builds async-std 1.13 with `unstable` (its process module wraps async-process) against
#    that crate through [patch.crates-io], for Linux, and checks it for both Windows targets.
#
# Work happens in a temporary directory; the target directory is target/compat in this
# checkout, so that a second run only rebuilds what changed. Ends with one summary line.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
version=2.5.0
export CARGO_TARGET_DIR="$root/target/compat"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "== fetching async-process $version"
mkdir -p "$tmp/fetch/src"
cat >"$tmp/fetch/Cargo.toml" <<EOF
[package]
name = "fetch-async-process"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
async-process = "=$version"
EOF
touch "$tmp/fetch/src/lib.rs"
cargo fetch -q --manifest-path "$tmp/fetch/Cargo.toml"
upstream=$(cargo metadata -q --format-version 1 --manifest-path "$tmp/fetch/Cargo.toml" |
  python3 -c 'import json, os, sys
for p in json.load(sys.stdin)["packages"]:
    if p["name"] == "async-process":
        print(os.path.dirname(p["manifest_path"]))')
[ -f "$upstream/tests/std.rs" ] || { echo "no tests/std.rs in $upstream"; exit 1; }

echo "== async-process = childfd, from $upstream"
shim="$tmp/async-process"
mkdir -p "$shim/src" "$shim/tests"
# The version async-std's requirement (^2) and the patch below need.
cat >"$shim/Cargo.toml" <<EOF
[package]
name = "async-process"
version = "$version"
edition = "2021"
publish = false

[dependencies]
childfd = { path = "$root" }

# What async-process's own tests use.
[dev-dependencies]
futures-lite = "2"

[target.'cfg(windows)'.dev-dependencies]
windows-sys = { version = "0.61", features = ["Win32_Foundation", "Win32_System_Threading"] }

[workspace]
EOF
echo 'pub use childfd::*;' >"$shim/src/lib.rs"
cp "$upstream/tests/std.rs" "$upstream/tests/sleep.rs" "$shim/tests/"
log="$tmp/test.log"
# From the crate's directory: tests/std.rs reads its Cargo.toml (test_into_inner).
(cd "$shim" && cargo test -q --tests 2>&1) | tee "$log"

echo "== async-std 1.13 (unstable) on async-process = childfd"
app="$tmp/async-std-app"
mkdir -p "$app/src"
cat >"$app/Cargo.toml" <<EOF
[package]
name = "async-std-on-childfd"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
async-std = { version = "~1.13", features = ["unstable"] }

[patch.crates-io]
async-process = { path = "$shim" }

[workspace]
EOF
# Uses async-std's process module, so that a failure cannot hide behind dead code.
cat >"$app/src/main.rs" <<'EOF'
fn main() -> std::io::Result<()> {
    async_std::task::block_on(async {
        let out = async_std::process::Command::new(if cfg!(windows) { "cmd" } else { "echo" })
            .args(if cfg!(windows) { &["/C", "echo hi"][..] } else { &["hi"][..] })
            .stdout(async_std::process::Stdio::piped())
            .output()
            .await?;
        assert!(out.status.success());
        assert!(out.stdout.starts_with(b"hi"));
        println!("async-std on childfd: ok");
        Ok(())
    })
}
EOF
cargo run -q --manifest-path "$app/Cargo.toml"
# The patch must have been used: otherwise this checked the real async-process.
cargo tree -q --manifest-path "$app/Cargo.toml" -i childfd >/dev/null
for target in x86_64-pc-windows-gnu x86_64-pc-windows-msvc; do
  rustup target add "$target" >/dev/null 2>&1
  echo "== cargo check --target $target"
  cargo check -q --manifest-path "$app/Cargo.toml" --target "$target"
done

awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed/) p += $(i-1); if ($i ~ /^failed/) f += $(i-1) } }
     END { printf "async-process %s tests on childfd: %d passed, %d failed; async-std 1.13 builds (linux) and checks (windows gnu, msvc)\n", v, p, f; exit (p == 0 || f > 0) }' v="$version" "$log"
