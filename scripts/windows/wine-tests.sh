#!/usr/bin/env bash
# wine-tests.sh — run the cross-built Windows executable and the MSI under wine, in the project's
# prefix (wine-prefix.sh: bcryptprimitives stand-in, a font), and check what a Windows admin
# would see: version resource and icon, config path/set/check (good and malformed file),
# passwords in Windows Credential Manager and nowhere else, MSI install / same-version upgrade
# (configuration and passwords kept) / uninstall (nothing left behind) / PURGE=1.
#
# Usage (from anywhere): scripts/windows/wine-tests.sh
#   Needs the release exe (win-build.sh) and the MSI (msi.sh) under target/windows.
# Prints one ok/FAIL line per check and "N passed, M failed"; exits non-zero on any failure.
#
# Idempotent: it only touches its own organizations (winetest*), its own config root
# C:\eas-winetest, and the EAS Connector product, and removes leftovers of an interrupted run
# first. It must not touch any other product, organization or prefix, and must not kill wine
# processes it did not start (no wineserver -k: the prefix may be in use elsewhere).
#
# Environment: EAS_WINEPREFIX (default ~/.cache/eas-connector/wineprefix), EAS_WIN_TARGET_DIR.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=scripts/windows/testlib.sh
. "$here/testlib.sh"

target_dir=${EAS_WIN_TARGET_DIR:-target/windows}
case "$target_dir" in /*) ;; *) target_dir="$root/$target_dir" ;; esac
version=$(awk -F'"' '/^\[/ { pkg = ($0 == "[package]") } pkg && /^version *=/ { print $2; exit }' "$root/Cargo.toml")
exe="$target_dir/x86_64-pc-windows-gnu/release/eas-connector.exe"
msi="$target_dir/eas-connector-$version.msi"
for f in "$exe" "$msi"; do
  [ -f "$f" ] || { echo "wine-tests: $f missing; run win-build.sh and msi.sh first" >&2; exit 1; }
done

"$here/wine-prefix.sh" --quiet
export WINEPREFIX="${EAS_WINEPREFIX:-$HOME/.cache/eas-connector/wineprefix}"
export WINEARCH=win64 WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
C="$WINEPREFIX/drive_c"
PD="$C/ProgramData/EAS Connector"
INST="$C/Program Files/EAS Connector"
INST_WIN='C:\Program Files\EAS Connector\eas-connector.exe'
UNINSTALL_KEY='HKLM\Software\Microsoft\Windows\CurrentVersion\Uninstall'
CRED_KEY='HKCU\Software\Wine\Credential Manager'
ALT_ROOT_WIN='C:\eas-winetest'
ALT_ROOT="$C/eas-winetest"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# w PROGRAM ARGS...: run under wine; stdout without the CRs of Windows line ends.
w() { wine "$@" | tr -d '\r'; }
# ec OUTFILE PROGRAM ARGS...: run under wine, stdout+stderr to OUTFILE, print the exit code.
ec() { local out=$1; shift; local rc=0; wine "$@" >"$out" 2>&1 </dev/null || rc=$?; sed -i 's/\r$//' "$out"; echo "$rc"; }
# Windows path of a Linux file (wine maps / to Z:).
winpath() { printf 'Z:%s' "${1//\//\\}"; }
# Product codes of installed products named "EAS Connector" (from the Uninstall registry key).
installed_codes() {
  wine reg query "$UNINSTALL_KEY" /s 2>/dev/null | tr -d '\r' | awk '
    /^HKEY_/ { n = split($0, p, "\\"); key = p[n] }
    $1 == "DisplayName" && $3 == "EAS" && $4 == "Connector" && NF == 4 { print key }'
}
product_code() { msiinfo export "$1" Property | tr -d '\r' | awk -F'\t' '$1 == "ProductCode" { print $2 }'; }
# Files under drive_c, minus places wine itself churns (temp, logs, its registry is not a file here).
snapshot() { (cd "$C" && find . -path ./users -prune -o -path ./windows/temp -prune -o -print | sort); }
cleanup_state() {
  local code
  for code in $(installed_codes); do wine msiexec /x "$code" /qn >/dev/null 2>&1 || true; done
  local org kind
  for org in winetest winetest-upgrade; do
    for kind in service-account notification-account proxy; do
      wine "$exe" --org "$org" config clear-password "$kind" >/dev/null 2>&1 || true
    done
  done
  rm -rf "$PD/winetest" "$PD/winetest-bad" "$PD/winetest-upgrade" "$ALT_ROOT"
}
cleanup_state

echo "== executable: $exe"
out=$(w "$exe" --version 2>&1) || true
expect_match "eas-connector.exe --version" "^eas-connector ${version//./\\.}$" "$out"

x86_64-w64-mingw32-gcc -O2 -Wall -Wextra -Werror -municode -s -o "$tmp/verinfo.exe" \
  "$here/wine/verinfo.c" -lversion -lshell32
vi=$(w "$tmp/verinfo.exe" "$(winpath "$exe")" 2>&1) || true
IFS=. read -r vmaj vmin vpat <<<"${version%%[-+]*}"
expect_match "VERSIONINFO ProductName (GetFileVersionInfoW)" "^ProductName=EAS Connector$" "$vi"
expect_match "VERSIONINFO CompanyName" "^CompanyName=EAS Connector project$" "$vi"
expect_match "VERSIONINFO FileDescription" "^FileDescription=EAS Connector - " "$vi"
expect_match "VERSIONINFO FileVersion/ProductVersion = Cargo.toml" "^ProductVersion=$version$" "$vi"
expect_match "VERSIONINFO fixed file version $vmaj.$vmin.$vpat.0" "^FixedFileVersion=$vmaj\.$vmin\.$vpat\.0$" "$vi"
expect_match "icon embedded (ExtractIconExW counts 1)" "^Icons=1$" "$vi"

echo "== configuration"
out=$(w "$exe" config path 2>&1) || true
expect_match "config path: C:\\ProgramData\\EAS Connector\\default\\…" \
  '^configuration: C:\\ProgramData\\EAS Connector\\default\\ConnectorServiceConfiguration\.xml$' "$out"
out=$(w "$exe" --config-dir "$ALT_ROOT_WIN" config path 2>&1) || true
expect_match "config path honours --config-dir" \
  '^configuration: C:\\eas-winetest\\default\\ConnectorServiceConfiguration\.xml$' "$out"
out=$(EAS_CONNECTOR_CONFIG_DIR="$ALT_ROOT_WIN" w "$exe" --org winetest config path 2>&1) || true
expect_match "config path honours EAS_CONNECTOR_CONFIG_DIR and --org" \
  '^configuration: C:\\eas-winetest\\winetest\\ConnectorServiceConfiguration\.xml$' "$out"

cfg="$PD/winetest/ConnectorServiceConfiguration.xml"
set_rc=""
for kv in "ClientAccessServer=cas01.contoso.test" 'ServiceAccount/User=CONTOSO\svc-eas' \
          "NotificationAccount/User=notify@contoso.test" "NotificationAccount/Mailbox=notify@contoso.test"; do
  set_rc+="$(ec "$tmp/set.out" "$exe" --org winetest config set "${kv%%=*}" "${kv#*=}")"
done
expect_eq "config set x4 (exit codes)" "0000" "$set_rc"
check "config set wrote C:\\ProgramData\\EAS Connector\\winetest\\ConnectorServiceConfiguration.xml and its .bak" \
  test -s "$cfg" -a -s "$cfg.bak"
expect_match "the file holds the values set" '<User ?>CONTOSO\\svc-eas</User>' "$(cat "$cfg" 2>/dev/null)"
rc=$(ec "$tmp/check.out" "$exe" --org winetest config check)
expect_eq "config check on the complete file: exit 0" "0" "$rc"
expect_match "config check says valid and complete" "is valid and complete" "$(cat "$tmp/check.out")"

bad="$PD/winetest-bad/ConnectorServiceConfiguration.xml"
mkdir -p "$(dirname "$bad")"
printf '%s\r\n' '<?xml version="1.0" encoding="utf-8"?>' '<ConnectorServiceConfiguration>' \
  '  <SchemaVersion>1</SchemaVersion>' '  <ClientAccessServer>cas01.contoso.test</ClientAccessServer' \
  '</ConnectorServiceConfiguration>' >"$bad"
before=$(sha256sum <"$bad")
rc=$(ec "$tmp/bad.out" "$exe" --org winetest-bad config check)
expect_eq "config check on a malformed file: exit 1" "1" "$rc"
expect_match "malformed: message gives line and column" "line [0-9]+, column [0-9]+" "$(cat "$tmp/bad.out")"
rc=$(ec "$tmp/badset.out" "$exe" --org winetest-bad config set Proxy/Port 3128)
expect_eq "config set on a malformed file refuses: exit 1" "1" "$rc"
expect_eq "malformed file unchanged, no .bak made" "$before absent" \
  "$(sha256sum <"$bad") $([ -e "$bad.bak" ] && echo present || echo absent)"

echo "== passwords in Windows Credential Manager"
pw="Wine-Test-$RANDOM$RANDOM-pw"
out=$(printf '%s\n' "$pw" | w "$exe" --org winetest config set-password service-account 2>&1) || true
expect_match "config set-password service-account (stdin) stores in Credential Manager" \
  '^stored the service account password in Windows Credential Manager' "$out"
out=$(w "$exe" --org winetest config show 2>&1) || true
expect_match "config show: 'Passwords are kept in: Windows Credential Manager'" \
  '^Passwords are kept in: Windows Credential Manager$' "$out"
expect_match "config show: service account password stored" \
  '^  service account password +stored — Windows Credential Manager, service "EAS Connector", account "winetest/service-account"$' "$out"
expect_match "credential present in wine's store (CredWriteW: Generic 'winetest/service-account.EAS Connector')" \
  'Generic: winetest/service-account\.EAS Connector$' "$(w reg query "$CRED_KEY" 2>&1)"
leaks=$(python3 - "$pw" "$PD/winetest" <<'EOF'
import os, sys
pw, top = sys.argv[1], sys.argv[2]
needles = [pw.encode(), pw.encode("utf-16-le")]
for d, _, files in os.walk(top):
    for f in files:
        p = os.path.join(d, f)
        data = open(p, "rb").read()
        if any(n in data for n in needles):
            print(p)
EOF
)
expect_eq "the password is in no file under C:\\ProgramData\\EAS Connector\\winetest (UTF-8 or UTF-16)" "" "$leaks"
check "no ConnectorSecrets.json fallback file on Windows" test ! -e "$PD/winetest/ConnectorSecrets.json"
out=$(w "$exe" --org winetest config clear-password service-account 2>&1) || true
expect_match "config clear-password removes it" '^removed the service account password from Windows Credential Manager$' "$out"
expect_match "config show then says 'not stored'" '^  service account password +not stored' \
  "$(w "$exe" --org winetest config show 2>&1)"
expect_no_match "credential gone from wine's store" 'winetest/service-account\.EAS Connector' \
  "$(w reg query "$CRED_KEY" 2>&1)"

echo "== MSI: $msi"
code=$(product_code "$msi")
pre=$(snapshot)
rc=$(ec "$tmp/i1.out" msiexec /i "$(winpath "$msi")" /qn /l*v "$(winpath "$tmp/install.log")")
expect_eq "msiexec /i /qn: exit 0" "0" "$rc"
check "eas-connector.exe in drive_c/Program Files/EAS Connector/, identical to the build" cmp "$INST/eas-connector.exe" "$exe"
expect_match "installed exe runs: --version" "^eas-connector ${version//./\\.}$" "$(w "$INST_WIN" --version 2>&1)"
expect_eq "registered in Programs and Features (Uninstall key, one entry)" "$code" "$(installed_codes)"

# Same version rebuilt = new ProductCode: MajorUpgrade must replace it, keeping config + secrets.
rc=$(ec "$tmp/c.out" "$INST_WIN" --org winetest-upgrade config set ClientAccessServer cas02.contoso.test)
rc+=$(printf 'Upgrade-pw-%s\n' "$RANDOM" | { wine "$INST_WIN" --org winetest-upgrade config set-password service-account >/dev/null 2>&1 && echo 0 || echo 1; })
expect_eq "installed exe: config set + set-password before the upgrade" "00" "$rc"
msi2=$("$here/msi.sh" --out-dir "$tmp/msi2" 2>"$tmp/msi2.log") || msi2="$tmp/msi2/missing.msi"
check "msi.sh rebuilds the same version (new ProductCode) for the upgrade test" test -f "$msi2"
code2=$(product_code "$msi2" 2>/dev/null) || code2="(no MSI)"
rc=$(ec "$tmp/i2.out" msiexec /i "$(winpath "$msi2")" /qn /l*v "$(winpath "$tmp/upgrade.log")")
expect_eq "upgrade to a rebuilt MSI of the same version: exit 0" "0" "$rc"
expect_eq "after the upgrade only the new product is registered" "$code2" "$(installed_codes)"
check "after the upgrade the exe is installed" cmp "$INST/eas-connector.exe" "$exe"
expect_match "upgrade log shows RemoveExistingProducts" "^Action start .*: RemoveExistingProducts\.$" "$(cat "$tmp/upgrade.log")"
expect_no_match "upgrade did not run the uninstall clean-up actions" "^Action start .*: (UninstallServices|PurgeConfig)\.$" \
  "$(cat "$tmp/upgrade.log")"
check "upgrade kept the configuration (ProgramData)" grep -q cas02.contoso.test "$PD/winetest-upgrade/ConnectorServiceConfiguration.xml"
expect_match "upgrade kept the password (Credential Manager)" '^  service account password +stored' \
  "$(w "$INST_WIN" --org winetest-upgrade config show 2>&1)"

rc=$(ec "$tmp/x1.out" msiexec /x "$(winpath "$msi2")" /qn /l*v "$(winpath "$tmp/uninstall.log")")
expect_eq "msiexec /x /qn: exit 0 (the not-yet-existing 'service' command is ignored)" "0" "$rc"
expect_match "uninstall ran UninstallServices" "^Action start .*: UninstallServices\.$" "$(cat "$tmp/uninstall.log")"
expect_no_match "uninstall without PURGE=1 skipped PurgeConfig" "PurgeConfig" "$(cat "$tmp/uninstall.log")"
expect_eq "no EAS Connector product registered any more" "" "$(installed_codes)"
# C:\Windows\Installer (the MSI cache folder) stays once made, as on Windows; a file in it would not.
left=$(comm -13 <(printf '%s\n' "$pre") <(snapshot) \
       | grep -vE '^\./ProgramData/EAS Connector(/|$)|^\./windows/Installer$' || true)
expect_eq "nothing left behind in drive_c (new files/folders besides ProgramData\\EAS Connector: ${left:-none})" "" "$left"
check "uninstall kept the configuration (only PURGE=1 removes it)" \
  test -s "$PD/winetest-upgrade/ConnectorServiceConfiguration.xml"

rc=$(ec "$tmp/i3.out" msiexec /i "$(winpath "$msi")" /qn)
rc+=$(ec "$tmp/x2.out" msiexec /x "$(winpath "$msi")" PURGE=1 /qn /l*v "$(winpath "$tmp/purge.log")")
expect_eq "install, then msiexec /x PURGE=1: exit 0, 0 ('config purge' not yet there: ignored)" "00" "$rc"
expect_match "uninstall with PURGE=1 ran PurgeConfig" "^Action start .*: PurgeConfig\.$" "$(cat "$tmp/purge.log")"
check "Program Files\\EAS Connector removed" test ! -e "$INST"

cleanup_state
summary
