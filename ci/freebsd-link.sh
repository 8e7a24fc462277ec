#!/usr/bin/env bash
# Optional, not run by .ci/run: links the FreeBSD test binaries and examples with zig
# (cargo-zigbuild), which catches what `cargo check` cannot: a libc symbol FreeBSD does not
# have, a wrong symbol version, a link-level mistake. The binaries cannot run here (FreeBSD is
# compile-checked only, see the README); ci/freebsd.sh runs them on a FreeBSD machine.
# About 40 s from a cold target directory, plus 10 s for the first install.
set -euo pipefail
cd "$(dirname "$0")/.."
target=x86_64-unknown-freebsd
venv=${ZIGENV:-/tmp/zigenv}
if [ ! -x "$venv/bin/cargo-zigbuild" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q ziglang cargo-zigbuild
fi
rustup target add "$target" >/dev/null
PATH="$venv/bin:$PATH" cargo zigbuild --workspace --target "$target" --tests --examples
# What a FreeBSD machine will be asked for: the procdesc calls, with their symbol versions.
bin=$(find "target/$target/debug/deps" -maxdepth 1 -type f -perm -u+x -name 'childfd-*' | head -n 1)
if command -v nm >/dev/null && [ -n "$bin" ]; then
  nm -D --undefined-only "$bin" | grep -E ' (pdfork|pdkill|kevent|kqueue|wait4)@' || true
fi
echo "freebsd-link: linked $(find "target/$target/debug/deps" "target/$target/debug/examples" \
  -maxdepth 1 -type f -perm -u+x ! -name '*.so' | wc -l) FreeBSD executables"
