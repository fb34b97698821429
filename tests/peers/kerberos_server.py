#!/usr/bin/python3
"""An independent Kerberos / Negotiate HTTPS (or HTTP) acceptor for the connector's client tests.

It is MIT Kerberos's GSS-API acceptor (Debian python3-gssapi) driven by pyspnego (PyPI), so it
runs only with the system python, /usr/bin/python3.

Usage: KRB5_CONFIG=... KRB5_KTNAME=FILE:service.keytab kerberos_server.py
           (--cert CERT.pem --key KEY.pem | --plain) [options]

  --cert, --key        the TLS leaf (first certificate of CERT.pem) and its key, PEM
  --plain              serve plain HTTP instead (no channel bindings then)
  --schemes LIST       the schemes offered in 401 answers, in order, comma-separated:
                       Negotiate, Kerberos, NTLM (default "Negotiate,Kerberos"); a request
                       with a scheme not offered is refused. NTLM (raw, or inside Negotiate)
                       checks users in NTLM_USER_FILE (lines DOMAIN:user:password) and, with
                       bindings, MsvAvChannelBindings (pyspnego refuses none or a wrong one)
  --bindings MODE      the channel bindings handed to the acceptor (HTTPS only):
                       own (default): tls-server-end-point of our own certificate;
                       none: no bindings (nothing is checked);
                       other:FILE.pem: those of another certificate, as if a load balancer
                       re-encrypted with it, so a client that sends bindings is refused
  --require-bindings   also refuse a sign-in the acceptor did not report as channel-bound
                       (GSS_C_CHANNEL_BOUND_FLAG), like Extended Protection "Require";
                       without it MIT's acceptor behaves like "Allow": no bindings from the
                       client are accepted, wrong ones refused
  --hostname NAME      the host name given to pyspnego (default localhost)

MIT's acceptor takes a ticket for any service whose key is in the keytab (KRB5_KTNAME); to
test a wrong SPN, give it a keytab without that service.

Listens on 127.0.0.1 on a free port and prints the port on the first line of stdout. HTTP/1.1
keep-alive: once a connection is signed in, later requests on it need no Authorization (as
IIS does); a new Authorization starts a new sign-in. Success answers 200 with the JSON
{"user": client principal, "protocol": negotiated protocol, "scheme": HTTP scheme used,
"channel_bound": whether the acceptor verified channel bindings} and the acceptor's final
token as `WWW-Authenticate: <same scheme> <token>`. Refusals answer 401 with the offered
schemes and log the reason on stderr (`refused: ...`; a request without Authorization gets
the same 401, logged as `challenge: ...`).

A body sent as WinRM message encryption (multipart/encrypted with protocol
application/HTTP-Kerberos-session-encrypted for the Kerberos scheme, or
application/HTTP-SPNEGO-session-encrypted for Negotiate) is unsealed with pyspnego's
unwrap_winrm; the answer, the same JSON plus "clear": the unsealed text, goes back sealed with
wrap_winrm in the same framing and protocol (as pypsrp frames it).
"""
import argparse
import base64
import hashlib
import json
import re
import socket
import ssl
import struct
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import gssapi
import spnego
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding

PROTOCOLS = {"negotiate": "negotiate", "kerberos": "kerberos", "ntlm": "ntlm"}
SEALED = {
    "negotiate": "application/HTTP-SPNEGO-session-encrypted",
    "kerberos": "application/HTTP-Kerberos-session-encrypted",
    "ntlm": "application/HTTP-SPNEGO-session-encrypted",
}
GSS_C_CHANNEL_BOUND_FLAG = 2048


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# python-gssapi turns a failed gss_accept_sec_context that produced an error token (MIT's
# KRB-ERROR: wrong channel bindings, clock skew, wrong key, ...) into a returned token, and
# pyspnego then fails with an unrelated AttributeError. Remember the real error for the log.
_last_error = threading.local()
_acceptor_step = gssapi.SecurityContext._acceptor_step


def _recording_acceptor_step(self, token):
    _last_error.value = None
    try:
        return _acceptor_step(self, token)
    except gssapi.exceptions.GSSError as e:
        _last_error.value = e
        raise


gssapi.SecurityContext._acceptor_step = _recording_acceptor_step


def end_point_data(pem_path):
    """RFC 5929 tls-server-end-point application data of the first certificate in `pem_path`."""
    with open(pem_path, "rb") as f:
        cert = x509.load_pem_x509_certificate(f.read())
    algo = cert.signature_hash_algorithm
    if algo is None or isinstance(algo, (hashes.MD5, hashes.SHA1)):
        name = "sha256"
    else:
        name = algo.name  # sha256, sha384, sha512, ...
    return b"tls-server-end-point:" + hashlib.new(name, cert.public_bytes(Encoding.DER)).digest()


def channel_bound(ctx):
    """Whether MIT's acceptor reported the sign-in as channel-bound (reaches the inner context
    of a Negotiate proxy)."""
    inner = getattr(ctx, "_context", None)
    for _ in range(3):
        flags = getattr(inner, "actual_flags", None)
        if flags is not None:
            return bool(int(flags) & GSS_C_CHANNEL_BOUND_FLAG)
        inner = getattr(inner, "_context", None)
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    config = None  # set by main(): argparse namespace plus `cbt` (bytes or None)
    ctx = None
    scheme = None
    user = None

    def log_message(self, *args):
        pass

    timeout = 60
    tls_failed = False

    def setup(self):
        super().setup()  # applies the timeout, so a silent client cannot hold a thread
        if isinstance(self.request, ssl.SSLSocket):
            try:
                self.request.do_handshake()
            except (ssl.SSLError, OSError) as e:
                log(f"TLS handshake failed: {e}")
                self.tls_failed = True

    def handle(self):
        if self.tls_failed:
            return
        try:
            super().handle()
        except (ssl.SSLError, ConnectionError, socket.timeout):
            pass

    def reply(self, status, body=b"", headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def refuse(self, reason, challenge=False):
        log(f"challenge: {reason}" if challenge else f"refused: {reason}")
        self.ctx = None
        self.user = None
        self.reply(401, b"denied", [("WWW-Authenticate", s) for s in self.config.schemes])

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
            ctype = self.headers.get("Content-Type") or ""
            if ctype.startswith("multipart/encrypted"):
                return self.refuse("sealed message on a connection that is not signed in")
            return self.refuse("no Authorization header", challenge=True)
        scheme, _, b64 = auth.strip().partition(" ")
        offered = [s.lower() for s in self.config.schemes]
        if scheme.lower() not in offered:
            return self.refuse(f"scheme {scheme!r} not offered ({', '.join(self.config.schemes)})")
        try:
            tok = base64.b64decode(b64.strip(), validate=True)
        except ValueError:
            return self.refuse("token is not base64")
        if not tok:
            return self.refuse("empty token")
        first = tok[:1] == b"\x60" or tok.startswith(b"NTLMSSP\x00\x01")
        if self.ctx is None or first or self.scheme != scheme.lower():
            self.scheme = scheme.lower()
            self.user = None
            cbt = None
            if self.config.cbt is not None:
                cbt = spnego.channel_bindings.GssChannelBindings(application_data=self.config.cbt)
            try:
                self.ctx = spnego.server(
                    hostname=self.config.hostname,
                    service="HTTP",
                    channel_bindings=cbt,
                    protocol=PROTOCOLS[self.scheme],
                )
            except Exception as e:
                return self.refuse(f"acceptor setup: {type(e).__name__}: {e}")
        _last_error.value = None
        try:
            out = self.ctx.step(tok)
        except Exception as e:  # refused ticket, wrong bindings, malformed token
            real = _last_error.value
            return self.refuse(f"{type(real or e).__name__}: {real or e}")
        if _last_error.value is not None:
            return self.refuse(f"{type(_last_error.value).__name__}: {_last_error.value}")
        final = f"{scheme} {base64.b64encode(out).decode()}" if out else None
        if not self.ctx.complete:
            return self.reply(401, b"", [("WWW-Authenticate", final or scheme)])
        bound = channel_bound(self.ctx)
        if self.config.require_bindings and not bound:
            return self.refuse("sign-in is not channel-bound and --require-bindings is set")
        self.user = self.ctx.client_principal
        log(f"accepted: {self.user} with {scheme} ({self.ctx.negotiated_protocol}), channel_bound={bound}")
        return self.ok(final)

    def result(self):
        return {
            "user": self.user,
            "protocol": self.ctx.negotiated_protocol if self.ctx else None,
            "scheme": self.scheme,
            "channel_bound": channel_bound(self.ctx) if self.ctx else None,
        }

    def ok(self, final):
        body = json.dumps(self.result()).encode()
        headers = [("Content-Type", "application/json")]
        if final:
            headers.append(("WWW-Authenticate", final))
        self.reply(200, body, headers)

    def sealed(self, ctype, body):
        m = re.search(r'boundary="?([^";]+)"?', ctype)
        p = re.search(r'protocol="?([^";]+)"?', ctype)
        if not m or not p:
            return self.reply(400, b"multipart/encrypted without boundary or protocol")
        protocol = p.group(1)
        if protocol.lower() != SEALED[self.scheme].lower():
            log(f"sealed with {protocol} after signing in with {self.scheme}")
            return self.reply(400, b"wrong protocol")
        boundary = m.group(1)
        parts = [x for x in re.split(rb"--\s*" + re.escape(boundary.encode()) + rb"(?:--)?\r\n", body) if x]
        if len(parts) < 2:
            return self.reply(400, b"malformed multipart")
        header, payload = parts[0], parts[1]
        length = re.search(rb"Length=(\d+)", header)
        if not length or b"application/octet-stream\r\n" not in payload:
            return self.reply(400, b"malformed multipart")
        payload = payload.split(b"application/octet-stream\r\n", 1)[1]
        sig_len = struct.unpack("<I", payload[:4])[0]
        try:
            clear = self.ctx.unwrap_winrm(payload[4:4 + sig_len], payload[4 + sig_len:])
        except Exception as e:
            log(f"unwrap failed: {type(e).__name__}: {e}")
            return self.reply(400, b"unwrap failed")
        if len(clear) != int(length.group(1)):
            log(f"length mismatch: {len(clear)} unsealed, {length.group(1)} announced")
            return self.reply(400, b"length mismatch")
        answer = json.dumps(dict(self.result(), clear=clear.decode("utf-8"))).encode()
        sig, data, padding = self.ctx.wrap_winrm(answer)
        out = (b"--Encrypted Boundary\r\n\tContent-Type: %s\r\n"
               b"\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length=%d\r\n"
               b"--Encrypted Boundary\r\n\tContent-Type: application/octet-stream\r\n"
               % (protocol.encode(), len(answer) + padding)
               + struct.pack("<I", len(sig)) + sig + data + b"--Encrypted Boundary--\r\n")
        self.reply(200, out, [("Content-Type",
                               f'multipart/encrypted;protocol="{protocol}";boundary="Encrypted Boundary"')])

    do_GET = handle_any
    do_POST = handle_any


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--plain", action="store_true")
    ap.add_argument("--schemes", default="Negotiate,Kerberos")
    ap.add_argument("--bindings", default="own")
    ap.add_argument("--require-bindings", action="store_true")
    ap.add_argument("--hostname", default="localhost")
    cfg = ap.parse_args()
    cfg.schemes = [s.strip() for s in cfg.schemes.split(",") if s.strip()]
    for s in cfg.schemes:
        if s.lower() not in PROTOCOLS:
            ap.error(f"unknown scheme {s}")
    if not cfg.plain and not (cfg.cert and cfg.key):
        ap.error("--cert and --key are required unless --plain")
    cfg.cbt = None
    if not cfg.plain:
        if cfg.bindings == "own":
            cfg.cbt = end_point_data(cfg.cert)
        elif cfg.bindings.startswith("other:"):
            cfg.cbt = end_point_data(cfg.bindings[len("other:"):])
        elif cfg.bindings != "none":
            ap.error("--bindings is own, none or other:FILE.pem")
    Handler.config = cfg

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    if not cfg.plain:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(cfg.cert, cfg.key)
        server.socket = tls.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
