#!/usr/bin/env bash
# The whole test suite (unit, integration and doc tests) built for x86_64-pc-windows-gnu and
# run under Wine: the Windows `handle` backend for real, as far as Wine is Windows. Then, with
# the `tokio` feature, this crate's tests/tokio_*.rs and tokio's own process tests (those that
# build on Windows) against `childfd::tokio`, as ci/tokio.sh does on Linux. Installs
# what it lacks (mingw-w64 and Wine from apt, the rustup target), creates the Wine prefix and
# puts the bcryptprimitives.dll stub in it (see ci/bcryptprimitives.c). Ends with one summary
# line. x86_64-pc-windows-msvc cannot be linked here: ci/check.sh lints it only.
set -euo pipefail
cd "$(dirname "$0")/.."
target=x86_64-pc-windows-gnu

rustup target add "$target" >/dev/null 2>&1
if ! command -v x86_64-w64-mingw32-gcc >/dev/null || [ ! -x /usr/lib/wine/wine64 ]; then
  echo "== installing mingw-w64 and wine"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends gcc-mingw-w64-x86-64 wine wine64 >/dev/null
fi

# Explicit, because the stub must be in the prefix the tests run in.
export WINEPREFIX="${WINEPREFIX:-$HOME/.wine}"
# Quiet, but keeps err:module, which names a missing DLL.
export WINEDEBUG="${WINEDEBUG:-fixme-all,err-winediag,err-systray,err-ole}"
system32="$WINEPREFIX/drive_c/windows/system32"
if [ ! -d "$system32" ]; then
  echo "== creating the wine prefix $WINEPREFIX"
  # Prints a harmless syswow64/rundll32 error without wine32.
  WINEDEBUG=-all wineboot -i >/dev/null 2>&1 || true
  wineserver -w
fi
if [ ! -f "$system32/bcryptprimitives.dll" ] || [ ci/bcryptprimitives.c -nt "$system32/bcryptprimitives.dll" ]; then
  echo "== building the bcryptprimitives.dll stub"
  tmp=$(mktemp -d)
  x86_64-w64-mingw32-gcc -shared -O2 -s -o "$tmp/bcryptprimitives.dll" ci/bcryptprimitives.c -ladvapi32
  cp "$tmp/bcryptprimitives.dll" "$system32/"
  rm -rf "$tmp"
fi

log=$(mktemp)
trap 'rm -f "$log"; wineserver -k >/dev/null 2>&1 || true' EXIT
# wine64 rather than the `wine` wrapper, which prints a "wine32 is missing" notice per process.
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER=/usr/lib/wine/wine64

# `cargo test "$@"` under wine, its output appended to the log.
run() {
  local part
  part=$(mktemp)
  if ! cargo test "$@" 2>&1 | tee "$part"; then
    # Seen once in about twenty runs, not reproduced since: a failure under Wine that a rerun
    # did not show. Retried once, loudly; a second failure fails CI.
    echo "== RETRY: the run under wine failed; running it once more"
    wineserver -k >/dev/null 2>&1 || true
    if ! cargo test "$@" 2>&1 | tee "$part"; then
      cat "$part" >>"$log"
      rm -f "$part"
      return 1
    fi
  fi
  cat "$part" >>"$log"
  rm -f "$part"
}

echo "== cargo test --workspace --target $target (under wine)"
run --workspace --target "$target"

repo=$PWD
own=$(ls tests/tokio_*.rs | xargs -n1 basename | sed 's/\.rs$//; s/^/--test /')
echo "== this crate's tokio tests: --features tokio --target $target (under wine)"
# shellcheck disable=SC2086
run --target "$target" --features tokio $own

# tokio's own process tests with `tokio::process` replaced by `childfd::tokio` (see
# ci/tokio-project.sh), as in ci/tokio.sh. Those that build on Windows are process_smoke.rs,
# process_kill_after_wait.rs and process_raw_handle.rs; the others are `cfg(unix)` and build
# as empty binaries.
work=$repo/target/tokio-process-tests-windows
bash ci/tokio-project.sh "$work"
cd "$work"
# Excluded, by name: drop_pending_child_unregisters_wait_before_closing_handle
# (process_raw_handle.rs). It checks tokio's own wait registration: that a `wait` future
# dropped while pending leaves its RegisterWaitForSingleObject wait, and the waker stored in
# it, alive until the `Child` is dropped (and that the `Child` unregisters it before closing
# the handle). Here the handle is watched by the crate's reactor, not by the `wait` future,
# and a dropped wait unregisters its waker at once: the waker dies before the `Child`, the
# handle still open, so the test's "waker not dropped yet" assertion fails. What it guards (no
# waker outliving the handle) holds here too. Not a Wine limitation: a design difference.
skip=drop_pending_child_unregisters_wait_before_closing_handle
echo "== excluded: $skip (tokio's own wait registration: see ci/windows.sh)"
run --target "$target" --tests -- --skip "$skip"

awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed/) p += $(i-1); if ($i ~ /^failed/) f += $(i-1) } }
     END { printf "windows tests (wine): %d passed, %d failed\n", p, f; exit (p == 0 || f > 0) }' "$log"
