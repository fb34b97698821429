#!/usr/bin/env python3
"""Every ActiveSync device's access state as Exchange (the lab) reports it, read by pypsrp
(PyPI), an independent PSRP client: Get-MobileDevice -ResultSize Unlimited over HTTPS with
Basic, as the lab's service account.

Usage: pypsrp_device_states.py STATE_DIR
Prints one JSON object: {"devices": N, "states": {"<device id, lower case>": "Allowed"|...}}.
"""
import json
import sys

from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan


def text(v):
    return v if isinstance(v, str) or v is None else str(v)


def main():
    info = json.load(open(f"{sys.argv[1]}/lab.json"))
    server = info["servers"][0]
    acc = info["accounts"]["service"]
    host, port = server["address"].rsplit(":", 1)
    wsman = WSMan(host, port=int(port), path="PowerShell", ssl=True, auth="basic",
                  username=acc["user"], password=acc["password"],
                  cert_validation=info["ca_file"], operation_timeout=60)
    with RunspacePool(wsman, configuration_name="Microsoft.Exchange") as pool:
        ps = PowerShell(pool)
        ps.add_cmdlet("Get-MobileDevice").add_parameter("ResultSize", "Unlimited")
        devices = ps.invoke()
        if ps.had_errors:
            print(f"FAILED: {ps.streams.error}", file=sys.stderr)
            sys.exit(1)
    states = {}
    for d in devices:
        p = d.adapted_properties
        states[p["DeviceId"].lower()] = text(p["DeviceAccessState"])
    print(json.dumps({"devices": len(devices), "states": states}))


if __name__ == "__main__":
    main()
