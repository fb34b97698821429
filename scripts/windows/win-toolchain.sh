#!/usr/bin/env bash
# win-toolchain.sh — set up what is needed to type-check, build and run the Windows side from
# Debian bookworm (see shared/notes/windows-from-linux.md). Idempotent; a warm run takes well
# under a second.
#
# Usage: scripts/win-toolchain.sh [--system-only]
#   --system-only   only make sure the apt packages (mingw-w64, wine, fonts) are installed
#
# Environment:
#   EAS_WIN_CACHE        cache folder (default ~/.cache/eas-connector/win-toolchain)
#   EAS_WIN_TARGET_DIR   CARGO_TARGET_DIR that env.sh sets (default target/windows, relative
#                        to the crate root you run cargo from); read when env.sh is sourced
#   EAS_WIN_RUST_PIN     override the pinned rustc-web Debian version (testing the fallback)
#
# What it does:
#   1. apt-installs (root only, --no-install-recommends) the mingw-w64 cross toolchain, wine,
#      DejaVu fonts and Xvfb/xdotool/ImageMagick (the wizard's test) when missing; a non-root
#      user gets the exact command to run instead.
#   2. apt-get downloads Debian's rustc-web/cargo-web/rust-web-clippy/libstd-rust-web/rust-web-src
#      (pinned version below) and the libraries they need that the system lacks into
#      <cache>/debs, and unpacks them with dpkg -x into <cache>/root. Nothing is installed
#      system-wide, so rustup's cargo/rustc stay the default everywhere else.
#   3. writes <cache>/env.sh; source it to use that compiler for -Zbuild-std Windows builds.
set -euo pipefail

PIN_VERSION="${EAS_WIN_RUST_PIN:-1.96.0+dfsg1-1~deb12u2}"
CACHE="${EAS_WIN_CACHE:-$HOME/.cache/eas-connector/win-toolchain}"
ROOT="$CACHE/root"
DEBS="$CACHE/debs"
STAMP="$CACHE/toolchain.stamp"
ENV_FILE="$CACHE/env.sh"
SYSTEM_PKGS=(binutils-mingw-w64-x86-64 gcc-mingw-w64-x86-64 g++-mingw-w64-x86-64
             mingw-w64-x86-64-dev wine wine64 fonts-dejavu-core xvfb xdotool imagemagick)

t0=$EPOCHREALTIME
log() { printf 'win-toolchain: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
elapsed() { awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }'; }

system_only=0
case "${1:-}" in
  --system-only) system_only=1 ;;
  "") ;;
  -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
  *) die "unknown argument: $1 (see --help)" ;;
esac

is_root() { [ "$(id -u)" -eq 0 ]; }

# Prints the packages of "$@" that are not installed (one dpkg-query call: fast).
missing_pkgs() {
  local installed
  installed=$(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "$@" 2>/dev/null \
              | awk '$2 == "ii" { print $1 }' | sed 's/:.*//') || true
  local p
  for p in "$@"; do
    grep -qxF "$p" <<<"$installed" || printf '%s\n' "$p"
  done
}

APT_UPDATED=0
# As root, apt-get download drops privileges to _apt, which cannot write into /root/...:
# download as root directly instead of printing a sandbox warning per package.
APT_DL_OPTS=(-qq)
if [ "$(id -u)" -eq 0 ]; then APT_DL_OPTS+=(-o APT::Sandbox::User=root); fi
apt_update_once() {
  [ "$APT_UPDATED" -eq 1 ] && return 0
  if ! is_root; then
    log "warning: apt package lists may be stale, but only root can run apt-get update"
    return 0
  fi
  log "apt-get update"
  apt-get update -qq >&2
  APT_UPDATED=1
}

apt_install() {
  # $@: packages to install with apt (root only)
  [ "$#" -eq 0 ] && return 0
  if ! is_root; then
    die "missing Debian packages: $*
  install them first, as root:
    apt-get update && apt-get install -y --no-install-recommends $*"
  fi
  local p
  for p in "$@"; do
    if ! apt-cache show "$p" >/dev/null 2>&1; then apt_update_once; break; fi
  done
  log "apt-get install --no-install-recommends $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
}

# ---------------------------------------------------------------- 1. system packages
mapfile -t missing < <(missing_pkgs "${SYSTEM_PKGS[@]}")
apt_install "${missing[@]}"

if [ "$system_only" -eq 1 ]; then
  log "system packages present ($(elapsed) s)"
  exit 0
fi

# ---------------------------------------------------------------- 2. private Debian rustc
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9   # another run (CI, a second shell) may be unpacking right now

core_pkgs() {
  # $1: version -> the six packages of that rustc-web release
  local mm
  mm=$(sed -E 's/^([0-9]+\.[0-9]+)\..*/\1/' <<<"$1")
  printf '%s\n' rustc-web cargo-web rust-web-clippy rust-web-src libstd-rust-web-dev \
                "libstd-rust-web-$mm"
}

version_complete() {
  # true when every core package exists in the archive at exactly version $1
  local p
  while read -r p; do
    apt-cache show "$p=$1" >/dev/null 2>&1 || return 1
  done < <(core_pkgs "$1")
}

pick_version() {
  if version_complete "$PIN_VERSION"; then echo "$PIN_VERSION"; return; fi
  apt_update_once
  if version_complete "$PIN_VERSION"; then echo "$PIN_VERSION"; return; fi
  # Pinned version gone (e.g. superseded by a newer security upload): take the newest
  # rustc-web version for which rust-web-src and the rest exist at the same version.
  local v best=""
  while read -r v; do
    [ -n "$v" ] || continue
    version_complete "$v" || continue
    if [ -z "$best" ] || dpkg --compare-versions "$v" gt "$best"; then best=$v; fi
  done < <(apt-cache madison rustc-web | awk -F'|' '{ gsub(/ /, "", $2); print $2 }' | sort -u)
  [ -n "$best" ] || die "no rustc-web version with a matching rust-web-src in the apt archive"
  log "WARNING: pinned rustc-web $PIN_VERSION is no longer in the archive;" \
      "falling back to $best (the newest with a matching rust-web-src)"
  echo "$best"
}

# Path of the cached .deb for package $1 at version $2, downloading it if needed.
fetch_deb() {
  local pkg=$1 ver=$2 f
  for f in "$DEBS/${pkg}_"*.deb; do
    [ -e "$f" ] || continue
    if [ "$(dpkg-deb -f "$f" Version)" = "$ver" ]; then echo "$f"; return; fi
  done
  log "apt-get download $pkg=$ver"
  if ! (cd "$DEBS" && apt-get download "${APT_DL_OPTS[@]}" "$pkg=$ver" >&2); then
    apt_update_once
    (cd "$DEBS" && apt-get download "${APT_DL_OPTS[@]}" "$pkg=$ver" >&2) || die "cannot download $pkg=$ver"
  fi
  for f in "$DEBS/${pkg}_"*.deb; do
    if [ "$(dpkg-deb -f "$f" Version)" = "$ver" ]; then echo "$f"; return; fi
  done
  die "downloaded $pkg=$ver but cannot find its .deb in $DEBS"
}

install_toolchain() {
  local ver pkg dep name constraint f
  ver=$(pick_version)
  mkdir -p "$DEBS"
  local -a queue debs=() extra_system=()
  local -A seen=() present=()
  # Installed packages and what they Provide (libc-dev is virtual: libc6-dev provides it).
  while read -r name; do present[$name]=1; done < <(
    dpkg-query -W -f='${db:Status-Abbrev}|${Package}|${Provides}\n' \
      | awk -F'|' '$1 ~ /^ii/ { print $2; n = split($3, a, ","); for (i = 1; i <= n; i++) {
                                  sub(/^ +/, "", a[i]); sub(/ .*/, "", a[i]); print a[i] } }' \
      | sed 's/:.*//')
  mapfile -t queue < <(core_pkgs "$ver")
  for pkg in "${queue[@]}"; do seen[$pkg]=1; done
  local -A want_ver=()
  for pkg in "${queue[@]}"; do want_ver[$pkg]=$ver; done

  # Walk Depends: every library the system lacks is unpacked privately too (on bookworm this
  # is libllvm22 libgit2-1.5 libhttp-parser2.9 libmbedcrypto7 libmbedtls14 libmbedx509-1);
  # a missing non-library (gcc, binutils, libc-dev) is apt-installed instead.
  while [ "${#queue[@]}" -gt 0 ]; do
    pkg=${queue[0]}; queue=("${queue[@]:1}")
    if [ -z "${want_ver[$pkg]:-}" ]; then
      want_ver[$pkg]=$(apt-cache policy "$pkg" | awk '/Candidate:/ { print $2 }')
      if [ -z "${want_ver[$pkg]}" ] || [ "${want_ver[$pkg]}" = "(none)" ]; then
        die "no installable version of $pkg (needed by the Debian rust toolchain)"
      fi
    fi
    f=$(fetch_deb "$pkg" "${want_ver[$pkg]}")
    debs+=("$f")
    while read -r dep; do
      [ -n "$dep" ] || continue
      name=$(sed -E 's/[[:space:]]*\(.*//; s/:any$//' <<<"$dep")
      constraint=$(sed -nE 's/.*\(= *([^)]*)\).*/\1/p' <<<"$dep")
      [ -n "${seen[$name]:-}" ] && continue
      seen[$name]=1
      [ -n "${present[$name]:-}" ] && continue   # already on the system
      if [[ $name == lib* ]]; then
        [ -n "$constraint" ] && want_ver[$name]=$constraint
        queue+=("$name")
      else
        extra_system+=("$name")
      fi
    done < <( { dpkg-deb -f "$f" Pre-Depends; dpkg-deb -f "$f" Depends; } \
              | tr ',' '\n' | sed -E 's/\|.*//; s/^[[:space:]]+//; s/[[:space:]]+$//')
  done
  apt_install "${extra_system[@]}"

  log "unpacking ${#debs[@]} packages into $ROOT"
  rm -rf "$ROOT.new"
  mkdir -p "$ROOT.new"
  for f in "${debs[@]}"; do dpkg -x "$f" "$ROOT.new"; done

  # Sanity checks before switching over.
  local sysroot
  for b in rustc cargo clippy-driver cargo-clippy; do
    [ -x "$ROOT.new/usr/bin/$b" ] || die "$b missing from the unpacked packages"
  done
  LD_LIBRARY_PATH="$ROOT.new/usr/lib/x86_64-linux-gnu" "$ROOT.new/usr/bin/rustc" -vV >/dev/null \
    || die "the unpacked rustc does not start (a library missing?)"
  LD_LIBRARY_PATH="$ROOT.new/usr/lib/x86_64-linux-gnu" "$ROOT.new/usr/bin/cargo" -V >/dev/null \
    || die "the unpacked cargo does not start (a library missing?)"
  sysroot=$(LD_LIBRARY_PATH="$ROOT.new/usr/lib/x86_64-linux-gnu" "$ROOT.new/usr/bin/rustc" --print sysroot)
  [ -f "$sysroot/lib/rustlib/src/rust/library/std/Cargo.toml" ] \
    || die "std source not found under $sysroot/lib/rustlib/src/rust (rust-web-src layout changed?)"

  rm -rf "$ROOT"
  mv "$ROOT.new" "$ROOT"
  {
    echo "version=$ver"
    echo "pin=$PIN_VERSION"
    for f in "${debs[@]}"; do echo "deb=$(basename "$f")"; done
  } >"$STAMP"
  log "installed Debian rustc-web $ver (packages: $(sed -n 's/^deb=//p' "$STAMP" | tr '\n' ' '))"
}

# Reinstall when nothing is there yet, or when PIN_VERSION was changed since the last install.
if [ ! -f "$STAMP" ] || [ ! -x "$ROOT/usr/bin/rustc" ] || [ ! -x "$ROOT/usr/bin/cargo" ] \
   || ! grep -qxF "pin=$PIN_VERSION" "$STAMP"; then
  install_toolchain
fi

# ---------------------------------------------------------------- 3. env.sh
new_env=$(cat <<EOF
# Generated by scripts/win-toolchain.sh — source it (from the crate root) to cross-build for
# Windows with Debian's rustc $(sed -n 's/^version=//p' "$STAMP") and -Zbuild-std.
# Only this shell is affected; rustup stays the default everywhere else.
_eas_win_root='$ROOT'
case ":\$PATH:" in
  *":\$_eas_win_root/usr/bin:"*) ;;
  *) PATH="\$_eas_win_root/usr/bin:\$PATH" ;;
esac
export PATH
case ":\${LD_LIBRARY_PATH:-}:" in
  *":\$_eas_win_root/usr/lib/x86_64-linux-gnu:"*) ;;
  *) LD_LIBRARY_PATH="\$_eas_win_root/usr/lib/x86_64-linux-gnu\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}" ;;
esac
export LD_LIBRARY_PATH
export RUSTC="\$_eas_win_root/usr/bin/rustc"
export RUSTC_BOOTSTRAP=1
unset RUSTUP_TOOLCHAIN
export CARGO_TARGET_DIR="\${EAS_WIN_TARGET_DIR:-target/windows}"
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc
export CC_x86_64_pc_windows_gnu=x86_64-w64-mingw32-gcc
export CXX_x86_64_pc_windows_gnu=x86_64-w64-mingw32-g++
export AR_x86_64_pc_windows_gnu=x86_64-w64-mingw32-ar
unset _eas_win_root
EOF
)
if [ ! -f "$ENV_FILE" ] || [ "$(cat "$ENV_FILE")" != "$new_env" ]; then
  printf '%s\n' "$new_env" >"$ENV_FILE.tmp"
  mv "$ENV_FILE.tmp" "$ENV_FILE"
fi

log "ready: rustc-web $(sed -n 's/^version=//p' "$STAMP"); source $ENV_FILE ($(elapsed) s)"
