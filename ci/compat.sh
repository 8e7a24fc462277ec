#!/usr/bin/env bash
# Drop-in check (issue 12): code written for async-process 2.5 runs unchanged on childfd.
#
# 1. Fetches async-process 2.5.0's published crate through cargo (nothing of it is committed
#    here) and runs its own tests/std.rs and tests/sleep.rs, unmodified, against a crate
#    named `async-process` whose whole source is `pub use childfd::*;` (this checkout).
# 2. Builds async-std 1.13 with `unstable` (its process module wraps async-process) against
#    that crate through [patch.crates-io], for Linux, and checks it for both Windows targets.
# 3. Published dependents of async-process 2.x, through the same [patch.crates-io]:
#    - smol 2.0.2 re-exports it as smol::process and has no tests of its own: a small program
#      drives a child through smol::process (piped stdin and stdout, exit code, kill).
#    - zbus 5.19.0 (default feature async-io; the last 5.x: zbus 6 no longer uses async-process)
#      spawns the `unixexec:` transport's program with async-process, stdin and stdout piped; its own tests/unixexec.rs is run from the published crate, unmodified. It
#      runs `systemd-stdio-bridge`, which talks to the system bus: a private dbus-daemon on a
#      socket in the temporary directory stands in for it, and a wrapper first on PATH points
#      the real bridge there. Without dbus-daemon or systemd-stdio-bridge the test is only
#      built, and the script says so.
#    Each one checks with `cargo tree -i childfd` that the patch was used.
#
# Work happens in a temporary directory; the target directory is target/compat in this
# checkout, so that a second run only rebuilds what changed. Ends with one summary line.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
version=2.5.0
export CARGO_TARGET_DIR="$root/target/compat"
tmp=$(mktemp -d)
bus_pid=
trap '[ -z "$bus_pid" ] || kill "$bus_pid" 2>/dev/null; rm -rf "$tmp"' EXIT

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


echo "== smol 2.0.2: smol::process on async-process = childfd"
smol_app="$tmp/smol-app"
mkdir -p "$smol_app/src"
cat >"$smol_app/Cargo.toml" <<EOF
[package]
name = "smol-on-childfd"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
smol = "=2.0.2"

[patch.crates-io]
async-process = { path = "$shim" }

[workspace]
EOF
cat >"$smol_app/src/main.rs" <<'EOF'
use smol::io::{AsyncReadExt, AsyncWriteExt};
use smol::process::{Command, Stdio};

fn main() -> std::io::Result<()> {
    smol::block_on(async {
        let mut child = Command::new("sh")
            .args(["-c", "read line; echo \"got $line\"; exit 3"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let mut stdin = child.stdin.take().expect("piped stdin");
        stdin.write_all(b"ping\n").await?;
        drop(stdin);
        let mut out = String::new();
        child.stdout.take().expect("piped stdout").read_to_string(&mut out).await?;
        assert_eq!(out, "got ping\n");
        assert_eq!(child.status().await?.code(), Some(3));

        let mut sleeper = Command::new("sleep").arg("30").kill_on_drop(true).spawn()?;
        sleeper.kill()?;
        let status = sleeper.status().await?;
        assert_eq!(std::os::unix::process::ExitStatusExt::signal(&status), Some(9));

        let out = Command::new("echo").arg("hi").output().await?;
        assert!(out.status.success());
        assert_eq!(out.stdout, b"hi\n");
        println!("smol on childfd: ok");
        Ok(())
    })
}
EOF
cargo run -q --manifest-path "$smol_app/Cargo.toml"
cargo tree -q --manifest-path "$smol_app/Cargo.toml" -i childfd >/dev/null

zbus_version=5.19.0
echo "== zbus $zbus_version: its tests/unixexec.rs on async-process = childfd"
mkdir -p "$tmp/fetch-zbus/src"
cat >"$tmp/fetch-zbus/Cargo.toml" <<EOF
[package]
name = "fetch-zbus"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
zbus = "=$zbus_version"

[workspace]
EOF
touch "$tmp/fetch-zbus/src/lib.rs"
cargo fetch -q --manifest-path "$tmp/fetch-zbus/Cargo.toml"
zbus_src=$(cargo metadata -q --format-version 1 --manifest-path "$tmp/fetch-zbus/Cargo.toml" |
  python3 -c 'import json, os, sys
for p in json.load(sys.stdin)["packages"]:
    if p["name"] == "zbus":
        print(os.path.dirname(p["manifest_path"]))')
[ -f "$zbus_src/tests/unixexec.rs" ] || { echo "no tests/unixexec.rs in $zbus_src"; exit 1; }
# A copy: the registry's sources are read-only, and the manifest gets the patch.
zbus="$tmp/zbus"
cp -r "$zbus_src" "$zbus"
chmod -R u+w "$zbus"
cat >>"$zbus/Cargo.toml" <<EOF

[patch.crates-io]
async-process = { path = "$shim" }

[workspace]
EOF
cargo test -q --manifest-path "$zbus/Cargo.toml" --test unixexec --no-run
cargo tree -q --manifest-path "$zbus/Cargo.toml" -e normal -i childfd >/dev/null
zbus_ran=
if command -v dbus-daemon >/dev/null && command -v systemd-stdio-bridge >/dev/null; then
  cat >"$tmp/bus.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=$tmp/bus</listen>
  <auth>EXTERNAL</auth>
  <!-- Without receive_sender the bus drops its replies to the bridge and the test times out. -->
  <policy context="default">
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
    <allow own="*"/>
  </policy>
</busconfig>
EOF
  dbus-daemon --config-file="$tmp/bus.conf" --nofork 2>"$tmp/bus.log" &
  bus_pid=$!
  for _ in $(seq 50); do [ -S "$tmp/bus" ] && break; sleep 0.1; done
  [ -S "$tmp/bus" ] || { cat "$tmp/bus.log"; echo "dbus-daemon did not start"; exit 1; }
  # The test runs `systemd-stdio-bridge` by name: this one forwards to the private bus.
  mkdir -p "$tmp/bin"
  printf '#!/bin/sh\nexec %s --bus-path=unix:path=%s "$@"\n' \
    "$(command -v systemd-stdio-bridge)" "$tmp/bus" >"$tmp/bin/systemd-stdio-bridge"
  chmod +x "$tmp/bin/systemd-stdio-bridge"
  (cd "$zbus" && PATH="$tmp/bin:$PATH" cargo test -q --test unixexec 2>&1) | tee "$tmp/zbus.log"
  kill "$bus_pid"
  wait "$bus_pid" 2>/dev/null || true
  bus_pid=
  zbus_ran=1
else
  echo "zbus tests/unixexec.rs built, NOT run: it needs dbus-daemon and systemd-stdio-bridge"
  echo "(Debian: apt-get install dbus-daemon systemd)"
  : >"$tmp/zbus.log"
fi

count='/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed/) p += $(i-1); if ($i ~ /^failed/) f += $(i-1) } }
       END { printf "%d %d\n", p, f }'
read -r ap_pass ap_fail < <(awk "$count" "$log")
read -r zb_pass zb_fail < <(awk "$count" "$tmp/zbus.log")
if [ -n "$zbus_ran" ]; then
  zbus_said="zbus $zbus_version tests/unixexec.rs: $zb_pass passed, $zb_fail failed"
else
  zbus_said="zbus $zbus_version tests/unixexec.rs built, not run (no dbus-daemon or systemd-stdio-bridge)"
fi
echo "async-process $version tests on childfd: $ap_pass passed, $ap_fail failed; $zbus_said;" \
  "smol 2.0.2 drives children; async-std 1.13 builds (linux) and checks (windows gnu, msvc)"
[ "$ap_pass" -gt 0 ] && [ "$ap_fail" -eq 0 ] && [ "$zb_fail" -eq 0 ] &&
  { [ -z "$zbus_ran" ] || [ "$zb_pass" -gt 0 ]; }
