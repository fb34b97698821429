#!/usr/bin/env python3
"""Compare PSRP decode throughput: pypsrp vs. our Rust codec, same files, same work.

Work per pass, both sides: parse every request/response SOAP envelope of every
recording (YAML loaded once, outside the timing), base64-decode the PSRP
payloads (creationXml, connectXml, connectResponseXml, CommandLine/Arguments,
Send/Stream, ReceiveResponse/Stream) of PowerShell shells, reassemble
fragments per shell + direction + command id, and deserialize each message's
CLIXML (pypsrp: its Fragmenter.defragment -> Message.unpack -> Serializer;
ours: Capture::decode_values, no JSON).

Installs nothing: needs `pip install pypsrp pyyaml` done beforehand.
Usage: scripts/bench-vs-pypsrp.py [RECORDINGS_DIR] [--seconds N] [--rust-bin PATH]
Without --rust-bin it runs `cargo run --release --example decode_throughput`.
"""

import argparse
import base64
import glob
import os
import re
import subprocess
import sys
import time
import warnings
import xml.etree.ElementTree as ET

import yaml
from pypsrp.powershell import Fragmenter
from pypsrp.serializer import Serializer

SHELL = "{http://schemas.microsoft.com/wbem/wsman/1/windows/shell}"
PS = "{http://schemas.microsoft.com/powershell}"
WSMAN = "{http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd}"
ADDR = "{http://schemas.xmlsoap.org/ws/2004/08/addressing}"
SOAP = "{http://www.w3.org/2003/05/soap-envelope}"
PS_PREFIX = "http://schemas.microsoft.com/powershell/"


def load(directory):
    caps = []
    for path in sorted(glob.glob(os.path.join(directory, "*.yml"))):
        with open(path, encoding="utf-8") as f:
            doc = yaml.safe_load(f)
        items = [(m.get("request") or "", m.get("response") or "") for m in doc.get("messages", [])]
        caps.append((os.path.basename(path), items))
    return caps


def payloads(env, direction):
    """Yield (command_id, bytes) PSRP payloads of one parsed envelope."""
    body = env.find(SOAP + "Body")
    if body is None:
        return
    for el in body.iter():
        tag = el.tag
        if tag in (PS + "creationXml", PS + "connectXml", PS + "connectResponseXml"):
            yield "", base64.b64decode(el.text or "")
        elif tag == SHELL + "CommandLine":
            args = el.find(SHELL + "Arguments")
            if args is not None and args.text:
                yield (el.get("CommandId") or "").upper(), base64.b64decode(args.text)
        elif tag == SHELL + "Stream":
            yield (el.get("CommandId") or "").upper(), base64.b64decode(el.text or "")


def decode_pass(caps, serializer):
    count = errors = 0
    for _name, items in caps:
        frags = {}
        shells = {}
        for req, resp in items:
            shell, psrp = "", False
            for direction, text in (("request", req), ("response", resp)):
                if not text.strip():
                    continue
                env = ET.fromstring(text)
                header = env.find(SOAP + "Header")
                if direction == "request":
                    uri = header.findtext(WSMAN + "ResourceURI") if header is not None else None
                    sel = header.find(WSMAN + "SelectorSet/" + WSMAN + "Selector") if header is not None else None
                    shell = (sel.text if sel is not None else "") or ""
                    sh = env.find(SOAP + "Body/" + SHELL + "Shell")
                    if sh is not None and sh.get("ShellId"):
                        shell = sh.get("ShellId")
                    shell = shell.upper()
                    if uri is not None:
                        psrp = uri.startswith(PS_PREFIX)
                        shells[shell] = psrp
                    else:
                        psrp = shells.get(shell, False)
                if not psrp:
                    continue
                for cmd, data in payloads(env, direction):
                    key = (shell, direction, cmd)
                    fr = frags.get(key)
                    if fr is None:
                        fr = frags[key] = Fragmenter(153600, serializer)
                    try:
                        count += len(fr.defragment(data))
                    except Exception:  # pypsrp cannot unpack some types
                        errors += 1
    return count, errors


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("directory", nargs="?", default=os.environ.get(
        "EAS_PSRP_RECORDINGS", "/work/shared/fixtures/pypsrp-recordings"))
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--rust-bin", default=None)
    a = ap.parse_args()
    warnings.simplefilter("ignore")
    caps = load(a.directory)
    serializer = Serializer()
    per_pass, errors = decode_pass(caps, serializer)
    start = time.perf_counter()
    total = passes = 0
    while passes == 0 or time.perf_counter() - start < a.seconds:
        n, _ = decode_pass(caps, serializer)
        total += n
        passes += 1
    elapsed = time.perf_counter() - start
    py_rate = total / elapsed
    print(f"pypsrp: files={len(caps)} messages_per_pass={per_pass} unpack_errors_per_pass={errors} "
          f"passes={passes} messages_per_second={py_rate:.0f}")

    here = os.path.dirname(os.path.abspath(__file__))
    if a.rust_bin:
        cmd = [a.rust_bin, a.directory, str(a.seconds)]
    else:
        cmd = ["cargo", "run", "-q", "--release", "--example", "decode_throughput", "--",
               a.directory, str(a.seconds)]
    out = subprocess.run(cmd, cwd=os.path.dirname(here), capture_output=True, text=True, check=True).stdout
    print("ours:  " + " ".join(out.split()))
    m = re.search(r"messages_per_second=(\d+)", out)
    if m:
        ours = float(m.group(1))
        print(f"ratio ours/pypsrp = {ours / py_rate:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
