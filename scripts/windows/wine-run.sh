#!/usr/bin/env bash
# wine-run.sh — run a Windows executable under wine in the project's prefix and exit with the
# executable's exit code (wine passes it through; codes are taken mod 256 by Linux).
#
# Usage: scripts/wine-run.sh PROGRAM.exe [ARGS...]
#   e.g. scripts/wine-run.sh target/windows/x86_64-pc-windows-gnu/release/eas-connector.exe --help
#   PROGRAM may be a Linux path (wine maps it through Z:) or a Windows command such as `cmd /c`.
#
# Environment:
#   EAS_WINEPREFIX     the prefix (default ~/.cache/eas-connector/wineprefix); made on first use
#                      by wine-prefix.sh (about 15-20 s), a few ms afterwards
#   WINEDEBUG          default -all (set e.g. WINEDEBUG=err+all to see wine's complaints)
#   WINEDLLOVERRIDES   default "mscoree,mshtml=" (no Mono/Gecko)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[ "$#" -ge 1 ] || { sed -n '2,14p' "$0" >&2; exit 2; }

"$here/wine-prefix.sh" --quiet

export WINEPREFIX="${EAS_WINEPREFIX:-$HOME/.cache/eas-connector/wineprefix}"
export WINEARCH=win64
export WINEDEBUG="${WINEDEBUG:--all}"
export WINEDLLOVERRIDES="${WINEDLLOVERRIDES-mscoree,mshtml=}"
exec wine "$@"
