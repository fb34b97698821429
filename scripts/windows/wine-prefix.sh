#!/usr/bin/env bash
# wine-prefix.sh — create or refresh the wine prefix used to run our Windows executables.
# Idempotent; a warm run (prefix made, nothing changed) takes a few milliseconds.
#
# Usage: scripts/wine-prefix.sh [--quiet] [--force]
#   --quiet   print nothing unless something is (re)made
#   --force   run `wineboot -u` and reinstall the DLL and font even if the prefix looks current
#
# Environment:
#   EAS_WINEPREFIX   the prefix (default ~/.cache/eas-connector/wineprefix)
#   EAS_WIN_CACHE    passed on to win-toolchain.sh (only its --system-only part is used here)
#
# What the prefix gets:
#   - wineboot -u with WINEDEBUG=-all and WINEDLLOVERRIDES="mscoree,mshtml=" (no Mono/Gecko
#     install prompts; they could not be downloaded here anyway)
#   - system32/bcryptprimitives.dll built from scripts/wine/bcryptprimitives.c: wine 8.0 lacks
#     it, and every Rust >= 1.78 exe imports its ProcessPrng (else: exit 53, no output)
#   - windows/Fonts/DejaVuSans.ttf, so GUI toolkits (iced) that rely on system fonts draw text
set -euo pipefail

t0=$EPOCHREALTIME
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PREFIX="${EAS_WINEPREFIX:-$HOME/.cache/eas-connector/wineprefix}"
SRC="$here/wine/bcryptprimitives.c"
DEF="$here/wine/bcryptprimitives.def"
FONT=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf

quiet=0 force=0
for a in "$@"; do
  case "$a" in
    --quiet) quiet=1 ;;
    --force) force=1 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "wine-prefix: unknown argument: $a" >&2; exit 2 ;;
  esac
done
log() { printf 'wine-prefix: %s\n' "$*" >&2; }
elapsed() { awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }'; }

# wine, mingw gcc and the font come from apt; this is a no-op (one dpkg-query) when present.
if [ "$quiet" -eq 1 ]; then
  "$here/win-toolchain.sh" --system-only 2>/dev/null || "$here/win-toolchain.sh" --system-only
else
  "$here/win-toolchain.sh" --system-only
fi

export WINEPREFIX="$PREFIX" WINEARCH=win64 WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
SYS32="$PREFIX/drive_c/windows/system32"
FONTS="$PREFIX/drive_c/windows/Fonts"
STAMP="$PREFIX/.eas-prefix.stamp"

want_stamp=$(printf 'wine=%s\ndll=%s\nfont=%s\n' "$(wine --version)" \
  "$(cat "$SRC" "$DEF" | sha256sum | cut -d' ' -f1)" "$(stat -c %s "$FONT")")
if [ "$force" -eq 0 ] && [ -f "$PREFIX/system.reg" ] && [ -f "$STAMP" ] \
   && [ "$(cat "$STAMP")" = "$want_stamp" ] \
   && [ -f "$SYS32/bcryptprimitives.dll" ] && [ -f "$FONTS/DejaVuSans.ttf" ]; then
  [ "$quiet" -eq 1 ] || log "prefix $PREFIX is current ($(elapsed) s)"
  exit 0
fi

mkdir -p "$(dirname "$PREFIX")"
exec 9>"$PREFIX.lock"
flock 9

if [ "$force" -eq 1 ] || [ ! -f "$PREFIX/system.reg" ] || ! grep -q "^wine=$(wine --version)\$" "$STAMP" 2>/dev/null; then
  log "wineboot -u in $PREFIX"
  wine wineboot -u >/dev/null 2>&1 || { log "error: wineboot failed"; exit 1; }
  wineserver -w   # let the registry etc. reach the disk before we touch the prefix
fi
[ -d "$SYS32" ] || { log "error: $SYS32 missing after wineboot"; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
x86_64-w64-mingw32-gcc -O2 -Wall -Wextra -Werror -shared -s -static-libgcc \
  -o "$tmp/bcryptprimitives.dll" "$SRC" "$DEF" -ladvapi32
# Replace, never write through: wine may have the old file mapped in a running process.
install -m 0644 "$tmp/bcryptprimitives.dll" "$SYS32/bcryptprimitives.dll"
mkdir -p "$FONTS"
install -m 0644 "$FONT" "$FONTS/DejaVuSans.ttf"
printf '%s\n' "$want_stamp" >"$STAMP"
log "prefix $PREFIX ready: bcryptprimitives.dll stand-in + DejaVuSans.ttf installed ($(elapsed) s)"
