#!/usr/bin/env bash
# win-check.sh — clippy (warnings are errors) for the x86_64-pc-windows-gnu target, from Linux.
#
# Usage (from the crate root): scripts/win-check.sh [CARGO_ARGS...] [-- CLIPPY_ARGS...]
#   e.g. scripts/win-check.sh --no-default-features -- -W clippy::pedantic
#   Arguments before `--` go to cargo, after it to clippy (after `-D warnings`).
#
# Environment: EAS_WIN_CACHE, EAS_WIN_TARGET_DIR (see win-toolchain.sh);
#   CARGO_BUILD_JOBS (default 2: this machine is shared, never more than -j2).
set -euo pipefail

t0=$EPOCHREALTIME
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[ -f Cargo.toml ] || { echo "win-check: run me from the crate root (no Cargo.toml here)" >&2; exit 2; }

"$here/win-toolchain.sh"
# shellcheck source=/dev/null
. "${EAS_WIN_CACHE:-$HOME/.cache/eas-connector/win-toolchain}/env.sh"
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"

cargo_args=() lint_args=()
while [ "$#" -gt 0 ]; do
  if [ "$1" = "--" ]; then shift; lint_args=("$@"); break; fi
  cargo_args+=("$1"); shift
done

# --all-targets works under -Zbuild-std (verified): cargo adds the `test` crate to the std build
# when a test/bench target is checked, so no need to fall back to --lib --bins.
# -Zbuild-std=std,panic_abort rather than bare -Zbuild-std: a crate whose profile sets
# panic = "abort" otherwise fails with E0463 "can't find crate for `panic_abort`"; building
# panic_abort too costs almost nothing and changes nothing for unwinding builds.
status=0
cargo clippy -Zbuild-std=std,panic_abort --target x86_64-pc-windows-gnu --all-targets "${cargo_args[@]}" \
  -- -D warnings "${lint_args[@]}" || status=$?

awk -v a="$t0" -v b="$EPOCHREALTIME" -v s="$status" \
  'BEGIN { printf "win-check: %s in %.1f s\n", (s == 0 ? "clean" : "FAILED (exit " s ")"), b - a }' >&2
exit "$status"
