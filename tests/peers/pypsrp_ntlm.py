#!/usr/bin/env python3
"""pypsrp (PyPI) with NTLM and Negotiate authentication against the lab's /PowerShell.

Usage: pypsrp_ntlm.py STATE_DIR [http]
Reads STATE_DIR/lab.json; for auth in ntlm and negotiate, runs Get-MobileDevice as the service
account (DOMAIN\\user), then tries a wrong password. Prints one JSON object with the results.
With `http` the lab serves plain HTTP: pypsrp then seals every message (its default
encryption="auto" over ssl=False, HTTP-SPNEGO-session-encrypted), and one more run with
encryption="never" records how the lab answers clear envelopes.
"""
import json
import sys

from pypsrp.exceptions import AuthenticationError
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan


def wsman(info, auth, password=None, http=False, encryption="auto"):
    host, port = info["servers"][0]["address"].rsplit(":", 1)
    acc = info["accounts"]["service"]
    tls = {} if http else {"cert_validation": info["ca_file"]}
    return WSMan(host, port=int(port), path="PowerShell", ssl=not http, auth=auth,
                 username=acc["user"], password=password or acc["password"], operation_timeout=20,
                 encryption=encryption, **tls)


def main():
    info = json.load(open(f"{sys.argv[1]}/lab.json"))
    http = len(sys.argv) > 2 and sys.argv[2] == "http"
    result = {}
    for auth in ("ntlm", "negotiate"):
        with RunspacePool(wsman(info, auth, http=http), configuration_name="Microsoft.Exchange") as pool:
            ps = PowerShell(pool)
            ps.add_cmdlet("Get-MobileDevice").add_parameter("ResultSize", "Unlimited")
            devices = ps.invoke()
            result[f"{auth}_devices"] = len(devices)
            result[f"{auth}_errors"] = [str(e) for e in ps.streams.error]
        try:
            with RunspacePool(wsman(info, auth, "not-the-password", http=http), configuration_name="Microsoft.Exchange"):
                result[f"{auth}_wrong_password"] = "accepted"
        except AuthenticationError as e:
            result[f"{auth}_wrong_password"] = "refused"
        except Exception as e:
            result[f"{auth}_wrong_password"] = f"{type(e).__name__}: {e}"
    if http:
        try:
            with RunspacePool(wsman(info, "ntlm", http=True, encryption="never"), configuration_name="Microsoft.Exchange"):
                result["clear_envelope"] = "accepted"
        except Exception as e:
            result["clear_envelope"] = f"{type(e).__name__}: {e}"
    print(json.dumps(result))


if __name__ == "__main__":
    main()
