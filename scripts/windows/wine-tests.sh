#!/usr/bin/env bash
# wine-tests.sh — run the cross-built Windows executable and the MSI under wine, in the project's
# prefix (wine-prefix.sh: bcryptprimitives stand-in, a font), and check what a Windows admin
# would see: version resource and icon, config path/set/check (good and malformed file),
# passwords in Windows Credential Manager and nowhere else, `config purge`; against the Linux
# lab on loopback: `configure --answers`, `validate`, and a real SCM service (install, RUNNING,
# `sync --full` over its named pipe, uninstall) in one wine session; Kerberos against a real MIT
# KDC (kdc.sh: a throwaway realm on loopback) and the lab's exchange-default profile: configure,
# validate signing in with Kerberos over sealed http:// and over https, `engine run --full`,
# the KDC found through DNS SRV (dnsmasq), a wrong password named as such; MSI install (both exes,
# Start Menu shortcut) / same-version upgrade (configuration and passwords kept) / uninstall
# (nothing left behind) / PURGE=1 (everything purged); the setup wizard under Xvfb (window
# title, text drawn, screenshot target/windows/windows-wizard-wine.png; into
# docs/screenshots/ with EAS_UPDATE_SCREENSHOTS=1) and opened by an
# interactive (/qr) install but not by a silent one.
#
# Usage (from anywhere): scripts/windows/wine-tests.sh
#   Needs the release exes (win-build.sh --bins) and the MSI (msi.sh) under target/windows;
#   builds the Linux eas-connector (for the lab) with cargo -j2 when it is missing or stale.
#   EAS_WINE_ONLY=kerberos runs only the Kerberos section (needs only eas-connector.exe).
#   The Kerberos section needs krb5-kdc, krb5-admin-server and dnsmasq-base (scripts/lib.sh
#   WINDOWS_PACKAGES).
# Prints one ok/FAIL line per check and "N passed, M failed"; exits non-zero on any failure.
#
# Idempotent: it only touches its own organizations (winetest*, winelab, winekrb), its own config root
# C:\eas-winetest, its EasConnector$winelab service and the EAS Connector product (whose
# PURGE=1 uninstall purges every organization of this prefix, by contract), and removes
# leftovers of an interrupted run first. It must not touch any other product or prefix, and
# kills only processes it started, by id (no wineserver -k: the prefix may be in use elsewhere).
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
wizard="$target_dir/x86_64-pc-windows-gnu/release/eas-connector-setup.exe"
msi="$target_dir/eas-connector-$version.msi"
only=${EAS_WINE_ONLY:-}
case "$only" in
  "") needed=("$exe" "$wizard" "$msi") ;;
  kerberos) needed=("$exe") ;;
  *) echo "wine-tests: EAS_WINE_ONLY=$only: the only section that runs alone is 'kerberos'" >&2; exit 2 ;;
esac
for f in "${needed[@]}"; do
  [ -f "$f" ] || { echo "wine-tests: $f missing; run win-build.sh --bins and msi.sh first" >&2; exit 1; }
done
for tool in Xvfb xdotool import convert; do
  command -v "$tool" >/dev/null \
    || { echo "wine-tests: $tool missing: apt-get install xvfb xdotool imagemagick" >&2; exit 1; }
done
# The lab runs on Linux. scripts/test passes the eas-connector its `cargo test` built
# (EAS_LAB_EXE); run alone, this builds one. `cargo build` resolves features without the
# dev-dependencies, so after `cargo test` it is not a no-op: it compiles every dependency again.
if [ -n "${EAS_LAB_EXE:-}" ]; then
  linux_exe=$EAS_LAB_EXE
  [ -x "$linux_exe" ] || { echo "wine-tests: EAS_LAB_EXE=$linux_exe is not an executable" >&2; exit 1; }
else
  (cd "$root" && cargo build -j2 --locked --quiet --bin eas-connector) \
    || { echo "wine-tests: building the Linux eas-connector for the lab failed" >&2; exit 1; }
  linux_exe="$root/target/debug/eas-connector"
fi

"$here/wine-prefix.sh" --quiet
export WINEPREFIX="${EAS_WINEPREFIX:-$HOME/.cache/eas-connector/wineprefix}"
export WINEARCH=win64 WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
# Every wine process of this run gets the Xvfb display: wine's desktop (explorer.exe) is made by
# the first process of a session and keeps that process's display, so a session begun without
# DISPLAY never shows a window. Wait (not kill) for a session still running from before.
if ! timeout 60 wineserver -w; then
  echo "wine-tests: warning: a wine session in $WINEPREFIX is still running; windows may not show" >&2
fi
C="$WINEPREFIX/drive_c"
PD="$C/ProgramData/EAS Connector"
INST="$C/Program Files/EAS Connector"
INST_WIN='C:\Program Files\EAS Connector\eas-connector.exe'
# Windows puts an ALLUSERS=1 ProgramMenuFolder shortcut under ProgramData; wine 8.0 under the
# user's profile. Either is accepted; find_shortcut prints the one that exists.
find_shortcut() { find "$C" -name 'EAS Connector Setup.lnk' -path '*Start Menu/Programs/*' 2>/dev/null | head -1; }
UNINSTALL_KEY='HKLM\Software\Microsoft\Windows\CurrentVersion\Uninstall'
CRED_KEY='HKCU\Software\Wine\Credential Manager'
ALT_ROOT_WIN='C:\eas-winetest'
ALT_ROOT="$C/eas-winetest"

tmp=$(mktemp -d)
# shellcheck source=scripts/xvfb.sh
. "$root/scripts/xvfb.sh"
start_xvfb 1280x800 || { echo "wine-tests: Xvfb did not start" >&2; exit 1; }
xvfb_pid=$XVFB_PID
# Processes this script starts (the lab, Xvfb, the wizard), stopped by their ids on exit.
pids=()
stop_pids() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
}
trap 'stop_pids; kill "$xvfb_pid" 2>/dev/null || true; rm -rf "$tmp"' EXIT

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
# The pid of the installed wizard that msiexec started in this prefix (to stop it by its id).
installed_wizard_pid() {
  local p
  for p in /proc/[0-9]*; do
    if tr '\0' '\n' <"$p/cmdline" 2>/dev/null | grep -qxF 'C:\Program Files\EAS Connector\eas-connector-setup.exe' \
       && tr '\0' '\n' <"$p/environ" 2>/dev/null | grep -qxF "WINEPREFIX=$WINEPREFIX"; then
      echo "${p#/proc/}"; return 0
    fi
  done
  return 1
}
cleanup_state() {
  local code
  for code in $(installed_codes); do wine msiexec /x "$code" /qn >/dev/null 2>&1 || true; done
  local org kind
  wine "$exe" --org winelab service uninstall >/dev/null 2>&1 || true
  for org in winetest winetest-upgrade winelab winekrb; do
    for kind in service-account notification-account proxy; do
      wine "$exe" --org "$org" config clear-password "$kind" >/dev/null 2>&1 || true
    done
  done
  rm -rf "$PD/winetest" "$PD/winetest-bad" "$PD/winetest-upgrade" "$PD/winelab" "$PD/winekrb" "$ALT_ROOT"
}

# Kerberos as a default Exchange wants it: a throwaway MIT realm (kdc.sh) with HTTP/localhost,
# the Linux lab with --auth-profile exchange-default and that keytab, the lab's accounts made
# users of the realm with the lab's passwords; then the Windows exe under wine, org winekrb,
# its own Kerberos client (the KDC over TCP, no OS Kerberos). The realm's folder, KDC and lab
# are this run's ($tmp, stopped by pid); the org is removed by cleanup_state.
kerberos_tests() {
  local t0=$EPOCHREALTIME failed0=$T_FAILED realm=EAS.TEST krb="$tmp/krb" klab="$tmp/krblab" kdc_pid="" kport=""
  echo "== Kerberos against a real MIT KDC (realm $realm): configure, validate over sealed http:// and https, full sync"
  check "kdc.sh create: realm $realm with HTTP/localhost in its keytab (kdb5_util, kadmin.local)" \
    "$here/kdc.sh" create "$krb" "$realm" HTTP/localhost
  # A few tries: the free port kdc.sh picks may be taken before krb5kdc binds it.
  for _ in 1 2 3; do
    [ -f "$krb/realm" ] || break
    "$here/kdc.sh" serve "$krb" &
    kdc_pid=$!
    pids+=("$kdc_pid")
    if kport=$("$here/kdc.sh" ready "$krb" "$kdc_pid" 2>"$tmp/kdc-ready.err"); then break; fi
    kport=""
  done
  expect_match "krb5kdc -n listens on 127.0.0.1 (TCP)" '^[0-9]+$' "${kport:-$(cat "$tmp/kdc-ready.err" 2>/dev/null)}"
  "$linux_exe" lab --auth-profile exchange-default --keytab "$krb/service.keytab" --realm "$realm" \
    --kdc "127.0.0.1:${kport:-88}" --devices 20 --state-dir "$klab" >"$tmp/krblab.out" 2>&1 &
  pids+=("$!")
  for _ in $(seq 150); do [ -f "$klab/lab.json" ] && break; sleep 0.1; done
  check "the Linux lab is up with --auth-profile exchange-default (lab.json written)" test -f "$klab/lab.json"
  # The lab's accounts (user name = after LAB\), then its https URL, one per line.
  local -a acct
  mapfile -t acct < <(python3 -c 'import json, sys; j = json.load(open(sys.argv[1])); a = j["accounts"]
for k in ("service", "notification", "limited"): print(a[k]["user"].rsplit("\\", 1)[-1]); print(a[k]["password"])
print(j["servers"][0]["url"])' "$klab/lab.json" 2>/dev/null)
  local users_rc="" i
  for i in 0 2 4; do
    if "$here/kdc.sh" user "$krb" "${acct[i]:-missing}" "${acct[i+1]:-missing}" >>"$tmp/kdc-users.out" 2>&1; then
      users_rc+=0
    else
      users_rc+=1
    fi
  done
  expect_eq "the lab's accounts are users of the realm with the lab's passwords (${acct[0]:-?}, ${acct[2]:-?}, ${acct[4]:-?})" \
    "000" "$users_rc"
  python3 - "$klab/answers.toml" "$(winpath "$klab/lab-ca.pem")" >"$tmp/krb-answers-win.toml" <<'PY'
import sys
for line in open(sys.argv[1]):
    if line.startswith("TrustedCaFile"):
        line = "TrustedCaFile = '%s'\n" % sys.argv[2]
    sys.stdout.write(line)
PY
  expect_match "answers.toml: ClientAccessServer is the lab's http://localhost:PORT/PowerShell/" \
    '^ClientAccessServer = "http://localhost:[0-9]+/PowerShell/"$' "$(cat "$tmp/krb-answers-win.toml")"
  expect_match "answers.toml: [Kerberos] KdcAddress = the KDC" "^KdcAddress = \"127\\.0\\.0\\.1:${kport:-none}\"$" \
    "$(cat "$tmp/krb-answers-win.toml")"

  local kdc_lines rc out
  kdc_lines=$(wc -l <"$krb/kdc.log" 2>/dev/null || echo 0)
  rc=$(ec "$tmp/krb-configure.out" "$exe" --org winekrb configure --answers "$(winpath "$tmp/krb-answers-win.toml")" --no-service)
  expect_eq "configure --answers (Kerberos, sealed http://) --no-service: exit 0" "0" "$rc"
  expect_match "… its validation: LAB\\svc-eas signed in with Kerberos" 'LAB\\svc-eas signed in with Kerberos$' \
    "$(cat "$tmp/krb-configure.out")"
  out=$(cat "$PD/winekrb/ConnectorServiceConfiguration.xml" 2>/dev/null)
  expect_match "… wrote Kerberos/Realm $realm" "<Realm>$realm</Realm>" "$out"
  expect_match "… and Kerberos/KdcAddress 127.0.0.1:${kport:-?}" "<KdcAddress>127\\.0\\.0\\.1:${kport:-none}</KdcAddress>" "$out"

  rc=$(ec "$tmp/krb-validate.out" "$exe" --org winekrb validate)
  out=$(cat "$tmp/krb-validate.out")
  expect_eq "validate (http://, Kerberos): exit 0" "0" "$rc"
  expect_no_match "… no check failed" '✘' "$out"
  expect_match "… check 7: LAB\\svc-eas signed in with Kerberos" \
    '^ *✔ +7\. Service account sign-in .* LAB\\svc-eas signed in with Kerberos$' "$out"
  expect_match "… PowerShell over http:// with sealed messages" \
    '^ *✔ +5\. .*PowerShell uses http://localhost:[0-9]+/PowerShell/ \(messages sealed\)' "$out"
  expect_match "… check 12: LAB\\eas-notify signed in with Kerberos (Negotiate) to EWS" \
    '^ *✔ +12\. .*LAB\\eas-notify signed in with Kerberos \(Negotiate\) to EWS' "$out"
  expect_match "… check 8: a runspace opened (through the sealed connection)" '^ *✔ +8\. .*opened a runspace' "$out"
  out=$(tail -n "+$((kdc_lines + 1))" "$krb/kdc.log" 2>/dev/null)
  expect_match "the KDC issued the wine process a TGT (AS_REQ ISSUE svc-eas@$realm)" \
    "AS_REQ .*ISSUE: .*svc-eas@$realm for krbtgt/$realm@$realm" "$out"
  expect_match "… and a service ticket for HTTP/localhost@$realm (TGS_REQ ISSUE)" \
    "TGS_REQ .*ISSUE: .*svc-eas@$realm for HTTP/localhost@$realm" "$out"

  rc=$(ec "$tmp/krb-sync.out" "$exe" --org winekrb engine run --full)
  expect_eq "engine run --full (Kerberos, sealed http://): exit 0" "0" "$rc"
  expect_match "… read all 20 of the lab's devices" '^Full sync on localhost:[0-9]+: 20 devices read in [0-9]+ ms' \
    "$(cat "$tmp/krb-sync.out")"

  rc=$(ec "$tmp/krb-set.out" "$exe" --org winekrb config set ClientAccessServer "${acct[6]:-https://missing}/PowerShell/")
  expect_eq "config set ClientAccessServer ${acct[6]:-?}/PowerShell/ (the lab's https): exit 0" "0" "$rc"
  rc=$(ec "$tmp/krb-validate2.out" "$exe" --org winekrb validate)
  out=$(cat "$tmp/krb-validate2.out")
  expect_eq "validate (https://, Kerberos): exit 0" "0" "$rc"
  expect_no_match "… no check failed" '✘' "$out"
  expect_match "… check 5: the lab's certificate is trusted (TrustedCaFile Z:\\…)" '^ *✔ +5\. .*trusted' "$out"
  expect_match "… check 7: LAB\\svc-eas signed in with Kerberos over https" \
    '^ *✔ +7\. Service account sign-in .* LAB\\svc-eas signed in with Kerberos$' "$out"
  expect_match "… the connection is https://localhost:PORT/PowerShell/" '^ *✔ +1\. Configuration .*complete; https://localhost:[0-9]+/PowerShell/$' "$out"

  # No KdcAddress: the KDC found through DNS SRV _kerberos._tcp.eas.test, asked by the exe's own
  # resolver (hickory, UDP/TCP sockets under wine) of a dnsmasq on loopback (EAS_CONNECTOR_DNS_SERVER).
  local dport dns_pid
  dport=$(python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  dnsmasq --no-daemon --no-resolv --no-hosts --bind-interfaces --listen-address=127.0.0.1 --port="$dport" \
    --srv-host="_kerberos._tcp.eas.test,localhost,${kport:-88}" --log-queries --log-facility="$tmp/dnsmasq.log" \
    --pid-file="$tmp/dnsmasq.pid" --user="$(id -un)" >"$tmp/dnsmasq.out" 2>&1 &
  dns_pid=$!
  pids+=("$dns_pid")
  for _ in $(seq 100); do grep -q 'started, version' "$tmp/dnsmasq.log" 2>/dev/null && break; sleep 0.05; done
  rc=$(ec "$tmp/krb-set2.out" "$exe" --org winekrb config set Kerberos/KdcAddress "")
  kdc_lines=$(wc -l <"$krb/kdc.log" 2>/dev/null || echo 0)
  rc+=$(EAS_CONNECTOR_DNS_SERVER="127.0.0.1:$dport" ec "$tmp/krb-validate-srv.out" "$exe" --org winekrb validate)
  expect_eq "no Kerberos/KdcAddress, KDC from DNS SRV (dnsmasq on 127.0.0.1:$dport): config set, validate exit 0, 0" "00" "$rc"
  expect_match "… check 7: LAB\\svc-eas signed in with Kerberos" \
    '^ *✔ +7\. Service account sign-in .* LAB\\svc-eas signed in with Kerberos$' "$(cat "$tmp/krb-validate-srv.out")"
  expect_match "… the exe asked for the SRV record _kerberos._tcp.eas.test" 'query\[SRV\] _kerberos\._tcp\.eas\.test ' \
    "$(cat "$tmp/dnsmasq.log" 2>/dev/null)"
  expect_match "… and got its TGT from the KDC the record names" "AS_REQ .*ISSUE: .*svc-eas@$realm for krbtgt/$realm@$realm" \
    "$(tail -n "+$((kdc_lines + 1))" "$krb/kdc.log" 2>/dev/null)"
  kill "$dns_pid" 2>/dev/null || true
  rc=$(ec "$tmp/krb-set3.out" "$exe" --org winekrb config set Kerberos/KdcAddress "127.0.0.1:${kport:-88}")

  # A wrong password: named as the domain's refusal, one pre-authentication failure, no retries.
  local before after
  before=$(grep -c PREAUTH_FAILED "$krb/kdc.log" 2>/dev/null) || before=0
  out=$(printf 'Not-The-Password-1\n' | w "$exe" --org winekrb config set-password service-account 2>&1) || true
  expect_match "config set-password service-account (a wrong one, stdin)" '^stored the service account password' "$out"
  rc=$(ec "$tmp/krb-validate3.out" "$exe" --org winekrb validate)
  out=$(cat "$tmp/krb-validate3.out")
  expect_eq "validate with a wrong password: exit 1" "1" "$rc"
  expect_match "… check 7 says the domain refused the password for svc-eas@$realm" \
    "^ *✘ +7\\. Service account sign-in .*the domain \\($realm\\) refused the password for svc-eas@$realm" "$out"
  expect_no_match "… without echoing the password" 'Not-The-Password-1' "$out"
  after=$(grep -c PREAUTH_FAILED "$krb/kdc.log" 2>/dev/null) || after=0
  expect_eq "… one failed pre-authentication at the KDC (no retries that could lock the account)" "1" "$((after - before))"
  before=$after
  rc=$(ec "$tmp/krb-sync2.out" "$exe" --org winekrb engine run --full)
  out=$(cat "$tmp/krb-sync2.out")
  expect_eq "engine run --full with the wrong password: exit 1" "1" "$rc"
  expect_match "… says the domain refused the password, and to set-password" \
    "refused the password for svc-eas@$realm; store the account's current password \\(set-password\\)" "$out"
  after=$(grep -c PREAUTH_FAILED "$krb/kdc.log" 2>/dev/null) || after=0
  expect_eq "… one failed pre-authentication at the KDC (no failover to the second CAS, no retry)" "1" "$((after - before))"
  if [ "$T_FAILED" -gt "$failed0" ]; then
    echo "--- the KDC's log (last 20 lines):"; tail -n 20 "$krb/kdc.log" 2>/dev/null | sed 's/^/    /'
    echo "--- the lab's output (last 20 lines):"; tail -n 20 "$tmp/krblab.out" 2>/dev/null | sed 's/^/    /'
  fi
  stop_pids
  awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "   (Kerberos section: %.1f s)\n", b - a }'
}

cleanup_state
if [ "$only" = kerberos ]; then
  kerberos_tests
  cleanup_state
  summary
  exit
fi

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
# The Event Log message table, read back from the PE file: a "%1" message for every event ID of
# src/logging/event_ids.in (the Event Viewer formats the service's events with it).
want_ids=$(sed -n 's/^pub const [A-Z_]*: u32 = \([0-9]*\);.*/\1/p' "$root/src/logging/event_ids.in" | sort -n | tr '\n' ' ')
table=$(python3 "$here/pe-messagetable.py" "$exe" 2>&1) || true
expect_eq "MESSAGETABLE: exactly the event IDs of event_ids.in ($want_ids)" "$want_ids" \
  "$(awk -F'\t' '{ print $1 }' <<<"$table" | sort -n | tr '\n' ' ')"
expect_eq "… each message is \"%1\" (the event's own text)" "" "$(awk -F'\t' '$2 != "%1"' <<<"$table")"

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
expect_match "config show: service account password stored, with the service's copy" \
  '^  service account password +stored — Windows Credential Manager, service "EAS Connector", account "winetest/service-account"; the service.s copy: file C:\\ProgramData\\EAS Connector\\winetest\\Secrets\\ConnectorSecrets\.dpapi \(DPAPI machine scope' "$out"
copy_file="$PD/winetest/Secrets/ConnectorSecrets.dpapi"
check "the service's copy exists: C:\\ProgramData\\EAS Connector\\winetest\\Secrets\\ConnectorSecrets.dpapi" test -s "$copy_file"
expect_match "the service's copy holds the password, DPAPI-encrypted (base64 blob under its key)" \
  '^ *"service-account": "[A-Za-z0-9+/]{40,}={0,2}"' "$(cat "$copy_file" 2>/dev/null)"
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
expect_no_match "… and from the service's copy (still there, without it)" 'service-account|^$' "$(cat "$copy_file" 2>/dev/null)"

echo "== the Windows Event Log"
# wine's ReportEventW is a stub that prints what it is given on its debug channels: the source
# (RegisterEventSourceW), the type and ID (ReportEventW's fixme) and the text (trace:eventlog).
note="Wine event $RANDOM$RANDOM"
out=$(WINEDEBUG=-all,fixme+advapi,trace+eventlog wine "$exe" --org winetest diag event-log --message "$note" 2>&1 | tr -d '\r') || true
expect_match "diag event-log: says where it wrote" \
  "^wrote event 1000 \(information\) to the Application log, source 'EAS Connector \(winetest\)'$" "$out"
expect_match "… RegisterEventSourceW with the org's source" 'RegisterEventSourceW \((NULL|\(null\)),L"EAS Connector \(winetest\)"\)' "$out"
expect_match "… ReportEventW: information (0x0004), event ID 1000 (0x000003e8)" 'ReportEventW \([0-9A-Fa-f]+,0x0004,0x0000,0x000003e8,' "$out"
expect_match "… with the text" "trace:eventlog:ReportEventW L\"$note\"" "$out"

echo "== config purge"
printf 'Purge-pw-%s\n' "$RANDOM" | wine "$exe" --org winetest config set-password service-account >/dev/null 2>&1 || true
rc=$(ec "$tmp/purge1.out" "$exe" --org winetest config purge)
expect_eq "config purge without --yes: exit 1, nothing deleted" "1 present" \
  "$rc $([ -s "$cfg" ] && echo present || echo absent)"
purge_msg=$(cat "$tmp/purge1.out")
expect_match "… it names the folder and its files" \
  'the folder C:\\ProgramData\\EAS Connector\\winetest with everything in it: .*ConnectorServiceConfiguration\.xml\.bak.*Logs' "$purge_msg"
expect_match "… and the credentials" \
  "passwords of 'winetest' in Windows Credential Manager, service \"EAS Connector\", accounts \"winetest/service-account\"" "$purge_msg"
# shellcheck disable=SC2016  # literal backquotes / dollar, not expansions
expect_match "… and how to confirm" 'nothing was deleted; to delete it, run `eas-connector --org winetest config purge --yes`' "$purge_msg"
rc=$(ec "$tmp/purge2.out" "$exe" --org winetest config purge --yes)
expect_eq "config purge --yes: exit 0" "0" "$rc"
check "… C:\\ProgramData\\EAS Connector\\winetest is gone" test ! -e "$PD/winetest"
expect_match "… says the password was deleted from Credential Manager" \
  "^deleted from Windows Credential Manager for 'winetest': service account password$" "$(cat "$tmp/purge2.out")"
expect_no_match "… the credential is gone from wine's store" 'winetest/service-account\.EAS Connector' \
  "$(w reg query "$CRED_KEY" 2>&1)"

echo "== against the Linux lab on loopback: configure, validate, the service under the SCM"
lab_dir="$tmp/lab"
"$linux_exe" lab --state-dir "$lab_dir" --devices 20 >"$tmp/lab.out" 2>"$tmp/lab.err" &
pids+=("$!")
for _ in $(seq 150); do [ -f "$lab_dir/lab.json" ] && break; sleep 0.1; done
check "the Linux lab is up (lab.json written)" test -f "$lab_dir/lab.json"
# The lab's answers.toml, with its CA file and its cloud app's PFX (the Intune source's
# certificate, imported into Credential Manager as DER) as Windows paths (through Z:).
python3 - "$lab_dir/answers.toml" "$(winpath "$lab_dir/lab-ca.pem")" "$(winpath "$lab_dir/cloud-app.pfx")" \
  >"$tmp/answers-win.toml" <<'EOF'
import sys
for line in open(sys.argv[1]):
    if line.startswith("TrustedCaFile"):
        line = "TrustedCaFile = '%s'\n" % sys.argv[2]
    elif line.startswith("CertificateFile"):
        line = "CertificateFile = '%s'\n" % sys.argv[3]
    sys.stdout.write(line)
EOF
mapfile -t lab_pw < <(python3 -c 'import json, sys; a = json.load(open(sys.argv[1]))["accounts"]
print(a["service"]["password"]); print(a["notification"]["password"])' "$lab_dir/lab.json" 2>/dev/null)
rc=$(ec "$tmp/configure.out" "$exe" --org winelab configure --answers "$(winpath "$tmp/answers-win.toml")" --no-service)
expect_eq "configure --answers (CA file as Z:\\…) --no-service: exit 0" "0" "$rc"
expect_match "configure: passwords in Windows Credential Manager" '^passwords: +Windows Credential Manager' "$(cat "$tmp/configure.out")"
expect_match "configure wrote C:\\ProgramData\\EAS Connector\\winelab\\ConnectorServiceConfiguration.xml" \
  '^configuration: C:\\ProgramData\\EAS Connector\\winelab\\ConnectorServiceConfiguration\.xml$' "$(cat "$tmp/configure.out")"
expect_match "… with the lab's CAS and the CA file's Windows path" "<TrustedCaFile>Z:\\\\.*\\\\lab-ca\\.pem</TrustedCaFile>" \
  "$(cat "$PD/winelab/ConnectorServiceConfiguration.xml" 2>/dev/null)"
creds=$(w reg query "$CRED_KEY" 2>&1)
expect_match "service account password in wine's Credential Manager" 'Generic: winelab/service-account\.EAS Connector$' "$creds"
expect_match "notification account password in wine's Credential Manager" 'Generic: winelab/notification-account\.EAS Connector$' "$creds"
expect_match "the cloud app's private key in wine's Credential Manager (DER, under its 2 560-byte limit)" \
  'Generic: winelab/cloud-private-key\.EAS Connector$' "$creds"
leaks=$(python3 - "$PD/winelab" "${lab_pw[@]}" <<'EOF'
import os, sys
top, pws = sys.argv[1], sys.argv[2:]
needles = [n for pw in pws for n in (pw.encode(), pw.encode("utf-16-le"))]
for d, _, files in os.walk(top):
    for f in files:
        p = os.path.join(d, f)
        if any(n in open(p, "rb").read() for n in needles):
            print(p)
EOF
)
expect_eq "the lab passwords (${#lab_pw[@]}) are in no file under ProgramData\\EAS Connector\\winelab" "2 " "${#lab_pw[@]} $leaks"
rc=$(ec "$tmp/validate.out" "$exe" --org winelab validate)
expect_eq "validate against the lab: exit 0" "0" "$rc"
expect_no_match "validate: no check failed" '✘' "$(cat "$tmp/validate.out")"
# The service runs as LocalSystem, whose Credential Manager is not the admin's. wine has one
# account, so take the admin's entries away: the service below must sync with its DPAPI copy.
for kind in service-account notification-account cloud-certificate cloud-private-key; do
  wine reg delete "$CRED_KEY\\Generic: winelab/$kind.EAS Connector" /f >/dev/null 2>&1 || true
done
creds=$(w reg query "$CRED_KEY" 2>&1)
expect_match "… reg query of wine's Credential Manager works" 'Credential Manager$' "$creds"
expect_no_match "the admin's Credential Manager entries for winelab are gone (as LocalSystem sees it)" \
  'winelab/' "$creds"

# One wine session (a batch file run by one `cmd /c`): wine ends the session, and the service
# with it, when its last ordinary process exits. Markers "==step" split the output.
cat >"$tmp/service.bat" <<EOF
@echo off
set EXE=$(winpath "$exe")
echo ==install
"%EXE%" --org winelab service install
echo rc=%ERRORLEVEL%
echo ==event-source
reg query "HKLM\\System\\CurrentControlSet\\Services\\EventLog\\Application\\EAS Connector (winelab)"
echo ==wait
set n=0
:wait
"%EXE%" --org winelab sync --quick --no-wait >nul 2>&1 && goto up
set /a n=n+1
if %n% lss 150 goto wait
echo never running
:up
echo ==sc-query
sc query EasConnector\$winelab
echo ==registry
reg query "HKLM\\System\\CurrentControlSet\\Services\\EasConnector\$winelab" /v ImagePath
echo ==sync
"%EXE%" --org winelab sync --full --timeout 120
echo rc=%ERRORLEVEL%
echo ==uninstall
"%EXE%" --org winelab service uninstall
echo rc=%ERRORLEVEL%
echo ==sc-query-after
sc query EasConnector\$winelab
echo ==event-source-after
reg query "HKLM\\System\\CurrentControlSet\\Services\\EventLog\\Application\\EAS Connector (winelab)"
echo ==end
EOF
# trace+eventlog: the session's processes (the service among them) print what they report to
# the Event Log; the lines land in whichever section was running, so they are read from all.
# A fresh session, so that services.exe (and the service it starts) has this WINEDEBUG too.
timeout 60 wineserver -w || true
WINEDEBUG=-all,trace+eventlog wine cmd /c "$(winpath "$tmp/service.bat")" </dev/null 2>&1 | tr -d '\r' >"$tmp/service.out" || true
# section NAME: the lines between ==NAME and the next ==marker.
section() { awk -v s="==$1" '/^==/ { on = ($0 == s); next } on' "$tmp/service.out"; }
# shellcheck disable=SC2016  # literal backquotes / dollar, not expansions
expect_match "service install: EasConnector\$winelab installed and started" \
  '^installed and started EasConnector\$winelab \(Windows Service Control Manager\)$' "$(section install)"
expect_match "… exit 0" '^rc=0$' "$(section install)"
expect_no_match "the service answers on its named pipe (sync --quick --no-wait queued)" 'never running' "$(section wait)"
expect_match "sc query EasConnector\$winelab: RUNNING" 'STATE +: 4 +RUNNING' "$(section sc-query)"
expect_match "registry ImagePath: the exe, run --org winelab --config-dir C:\\ProgramData\\EAS Connector" \
  'ImagePath +REG_(EXPAND_)?SZ +.*eas-connector\.exe"? run --org winelab --config-dir "?C:.ProgramData.EAS Connector"?$' "$(section registry)"
expect_match "sync --full over \\\\.\\pipe\\eas-connector-winelab: all 20 devices" \
  '^full sync done: 20 device\(s\) in [0-9]+ ms via ' "$(section sync)"
expect_match "… exit 0" '^rc=0$' "$(section sync)"
# shellcheck disable=SC2016  # literal backquotes / dollar, not expansions
expect_match "service uninstall: removed, exit 0" '^removed EasConnector\$winelab$' "$(section uninstall)"
expect_no_match "sc query afterwards: the service is gone" 'RUNNING|STOPPED' "$(section sc-query-after)"
expect_match "service install registered the Event Log source: EventMessageFile = the exe" \
  'EventMessageFile +REG_EXPAND_SZ +.*eas-connector\.exe$' "$(section event-source)"
expect_match "… TypesSupported = 7 (error, warning, information)" 'TypesSupported +REG_DWORD +0x7$' "$(section event-source)"
expect_match "… the whole session ran (==end reached)" '^==end$' "$(cat "$tmp/service.out")"
expect_no_match "service uninstall removed the source" 'EventMessageFile' "$(section event-source-after)"
events=$(grep 'trace:eventlog:ReportEventW' "$tmp/service.out" || true)
expect_match "the service reported 'service started' to the Event Log" 'ReportEventW L"service started' "$events"
expect_match "… the full sync, with its device count" 'ReportEventW L"sync finished.*devices: 20' "$events"
expect_match "… and 'service stopped' at uninstall" 'ReportEventW L"service stopped' "$events"
expect_match "the service's status file records the full sync" '"devices": ?20' \
  "$(cat "$PD/winelab/ServiceStatus.json" 2>/dev/null)"
[ "$T_FAILED" -eq 0 ] || { echo "--- service session output:"; sed 's/^/    /' "$tmp/service.out"; }
stop_pids

kerberos_tests

echo "== MSI: $msi"
code=$(product_code "$msi")
pre=$(snapshot)
rc=$(ec "$tmp/i1.out" msiexec /i "$(winpath "$msi")" /qn /l*v "$(winpath "$tmp/install.log")")
expect_eq "msiexec /i /qn: exit 0" "0" "$rc"
check "eas-connector.exe in drive_c/Program Files/EAS Connector/, identical to the build" cmp "$INST/eas-connector.exe" "$exe"
check "eas-connector-setup.exe installed beside it, identical to the build" cmp "$INST/eas-connector-setup.exe" "$wizard"
shortcut=$(find_shortcut)
check "Start Menu shortcut 'EAS Connector Setup.lnk' (${shortcut#"$C"/})" test -s "$shortcut"
expect_match "the shortcut points at the installed wizard" 'C:\\Program Files\\EAS Connector\\eas-connector-setup\.exe' \
  "$(python3 -c 'import sys; d = open(sys.argv[1], "rb").read(); print(d.decode("utf-16-le", "ignore") + d.decode("latin-1"))' "$shortcut" 2>/dev/null | tr -d '\0')"
expect_no_match "a silent install (/qn) does not open the wizard (no LaunchWizard in the log)" 'LaunchWizard' "$(cat "$tmp/install.log")"
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
check "after the upgrade eas-connector.exe is installed" cmp "$INST/eas-connector.exe" "$exe"
check "after the upgrade eas-connector-setup.exe is installed" cmp "$INST/eas-connector-setup.exe" "$wizard"
expect_match "upgrade log shows RemoveExistingProducts" "^Action start .*: RemoveExistingProducts\.$" "$(cat "$tmp/upgrade.log")"
expect_no_match "upgrade did not run the uninstall clean-up actions" "^Action start .*: (UninstallServices|PurgeConfig)\.$" \
  "$(cat "$tmp/upgrade.log")"
check "upgrade kept the configuration (ProgramData)" grep -q cas02.contoso.test "$PD/winetest-upgrade/ConnectorServiceConfiguration.xml"
expect_match "upgrade kept the password (Credential Manager)" '^  service account password +stored' \
  "$(w "$INST_WIN" --org winetest-upgrade config show 2>&1)"

rc=$(ec "$tmp/x1.out" msiexec /x "$(winpath "$msi2")" /qn /l*v "$(winpath "$tmp/uninstall.log")")
expect_eq "msiexec /x /qn: exit 0" "0" "$rc"
expect_match "uninstall ran UninstallServices" "^Action start .*: UninstallServices\.$" "$(cat "$tmp/uninstall.log")"
expect_no_match "uninstall without PURGE=1 skipped PurgeConfig" "PurgeConfig" "$(cat "$tmp/uninstall.log")"
expect_eq "no EAS Connector product registered any more" "" "$(installed_codes)"
# C:\Windows\Installer (the MSI cache folder) stays once made, as on Windows; a file in it would not.
left=$(comm -13 <(printf '%s\n' "$pre") <(snapshot) \
       | grep -vE '^\./ProgramData/EAS Connector(/|$)|^\./windows/Installer$' || true)
expect_eq "the Start Menu shortcut is gone" "" "$(find_shortcut)"
expect_eq "nothing left behind in drive_c (new files/folders besides ProgramData\\EAS Connector: ${left:-none})" "" "$left"
check "uninstall kept the configuration (only PURGE=1 removes it)" \
  test -s "$PD/winetest-upgrade/ConnectorServiceConfiguration.xml"

rc=$(ec "$tmp/i3.out" msiexec /i "$(winpath "$msi")" /qn)
rc+=$(ec "$tmp/x2.out" msiexec /x "$(winpath "$msi")" PURGE=1 /qn /l*v "$(winpath "$tmp/purge.log")")
expect_eq "install, then msiexec /x PURGE=1: exit 0, 0" "00" "$rc"
expect_match "uninstall with PURGE=1 ran PurgeConfig" "^Action start .*: PurgeConfig\.$" "$(cat "$tmp/purge.log")"
check "Program Files\\EAS Connector removed" test ! -e "$INST"
check "PURGE=1 removed C:\\ProgramData\\EAS Connector (every organization's folder, then the root)" test ! -e "$PD"
expect_no_match "PURGE=1 removed the organizations' credentials (winetest-upgrade, winelab)" \
  '(winetest-upgrade|winelab)/[a-z-]+\.EAS Connector' "$(w reg query "$CRED_KEY" 2>&1)"

echo "== the setup wizard under Xvfb ($DISPLAY)"
# The screenshot goes to target/windows; docs/screenshots/ gets it when it has none yet or with
# EAS_UPDATE_SCREENSHOTS=1 (a test run must not dirty the work tree with a re-rendered PNG).
shot="$target_dir/windows-wizard-wine.png"
doc_shot="$root/docs/screenshots/windows-wizard-wine.png"
rm -f "$shot"
if true; then
  wine "$wizard" --lang en --theme light >"$tmp/wizard.out" 2>&1 </dev/null &
  wizard_pid=$!
  pids+=("$wizard_pid")
  WIN=$(wizard_window) || WIN=""
  expect_match "eas-connector-setup.exe opens a window titled 'EAS Connector Setup'" \
    '^EAS Connector Setup' "$(xdotool getwindowname "$WIN" 2>&1)"
  # Text drawn: anti-aliased glyphs give hundreds of colours; an empty window has a handful.
  colours=0
  for _ in $(seq 40); do
    if [ -n "$WIN" ] && import -window root "$tmp/root.png" 2>/dev/null; then
      eval "$(xdotool getwindowgeometry --shell "$WIN")"   # X Y WIDTH HEIGHT
      convert "$tmp/root.png" -crop "${WIDTH}x${HEIGHT}+${X}+${Y}" +repage "$tmp/wizard.png"
      colours=$(identify -format %k "$tmp/wizard.png")
      [ "$colours" -ge 200 ] && break
    fi
    sleep 0.5
  done
  check "the wizard's first page shows text ($colours colours; an empty window has a few)" test "$colours" -ge 200
  if [ "$colours" -ge 200 ]; then
    cp "$tmp/wizard.png" "$shot"
    if [ ! -e "$doc_shot" ] || [ "${EAS_UPDATE_SCREENSHOTS:-0}" = 1 ]; then cp "$shot" "$doc_shot"; fi
  fi
  check "screenshot saved: ${shot#"$root"/}" test -s "$shot"
  kill "$wizard_pid" 2>/dev/null || true
  wait "$wizard_pid" 2>/dev/null || true

  # An interactive install (reduced UI, /qr) opens the installed wizard when it finishes.
  rc=$(ec "$tmp/qr.out" msiexec /i "$(winpath "$msi")" /qr /l*v "$(winpath "$tmp/qr.log")")
  expect_eq "msiexec /i /qr (interactive): exit 0" "0" "$rc"
  expect_match "… ran LaunchWizard" "^Action start .*: LaunchWizard\.$" "$(cat "$tmp/qr.log")"
  WIN=$(wizard_window) || WIN=""
  qr_pid=$(xdotool getwindowpid "$WIN" 2>/dev/null) || qr_pid=$(installed_wizard_pid) || qr_pid=""
  expect_match "… and the 'EAS Connector Setup' window opens" '^EAS Connector Setup' "$(xdotool getwindowname "$WIN" 2>&1)"
  expect_match "… from C:\\Program Files\\EAS Connector\\eas-connector-setup.exe" \
    'Program Files.EAS Connector.eas-connector-setup\.exe' "$(tr '\0' ' ' <"/proc/${qr_pid:-0}/cmdline" 2>/dev/null)"
  if [ -n "$qr_pid" ]; then kill "$qr_pid" 2>/dev/null || true; fi
  rc=$(ec "$tmp/x3.out" msiexec /x "$(winpath "$msi")" /qn)
  expect_eq "uninstall after the interactive install: exit 0" "0" "$rc"
  stop_pids
fi

cleanup_state
summary
