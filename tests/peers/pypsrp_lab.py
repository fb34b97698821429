#!/usr/bin/env python3
"""Acceptance check of the lab's /PowerShell with an independent client, pypsrp (PyPI).

Usage: pypsrp_lab.py STATE_DIR EXPECTED_DEVICES [--auth basic|kerberos] [--http] [--no-cbt]
                     [--hostname-override NAME] [--realm REALM]
Reads STATE_DIR/lab.json, runs the connector's cmdlets the way pypsrp users would, asserts
what it gets, and prints one JSON object with the results (the Rust test checks it too).
Exits non-zero on the first failed check.

Options (the defaults are the original behaviour: Basic over HTTPS):
  --auth basic|kerberos   how to sign in (also env PYPSRP_LAB_AUTH; the option wins).
                          kerberos: pypsrp's WSMan(auth="kerberos", negotiate_service="HTTP"),
                          signing in as `alias@REALM` (alias: the lab account's `LAB\\alias`)
                          with the account's password, so pyspnego gets the tickets itself
                          (gss_acquire_cred_with_password). Needs the system python
                          (/usr/bin/python3, Debian's python3-gssapi, PyPI krb5 + pyspnego +
                          pypsrp) and KRB5_CONFIG naming the realm's krb5.conf; the lab's
                          accounts must exist in the realm with the same passwords.
  --http                  plain http:// (ssl=False): pypsrp then seals every message (WinRM
                          message encryption: HTTP-Kerberos-session-encrypted when the server
                          offers the `Kerberos` scheme, else HTTP-SPNEGO-session-encrypted).
                          The URL is the server's `http_url` from lab.json, or its address when
                          the lab itself serves plain HTTP. Not with basic (pypsrp refuses).
  --no-cbt                do not send channel bindings over HTTPS (negotiate_send_cbt=False);
                          by default pypsrp binds to the server's certificate
                          (tls-server-end-point). Kerberos only.
  --hostname-override N   the host name in the SPN HTTP/N (negotiate_hostname_override);
                          default: lab.json's kerberos.host, else the URL's host.
  --realm REALM           the accounts' realm; default: lab.json's kerberos.realm.
The JSON result also carries "auth", "ssl" and "send_cbt" as used.
"""
import argparse
import json
import os
import sys
import time

from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan


def wsman(info, who, opts):
    server = info["servers"][0]
    acc = info["accounts"][who]
    address = server["address"]
    if opts.http and server["url"].startswith("https://"):
        check(server.get("http_url"), "--http: the lab serves no plain http:// listener")
        address = server["http_url"].split("://", 1)[1]
    host, port = address.rsplit(":", 1)
    common = dict(port=int(port), path="PowerShell", ssl=not opts.http, operation_timeout=20)
    if not opts.http:
        common["cert_validation"] = info["ca_file"]
    if opts.auth == "basic":
        return WSMan(host, auth="basic", username=acc["user"], password=acc["password"], **common)
    kerberos = info.get("kerberos") or {}
    realm = opts.realm or kerberos.get("realm")
    check(realm, "--auth kerberos: no realm (lab.json has no kerberos.realm; pass --realm)")
    alias = acc["user"].split("\\")[-1].split("@")[0]
    hostname = opts.hostname_override or kerberos.get("host")
    extra = {"negotiate_hostname_override": hostname} if hostname else {}
    return WSMan(
        host,
        auth="kerberos",
        username=f"{alias}@{realm}",
        password=acc["password"],
        negotiate_service="HTTP",
        negotiate_send_cbt=opts.send_cbt,
        **extra,
        **common,
    )


def text(v):
    """An enum comes back as a complex object whose ToString is the label."""
    return v if isinstance(v, str) or v is None else str(v)


def check(cond, what):
    if not cond:
        print(f"FAILED: {what}", file=sys.stderr)
        sys.exit(1)


def options():
    ap = argparse.ArgumentParser(description="pypsrp against the lab's /PowerShell")
    ap.add_argument("state_dir")
    ap.add_argument("expected", type=int)
    ap.add_argument("--auth", choices=["basic", "kerberos"], default=os.environ.get("PYPSRP_LAB_AUTH") or "basic")
    ap.add_argument("--http", action="store_true")
    ap.add_argument("--no-cbt", dest="send_cbt", action="store_false")
    ap.add_argument("--hostname-override")
    ap.add_argument("--realm")
    opts = ap.parse_args()
    if opts.http and opts.auth == "basic":
        ap.error("--http needs --auth kerberos (pypsrp cannot seal messages with basic)")
    return opts


def main():
    opts = options()
    state_dir, expected = opts.state_dir, opts.expected
    info = json.load(open(f"{state_dir}/lab.json"))
    kerberos_cbt = opts.auth == "kerberos" and opts.send_cbt and not opts.http
    result = {"auth": opts.auth, "ssl": not opts.http, "send_cbt": kerberos_cbt}
    with RunspacePool(wsman(info, "service", opts), configuration_name="Microsoft.Exchange") as pool:
        started = time.monotonic()
        ps = PowerShell(pool)
        ps.add_cmdlet("Get-MobileDevice").add_parameter("ResultSize", "Unlimited")
        devices = ps.invoke()
        result["fetch_seconds"] = round(time.monotonic() - started, 3)
        check(not ps.had_errors, f"Get-MobileDevice had errors: {ps.streams.error}")
        result["devices"] = len(devices)
        check(len(devices) == expected, f"{len(devices)} devices, expected {expected}")
        ids = set()
        for d in devices:
            p = d.adapted_properties
            for name in ("Identity", "Guid", "DeviceId", "DeviceType", "DeviceModel", "DeviceOS",
                         "DeviceUserAgent", "FriendlyName", "FirstSyncTime", "WhenChanged",
                         "DeviceAccessState", "DeviceAccessStateReason", "UserDisplayName",
                         "DistinguishedName", "ClientType"):
                check(name in p, f"device lacks {name}")
            check(text(p["DeviceAccessState"]) == "Allowed", f"state {text(p['DeviceAccessState'])}")
            check(p["Identity"].endswith("§" + p["DeviceId"]), f"identity {p['Identity']}")
            ids.add(p["DeviceId"])
        check(len(ids) == expected, "device ids are unique")
        result["type_names"] = devices[0].types if devices else []

        # The default ResultSize is 1000, with Exchange's warning.
        ps = PowerShell(pool)
        ps.add_cmdlet("Get-MobileDevice")
        first = ps.invoke()
        result["default_result_size"] = len(first)
        result["warnings"] = [str(w) for w in ps.streams.warning]

        # Block one device through a hashtable parameter.
        target = devices[0].adapted_properties
        ps = PowerShell(pool)
        ps.add_cmdlet("Get-CASMailbox").add_parameter("Identity", target["UserDisplayName"])
        mailbox = ps.invoke()
        check(len(mailbox) == 1 and not ps.had_errors, f"Get-CASMailbox: {ps.streams.error}")
        ps = PowerShell(pool)
        ps.add_cmdlet("Set-CASMailbox").add_parameter("Identity", mailbox[0].adapted_properties["PrimarySmtpAddress"])
        ps.add_parameter("ActiveSyncBlockedDeviceIDs", {"Add": [target["DeviceId"]]})
        ps.invoke()
        check(not ps.had_errors, f"Set-CASMailbox: {ps.streams.error}")
        ps = PowerShell(pool)
        ps.add_cmdlet("Get-MobileDevice").add_parameter("Identity", target["Identity"])
        after = ps.invoke()
        check(len(after) == 1, "the changed device is found by identity")
        a = after[0].adapted_properties
        result["blocked_state"] = text(a["DeviceAccessState"])
        result["blocked_reason"] = text(a["DeviceAccessStateReason"])
        result["when_changed_moved"] = a["WhenChanged"] != target["WhenChanged"]

        # A filter finds it too.
        ps = PowerShell(pool)
        ps.add_cmdlet("Get-MobileDevice").add_parameter("Filter", "DeviceAccessState -eq 'Blocked'")
        result["filtered_blocked"] = len(ps.invoke())

        # No-language mode: a script is refused.
        ps = PowerShell(pool)
        ps.add_script("Get-MobileDevice | Select-Object -First 1")
        ps.invoke()
        result["script_had_errors"] = ps.had_errors
        result["script_errors"] = [e.fq_error for e in ps.streams.error]
        result["script_error_message"] = [str(e) for e in ps.streams.error]

    with RunspacePool(wsman(info, "limited", opts), configuration_name="Microsoft.Exchange") as pool:
        ps = PowerShell(pool)
        ps.add_cmdlet("Get-Command")
        names = [c.adapted_properties["Name"] for c in ps.invoke()]
        result["limited_commands"] = names
        ps = PowerShell(pool)
        ps.add_cmdlet("Set-CASMailbox").add_parameter("Identity", target["UserDisplayName"])
        ps.add_parameter("ActiveSyncEnabled", False)
        ps.invoke()
        result["limited_set_errors"] = [e.fq_error for e in ps.streams.error]

    print(json.dumps(result))


if __name__ == "__main__":
    main()
