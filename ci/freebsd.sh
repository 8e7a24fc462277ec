#!/bin/sh
# The test suite on a real FreeBSD machine (12.0 or later, the libc ABI this crate links
# against). CI here has none: there FreeBSD is compile-checked only (ci/check.sh, and
# optionally ci/freebsd-link.sh). Runs the suite with the procdesc backend, forced so that a
# wrong choice fails loudly, then with the helper-thread fallback, and ends with one summary
# line, as ci/test.sh does on Linux. Plain sh: bash is not in FreeBSD's base system.
set -eu
cd "$(dirname "$0")/.."
if [ "$(uname -s)" != FreeBSD ]; then
  echo "ci/freebsd.sh: run this on FreeBSD, not $(uname -s)" >&2
  exit 2
fi
export PATH="$HOME/.cargo/bin:$PATH"
if ! command -v cargo >/dev/null; then
  # fetch(1) is in base; `pkg install rust` would do too, at the ports tree's version.
  fetch -o /tmp/rustup-init.sh https://sh.rustup.rs
  sh /tmp/rustup-init.sh -y --profile minimal
fi
uname -a
freebsd-version -ku
echo "kern.osreldate: $(sysctl -n kern.osreldate)"
cargo --version
log=$(mktemp)
out=$(mktemp)
trap 'rm -f "$log" "$out"' EXIT
status=0
for backend in procdesc thread; do
  echo "== cargo test --workspace (backend: CHILDFD_BACKEND=$backend)"
  if ! CHILDFD_BACKEND=$backend cargo test --workspace >"$out" 2>&1; then
    status=1
  fi
  cat "$out"
  cat "$out" >>"$log"
done
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed/) p += $(i-1); if ($i ~ /^failed/) f += $(i-1) } }
     END { printf "tests: %d passed, %d failed\n", p, f; exit (p == 0 || f > 0) }' "$log" || status=1
exit "$status"
