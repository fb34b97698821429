#!/usr/bin/env bash
# msi.sh — build the Windows installer target/windows/eas-connector-<version>.msi from the release
# exes that win-build.sh produced, with wixl (package wixl) from wix/main.wxs.
#
# Usage (from anywhere): scripts/windows/msi.sh [--exe-dir DIR] [--out-dir DIR]
#   --exe-dir DIR  where eas-connector.exe and eas-connector-setup.exe are
#                  [default: $EAS_WIN_TARGET_DIR/x86_64-pc-windows-gnu/release]
#   --out-dir DIR  where the .msi goes [default: $EAS_WIN_TARGET_DIR, i.e. target/windows]
#   Prints the .msi's path on stdout.
#
# Version: Cargo.toml's [package] version; the MSI's ProductVersion is its numeric part
# (0.2.0-rc.1 -> 0.2.0: Windows Installer accepts only digits and dots).
# Both executables are required: the CLI/service and the setup wizard (with its Start Menu
# shortcut "EAS Connector Setup", opened at the end of an interactive install).
#
# After wixl, two rows wixl cannot express are fixed with msibuild (see wix/main.wxs):
#   - Upgrade WIX_UPGRADE_DETECTED gets Attributes 513 (same-version major upgrades);
#   - SecureCustomProperties gets PURGE.
# It must not build the exes (win-build.sh does) nor install anything (wine-tests.sh does).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
target_dir=${EAS_WIN_TARGET_DIR:-target/windows}
case "$target_dir" in /*) ;; *) target_dir="$root/$target_dir" ;; esac
exe_dir="$target_dir/x86_64-pc-windows-gnu/release"
out_dir="$target_dir"
while [ "$#" -gt 0 ]; do
  case "$1" in
    --exe-dir) exe_dir=$(cd "$2" && pwd); shift 2 ;;
    --out-dir) mkdir -p "$2"; out_dir=$(cd "$2" && pwd); shift 2 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "msi.sh: unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done

for tool in wixl msibuild; do
  command -v "$tool" >/dev/null || { echo "msi.sh: $tool missing: apt-get install wixl msitools" >&2; exit 1; }
done
for exe in eas-connector.exe eas-connector-setup.exe; do
  [ -f "$exe_dir/$exe" ] \
    || { echo "msi.sh: $exe_dir/$exe missing; run scripts/windows/win-build.sh --bins first" >&2; exit 1; }
done

version=$(awk -F'"' '/^\[/ { pkg = ($0 == "[package]") } pkg && /^version *=/ { print $2; exit }' "$root/Cargo.toml")
[ -n "$version" ] || { echo "msi.sh: no [package] version in Cargo.toml" >&2; exit 1; }
msi_version=${version%%[-+]*}
[[ $msi_version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "msi.sh: bad version '$version'" >&2; exit 1; }
upgrade_code=$(sed -n 's/.*UpgradeCode="\([0-9A-Fa-f-]*\)".*/\1/p' "$root/wix/main.wxs")
[ -n "$upgrade_code" ] || { echo "msi.sh: no UpgradeCode in wix/main.wxs" >&2; exit 1; }

# wixl wants SourceDir relative to its working directory: stage the files under out_dir.
stage_name=.msi-stage
stage="$out_dir/$stage_name"
rm -rf "$stage"
mkdir -p "$stage"
trap 'rm -rf "$stage" "$out_dir/.eas-connector.msi.tmp"' EXIT
cp "$exe_dir/eas-connector.exe" "$exe_dir/eas-connector-setup.exe" "$root/assets/eas-connector.ico" "$stage/"
defines=(-D "Version=$msi_version" -D "SourceDir=$stage_name")

tmp_msi=.eas-connector.msi.tmp
log=$(cd "$out_dir" && wixl -a x64 "${defines[@]}" -o "$tmp_msi" "$root/wix/main.wxs" 2>&1) || {
  printf '%s\n' "$log" >&2; echo "msi.sh: wixl failed" >&2; exit 1; }
# Known, handled by the msibuild fixes below: Property/@Secure is ignored by wixl.
grep -v -e "has no property named 'Secure'" -e '^$' <<<"$log" >&2 || true

msibuild "$out_dir/$tmp_msi" \
  -q "DELETE FROM Upgrade WHERE ActionProperty = 'WIX_UPGRADE_DETECTED'" \
  -q "INSERT INTO Upgrade (UpgradeCode, VersionMax, Attributes, ActionProperty) VALUES ('{$upgrade_code}', '$msi_version', 513, 'WIX_UPGRADE_DETECTED')" \
  -q "UPDATE Property SET Value = 'PURGE;WIX_DOWNGRADE_DETECTED;WIX_UPGRADE_DETECTED' WHERE Property = 'SecureCustomProperties'"

msi="$out_dir/eas-connector-$version.msi"
mv "$out_dir/$tmp_msi" "$msi"
echo "msi.sh: $msi ($(stat -c %s "$msi") bytes, ProductVersion $msi_version)" >&2
echo "$msi"
