#!/usr/bin/env python3
"""An independent NTLM / Negotiate HTTP server for the connector's client tests: pyspnego (PyPI).

Usage: NTLM_USER_FILE=users.txt spnego_server.py
Users are lines `DOMAIN:user:password` (pyspnego's format). Listens on 127.0.0.1 on a free
port, prints the port on the first line of stdout, and serves HTTP/1.1 keep-alive: like IIS,
the handshake runs on one connection and then the connection is authenticated. An
authenticated request gets 200 with the JSON {"user": ..., "protocol": ...}.

A body sent as WinRM message encryption (multipart/encrypted, HTTP-SPNEGO-session-encrypted)
is unsealed with pyspnego's own unwrap_winrm and the answer, {"user", "protocol", "clear": the
unsealed text}, goes back sealed with wrap_winrm in the same framing (as pypsrp frames it).
"""
import base64
import json
import re
import struct
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import spnego


def is_first_token(tok):
    return tok.startswith(b"NTLMSSP\x00\x01") or tok[:1] == b"\x60"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    ctx = None
    user = None

    def log_message(self, *args):
        pass

    def reply(self, status, body=b"", headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def refuse(self):
        self.ctx = None
        self.reply(401, b"denied", [("WWW-Authenticate", "Negotiate"), ("WWW-Authenticate", "NTLM")])

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        auth = self.headers.get("Authorization")
        if not auth:
            if self.user:
                ctype = self.headers.get("Content-Type") or ""
                if ctype.startswith("multipart/encrypted"):
                    return self.sealed(ctype, body)
                return self.ok(None)
            return self.refuse()
        scheme, _, b64 = auth.partition(" ")
        try:
            tok = base64.b64decode(b64)
        except ValueError:
            return self.refuse()
        if self.ctx is None or is_first_token(tok):
            protocol = "negotiate" if scheme.lower() == "negotiate" else "ntlm"
            self.ctx = spnego.server(protocol=protocol)
            self.user = None
        try:
            out = self.ctx.step(tok)
        except Exception as e:  # refused credentials or a malformed token
            print(f"refused: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
            return self.refuse()
        if self.ctx.complete:
            self.user = self.ctx.client_principal
            return self.ok(f"{scheme} {base64.b64encode(out).decode()}" if out else None)
        self.reply(401, b"", [("WWW-Authenticate", f"{scheme} {base64.b64encode(out or b'').decode()}")])

    def ok(self, final):
        body = json.dumps({"user": self.user, "protocol": self.ctx.negotiated_protocol if self.ctx else None}).encode()
        self.reply(200, body, [("Content-Type", "application/json")] + ([("WWW-Authenticate", final)] if final else []))

    def sealed(self, ctype, body):
        boundary = re.search(r'boundary="?([^";]+)"?', ctype).group(1)
        parts = [p for p in re.split(rb"--\s*" + re.escape(boundary.encode()) + rb"(?:--)?\r\n", body) if p]
        header, payload = parts[0], parts[1]
        length = int(re.search(rb"Length=(\d+)", header).group(1))
        payload = payload.split(b"application/octet-stream\r\n", 1)[1]
        sig_len = struct.unpack("<I", payload[:4])[0]
        try:
            clear = self.ctx.unwrap_winrm(payload[4:4 + sig_len], payload[4 + sig_len:])
        except Exception as e:
            print(f"unwrap failed: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
            return self.reply(400, b"unwrap failed")
        if len(clear) != length:
            return self.reply(400, b"length mismatch")
        answer = json.dumps({"user": self.user, "protocol": self.ctx.negotiated_protocol,
                             "clear": clear.decode("utf-8")}).encode()
        sig, data, padding = self.ctx.wrap_winrm(answer)
        out = (b"--Encrypted Boundary\r\n\tContent-Type: application/HTTP-SPNEGO-session-encrypted\r\n"
               b"\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length=%d\r\n"
               b"--Encrypted Boundary\r\n\tContent-Type: application/octet-stream\r\n" % (len(answer) + padding)
               + struct.pack("<I", len(sig)) + sig + data + b"--Encrypted Boundary--\r\n")
        self.reply(200, out, [("Content-Type", 'multipart/encrypted;protocol="application/HTTP-SPNEGO-session-encrypted";boundary="Encrypted Boundary"')])

    do_GET = handle_any
    do_POST = handle_any


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
