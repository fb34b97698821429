#!/usr/bin/env bash
# kdc.sh — a throwaway MIT Kerberos realm on loopback, the shell twin of tests/support/kdc.rs:
# krb5.conf (clients) and kdc.conf (the KDC) in DIR, the database made with kdb5_util, service
# principals with random AES keys exported to DIR/service.keytab, users with
# +requires_preauth (as Active Directory requires pre-authentication) and `krb5kdc -n` in the
# foreground on a free 127.0.0.1 TCP port (no UDP). Needs Debian's krb5-kdc (krb5kdc,
# kdb5_util) and krb5-admin-server (kadmin.local); no root, nothing outside DIR.
#
# Usage:
#   kdc.sh create DIR REALM [SPN...]   make the realm in DIR (a new or empty folder) with the
#                                      services SPN... (e.g. HTTP/localhost) in DIR/service.keytab
#   kdc.sh serve DIR &                 run its KDC (exec krb5kdc -n: $! is the KDC; the caller
#                                      stops it) on a new free port
#   kdc.sh ready DIR PID               wait until that KDC (PID) accepts; prints its port
#   kdc.sh user DIR NAME PASSWORD      add the user NAME (in the realm) with PASSWORD
#   kdc.sh kadmin DIR QUERY            run one kadmin.local query
# Exits non-zero (with the tool's output on stderr) when a step fails.
set -euo pipefail

die() { printf 'kdc.sh: %s\n' "$*" >&2; exit 1; }
[ $# -ge 2 ] || die "usage: kdc.sh create|serve|ready|user|kadmin DIR ... (see the header)"
cmd=$1 dir=$2
shift 2
case "$dir" in /*) ;; *) dir="$PWD/$dir" ;; esac
ENCTYPES="aes256-cts-hmac-sha1-96:normal,aes128-cts-hmac-sha1-96:normal"

for tool in krb5kdc kdb5_util kadmin.local; do
  command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] \
    || die "$tool missing: apt-get install --no-install-recommends krb5-kdc krb5-admin-server"
done
export PATH="$PATH:/usr/sbin"
export KRB5_CONFIG="$dir/krb5.conf" KRB5_KDC_PROFILE="$dir/kdc.conf" LC_ALL=C

realm() { cat "$dir/realm"; }

# kadmin QUERY: kadmin.local exits 0 after most failed queries; anything on stderr besides its
# "No policy specified" notice is a failure.
kadmin() {
  local err
  err=$(kadmin.local -r "$(realm)" -q "$1" 2>&1 >/dev/null | grep -v '^No policy specified' | grep -v '^[[:space:]]*$') || true
  [ -z "$err" ] || die "kadmin.local -q '$1' failed: $err"
}

write_config() {
  local r=$1 port=$2 modules
  modules=$(dirname "$(find /usr/lib /usr/lib64 -path '*/krb5/plugins/kdb/db2.so' 2>/dev/null | head -1)")
  [ "$modules" != . ] || die "the KDC's db2.so plugin was not found (Debian package krb5-kdc)"
  cat >"$dir/krb5.conf" <<EOF
[libdefaults]
 default_realm = $r
 dns_lookup_kdc = false
 dns_lookup_realm = false
 rdns = false
 dns_canonicalize_hostname = false
 udp_preference_limit = 1
 default_ccache_name = FILE:$dir/ccache

[realms]
 $r = {
  kdc = 127.0.0.1:$port
 }

[dbmodules]
 db_module_dir = $modules
EOF
  cat >"$dir/kdc.conf" <<EOF
[kdcdefaults]
 kdc_ports = $port
 kdc_tcp_ports = $port
 kdc_listen = ""
 kdc_tcp_listen = 127.0.0.1:$port

[realms]
 $r = {
  database_name = $dir/principal
  key_stash_file = $dir/stash
  acl_file = $dir/kadm5.acl
  max_life = 36000s
  max_renewable_life = 7d
  master_key_type = aes256-cts-hmac-sha1-96
  supported_enctypes = ${ENCTYPES//,/ }
 }

[logging]
 kdc = FILE:$dir/kdc.log
 admin_server = FILE:$dir/kadmin.log
 default = FILE:$dir/krb5lib.log
EOF
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

case "$cmd" in
  create)
    [ $# -ge 1 ] || die "usage: kdc.sh create DIR REALM [SPN...]"
    r=$1; shift
    mkdir -p "$dir"
    [ ! -e "$dir/principal" ] || die "$dir already holds a realm"
    printf '%s\n' "$r" >"$dir/realm"
    write_config "$r" "$(free_port)"
    out=$(kdb5_util -r "$r" create -s -P "Test-Realm-Master-1!" 2>&1) || die "kdb5_util create failed: $out"
    for spn in "$@"; do
      kadmin "addprinc -randkey $spn"
      kadmin "ktadd -k $dir/service.keytab -e $ENCTYPES $spn"
    done
    ;;
  serve)
    # Runs in the foreground as krb5kdc itself (exec): start it in the background and stop it
    # by that pid. The port was free when chosen; another process may take it before the KDC
    # binds, so `ready` tells whether this KDC is the one listening.
    [ -f "$dir/realm" ] || die "$dir holds no realm (kdc.sh create first)"
    port=$(free_port)
    write_config "$(realm)" "$port"
    started=$(grep -c 'commencing operation' "$dir/kdc.log" 2>/dev/null) || started=0
    echo "$started" >"$dir/started-before"
    echo "$port" >"$dir/port"
    exec krb5kdc -n -r "$(realm)" </dev/null >>"$dir/krb5kdc.out" 2>&1
    ;;
  ready)
    # Ready = the log says "commencing operation" once more than before `serve` AND the port
    # accepts (the port alone could be another process's); gives up after 10 s or when PID ends.
    [ $# -eq 1 ] || die "usage: kdc.sh ready DIR PID"
    for _ in $(seq 500); do
      if [ -s "$dir/port" ]; then
        port=$(cat "$dir/port")
        now=$(grep -c 'commencing operation' "$dir/kdc.log" 2>/dev/null) || now=0
        if [ "$now" -gt "$(cat "$dir/started-before")" ] \
           && (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
          echo "$port"
          exit 0
        fi
      fi
      kill -0 "$1" 2>/dev/null || break
      sleep 0.02
    done
    die "krb5kdc did not start: $(cat "$dir/krb5kdc.out" "$dir/kdc.log" 2>/dev/null)"
    ;;
  user)
    [ $# -eq 2 ] || die "usage: kdc.sh user DIR NAME PASSWORD"
    case "$2" in *'"'*) die "a password with \" cannot be passed to kadmin.local -q" ;; esac
    kadmin "addprinc +requires_preauth -pw \"$2\" $1"
    ;;
  kadmin)
    [ $# -eq 1 ] || die "usage: kdc.sh kadmin DIR QUERY"
    kadmin "$1"
    ;;
  *) die "unknown command: $cmd (create, serve, ready, user, kadmin)" ;;
esac
