#!/usr/bin/env python3
"""Acceptance check of the lab's /PowerShell with an independent client, pypsrp (PyPI).

Usage: pypsrp_lab.py STATE_DIR EXPECTED_DEVICES
Reads STATE_DIR/lab.json, runs the connector's cmdlets the way pypsrp users would, asserts
what it gets, and prints one JSON object with the results (the Rust test checks it too).
Exits non-zero on the first failed check.
"""
import json
import sys
import time

from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan


def wsman(info, who):
    host, port = info["servers"][0]["address"].rsplit(":", 1)
    acc = info["accounts"][who]
    return WSMan(
        host,
        port=int(port),
        path="PowerShell",
        ssl=True,
        auth="basic",
        cert_validation=info["ca_file"],
        username=acc["user"],
        password=acc["password"],
        operation_timeout=20,
    )


def text(v):
    """An enum comes back as a complex object whose ToString is the label."""
    return v if isinstance(v, str) or v is None else str(v)


def check(cond, what):
    if not cond:
        print(f"FAILED: {what}", file=sys.stderr)
        sys.exit(1)


def main():
    state_dir, expected = sys.argv[1], int(sys.argv[2])
    info = json.load(open(f"{state_dir}/lab.json"))
    result = {}
    with RunspacePool(wsman(info, "service"), configuration_name="Microsoft.Exchange") as pool:
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

    with RunspacePool(wsman(info, "limited"), configuration_name="Microsoft.Exchange") as pool:
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
