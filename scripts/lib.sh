# Shared helpers for the project's scripts (sourced, not run).
# shellcheck shell=bash

# Install Debian packages that are missing (only those), when we are root; otherwise say which
# are missing and stop.
ensure_packages() {
    local missing=()
    local p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        echo "error: missing Debian packages: ${missing[*]}" >&2
        echo "       install them with: sudo apt-get install --no-install-recommends ${missing[*]}" >&2
        return 1
    fi
    echo "==> installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
}

# Packages needed to build the project on Linux.
BUILD_PACKAGES=(pkg-config libdbus-1-dev gcc)

# Extra packages for the Windows part (scripts/windows/check): mingw-w64 to link the .exe and
# build test helpers, wine to run them, wixl/msitools to build and read the MSI, a font for
# GUI text under wine, python3 for a byte-level password scan, MIT's KDC (krb5kdc, kdb5_util;
# kadmin.local) for the throwaway realm the Windows exe signs in to with Kerberos, and dnsmasq
# to serve that realm's _kerberos._tcp SRV record.
WINDOWS_PACKAGES=(binutils-mingw-w64-x86-64 gcc-mingw-w64-x86-64 g++-mingw-w64-x86-64
                  mingw-w64-x86-64-dev wine wine64 wixl msitools fonts-dejavu-core python3
                  krb5-kdc krb5-admin-server dnsmasq-base)

step() { printf '\n==> %s\n' "$*"; }
