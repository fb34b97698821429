#!/usr/bin/env bash
# win-build.sh — release build of the crate's Windows executables (x86_64-pc-windows-gnu) from
# Linux, stripped with x86_64-w64-mingw32-strip; prints each .exe's path and size.
#
# Usage (from the crate root): scripts/win-build.sh [--clippy] [CARGO_ARGS...]
#   e.g. scripts/win-build.sh --bin eas-connector --no-default-features
#   --clippy  lint the crate's own code with clippy (-D warnings) during this very build:
#             clippy-driver as RUSTC_WORKSPACE_WRAPPER, as `cargo clippy` does it, but on the
#             real release build, so the dependencies and std are compiled once instead of
#             once checked (clippy) and once built. Lints what is built (the lib and the bins);
#             win-check.sh still lints --all-targets.
#   The stripped .exe files stay where cargo puts them:
#   $CARGO_TARGET_DIR/x86_64-pc-windows-gnu/release/ (default target/windows/...).
#
# Environment: EAS_WIN_CACHE, EAS_WIN_TARGET_DIR (see win-toolchain.sh);
#   CARGO_BUILD_JOBS (default 2: this machine is shared, never more than -j2).
set -euo pipefail

t0=$EPOCHREALTIME
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[ -f Cargo.toml ] || { echo "win-build: run me from the crate root (no Cargo.toml here)" >&2; exit 2; }

"$here/win-toolchain.sh"
# shellcheck source=/dev/null
. "${EAS_WIN_CACHE:-$HOME/.cache/eas-connector/win-toolchain}/env.sh"
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"

if [ "${1:-}" = "--clippy" ]; then
  shift
  RUSTC_WORKSPACE_WRAPPER=$(command -v clippy-driver) \
    || { echo "win-build: clippy-driver missing from the toolchain" >&2; exit 1; }
  export RUSTC_WORKSPACE_WRAPPER
  # clippy-driver reads its lint flags from CLIPPY_ARGS, separated like cargo-clippy does.
  export CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"
fi

# cargo reports the executables it produced as JSON on stdout (diagnostics still go to stderr
# as usual): collect exactly those, whatever --bin/--example filter was given.
# -Zbuild-std=std,panic_abort rather than bare -Zbuild-std: a crate whose profile sets
# panic = "abort" otherwise fails with E0463 "can't find crate for `panic_abort`"; building
# panic_abort too costs almost nothing and changes nothing for unwinding builds.
json=$(mktemp)
trap 'rm -f "$json"' EXIT
cargo build -Zbuild-std=std,panic_abort --release --target x86_64-pc-windows-gnu \
  --message-format=json-render-diagnostics "$@" >"$json"

mapfile -t exes < <(grep -o '"executable":"[^"]*\.exe"' "$json" | sed 's/^"executable":"//; s/"$//' | sort -u)
if [ "${#exes[@]}" -eq 0 ]; then
  echo "win-build: cargo built no .exe (a library-only selection?)" >&2
fi
for exe in "${exes[@]}"; do
  # strip rewrites the file in place (its hard-linked twin in deps/ is stripped too); the file
  # only gets newer, so cargo still sees the build as fresh. Stripping twice is harmless.
  x86_64-w64-mingw32-strip "$exe"
  printf '%s\t%s bytes (%s)\n' "$exe" "$(stat -c %s "$exe")" "$(du -h "$exe" | cut -f1)"
done

awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "win-build: done in %.1f s\n", b - a }' >&2
