#!/usr/bin/env bash
# msi-tables.sh — check the rows of the built MSI with msiinfo (no wine needed): files, 64-bit
# components, directories, the wizard's Start Menu shortcut, custom actions and their sequence
# numbers (uninstall clean-up, the wizard opened after an interactive install), upgrade rows,
# properties, and that the cabinet holds exactly the built executables.
#
# Usage: scripts/windows/msi-tables.sh [MSI]   [default: target/windows/eas-connector-<version>.msi]
# Prints one ok/FAIL line per check and "N passed, M failed"; exits non-zero on any failure.
# It must not modify the MSI it checks.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=scripts/windows/testlib.sh
. "$here/testlib.sh"

target_dir=${EAS_WIN_TARGET_DIR:-target/windows}
case "$target_dir" in /*) ;; *) target_dir="$root/$target_dir" ;; esac
version=$(awk -F'"' '/^\[/ { pkg = ($0 == "[package]") } pkg && /^version *=/ { print $2; exit }' "$root/Cargo.toml")
msi_version=${version%%[-+]*}
msi=${1:-$target_dir/eas-connector-$version.msi}
exe="$target_dir/x86_64-pc-windows-gnu/release/eas-connector.exe"
wizard="$target_dir/x86_64-pc-windows-gnu/release/eas-connector-setup.exe"
[ -f "$msi" ] || { echo "msi-tables: $msi missing; run scripts/windows/msi.sh first" >&2; exit 1; }
upgrade_code=$(sed -n 's/.*UpgradeCode="\([0-9A-Fa-f-]*\)".*/\1/p' "$root/wix/main.wxs")

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# rows MSI TABLE: the table's data rows (tab-separated; msiinfo's 3 header lines dropped).
rows() { msiinfo export "$1" "$2" | tail -n +4 | tr -d '\r'; }
# row MSI TABLE KEY: the row whose first column is KEY.
row() { rows "$1" "$2" | awk -F'\t' -v k="$3" '$1 == k'; }
seq_of() { row "$1" InstallExecuteSequence "$2" | awk -F'\t' '{ print $3 }'; }
T=$'\t'

echo "== MSI tables: $msi"
expect_eq "File: eas-connector.exe in component MainExe, size of the built exe" \
  "EasConnectorExe${T}MainExe${T}eas-connector.exe${T}$(stat -c %s "$exe")" \
  "$(row "$msi" File EasConnectorExe | cut -f1-4)"
expect_match "Component MainExe: 64-bit (256), in INSTALLDIR, key path the exe" \
  "^MainExe${T}\{[0-9A-F-]{36}\}${T}INSTALLDIR${T}256${T}${T}EasConnectorExe$" "$(row "$msi" Component MainExe)"
expect_eq "Directory INSTALLDIR = ProgramFiles64Folder\\EAS Connector" \
  "INSTALLDIR${T}ProgramFiles64Folder${T}EAS Connector" "$(row "$msi" Directory INSTALLDIR)"
expect_eq "Directory ProgramFiles64Folder under TARGETDIR" \
  "ProgramFiles64Folder${T}TARGETDIR${T}." "$(row "$msi" Directory ProgramFiles64Folder)"
expect_eq "File: eas-connector-setup.exe in component WizardExe, size of the built exe" \
  "EasConnectorSetupExe${T}WizardExe${T}eas-connector-setup.exe${T}$(stat -c %s "$wizard")" \
  "$(row "$msi" File EasConnectorSetupExe | cut -f1-4)"
expect_match "Component WizardExe: 64-bit (256), in INSTALLDIR, key path the wizard exe" \
  "^WizardExe${T}\{[0-9A-F-]{36}\}${T}INSTALLDIR${T}256${T}${T}EasConnectorSetupExe$" "$(row "$msi" Component WizardExe)"
expect_eq "two File rows, one Shortcut row" \
  "2 1" "$(rows "$msi" File | wc -l) $(rows "$msi" Shortcut | wc -l)"
expect_eq "Shortcut 'EAS Connector Setup' in the Start Menu, to the wizard exe" \
  "SetupShortcut${T}ProgramMenuFolder${T}EAS Connector Setup${T}WizardExe${T}[#EasConnectorSetupExe]" \
  "$(row "$msi" Shortcut SetupShortcut | cut -f1-5)"
expect_eq "Shortcut: the product icon, working folder INSTALLDIR (Icon_, WkDir)" \
  "EasConnectorIcon${T}INSTALLDIR" "$(row "$msi" Shortcut SetupShortcut | cut -f9,12)"
expect_eq "Feature Main has both components" "MainExe WizardExe" \
  "$(rows "$msi" FeatureComponents | awk -F'\t' '$1 == "Main" { print $2 }' | sort | xargs)"
# 3154 = 18 (exe from an installed File) + 64 (ignore exit code) + 1024 (deferred) + 2048 (no impersonation)
expect_eq "CustomAction UninstallServices: type 3154, installed exe, 'service uninstall --all'" \
  "UninstallServices${T}3154${T}EasConnectorExe${T}service uninstall --all" \
  "$(row "$msi" CustomAction UninstallServices | cut -f1-4)"
expect_eq "CustomAction PurgeConfig: type 3154, installed exe, 'config purge --all --yes'" \
  "PurgeConfig${T}3154${T}EasConnectorExe${T}config purge --all --yes" \
  "$(row "$msi" CustomAction PurgeConfig | cut -f1-4)"
expect_eq "InstallExecuteSequence UninstallServices: 1510, full uninstall only (not upgrades)" \
  "UninstallServices${T}REMOVE~=\"ALL\" AND NOT UPGRADINGPRODUCTCODE${T}1510" \
  "$(row "$msi" InstallExecuteSequence UninstallServices)"
expect_eq "InstallExecuteSequence PurgeConfig: 1520, only with PURGE=1" \
  "PurgeConfig${T}REMOVE~=\"ALL\" AND NOT UPGRADINGPRODUCTCODE AND PURGE=\"1\"${T}1520" \
  "$(row "$msi" InstallExecuteSequence PurgeConfig)"
# 210 = 18 (exe from an installed File) + 192 (asyncNoWait: msiexec does not wait for the window)
expect_eq "CustomAction LaunchWizard: type 210, the installed wizard exe, no arguments" \
  "LaunchWizard${T}210${T}EasConnectorSetupExe${T}" "$(row "$msi" CustomAction LaunchWizard | cut -f1-4)"
expect_eq "InstallExecuteSequence LaunchWizard: 6700, first install with full or reduced UI only" \
  "LaunchWizard${T}NOT Installed AND NOT REMOVE AND UILevel > 3${T}6700" \
  "$(row "$msi" InstallExecuteSequence LaunchWizard)"
check "sequence: InstallFinalize < LaunchWizard ($(seq_of "$msi" InstallFinalize) < $(seq_of "$msi" LaunchWizard))" \
  test "$(seq_of "$msi" InstallFinalize)" -lt "$(seq_of "$msi" LaunchWizard)"
order="$(seq_of "$msi" InstallInitialize) $(seq_of "$msi" UninstallServices) $(seq_of "$msi" PurgeConfig) $(seq_of "$msi" RemoveFiles)"
check "sequence: InstallInitialize < UninstallServices < PurgeConfig < RemoveFiles ($order)" \
  awk -v s="$order" 'BEGIN { n = split(s, a, " "); exit !(n == 4 && a[1] < a[2] && a[2] < a[3] && a[3] < a[4]) }'
expect_eq "Property UpgradeCode" "{$upgrade_code}" "$(row "$msi" Property UpgradeCode | cut -f2)"
expect_eq "Property ProductVersion = Cargo.toml version" "$msi_version" "$(row "$msi" Property ProductVersion | cut -f2)"
expect_eq "Property ALLUSERS = 1 (per machine)" "1" "$(row "$msi" Property ALLUSERS | cut -f2)"
expect_match "Property SecureCustomProperties includes PURGE" "(^|;)PURGE(;|$)" \
  "$(row "$msi" Property SecureCustomProperties | cut -f2)"
expect_match "Upgrade: older and same versions removed (Attributes 513)" \
  "^\{$upgrade_code\}${T}${T}$msi_version${T}${T}513${T}${T}WIX_UPGRADE_DETECTED$" "$(rows "$msi" Upgrade)"
expect_match "Upgrade: newer version detected, and refused by a LaunchCondition" \
  "^NOT WIX_DOWNGRADE_DETECTED${T}" "$(rows "$msi" LaunchCondition)"
expect_match "Summary: x64 template" "^Template: x64;1033$" "$(msiinfo suminfo "$msi")"
# The MSI's cabinet holds byte-identical executables, and nothing else but them.
mkdir -p "$tmp/extract"
msiextract -C "$tmp/extract" "$msi" >/dev/null
check "msiextract gives back the exact eas-connector.exe" cmp "$(find "$tmp/extract" -name eas-connector.exe)" "$exe"
check "msiextract gives back the exact eas-connector-setup.exe" \
  cmp "$(find "$tmp/extract" -name eas-connector-setup.exe)" "$wizard"
expect_eq "the cabinet holds exactly the two executables" "eas-connector-setup.exe eas-connector.exe" \
  "$(find "$tmp/extract" -type f -printf '%f\n' | sort | xargs)"

summary
