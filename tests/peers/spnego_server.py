#!/usr/bin/env python3
"""An independent NTLM / Negotiate HTTP server for the connector's client tests: pyspnego (PyPI).

Usage: NTLM_USER_FILE=users.txt spnego_server.py
Users are lines `DOMAIN:user:password` (pyspnego's format). Listens on 127.0.0.1 on a free
port, prints the port on the first line of stdout, and serves HTTP/1.1 keep-alive: like IIS,
the handshake runs on one connection and then the connection is authenticated. An
authenticated request gets 200 with the JSON {"user": ..., "protocol": ...}.
"""
import base64
import json
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
        if length:
            self.rfile.read(length)
        auth = self.headers.get("Authorization")
        if not auth:
            if self.user:
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

    do_GET = handle_any
    do_POST = handle_any


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
