#!/usr/bin/python3
"""A squid NTLM authentication helper backed by pyspnego's NTLM acceptor (PyPI), which checks
the password: users are lines `DOMAIN:user:password` in the file named by NTLM_USER_FILE.

squid's stateful NTLM helper protocol, one line each way: `YR <NEGOTIATE>` starts a handshake
and is answered `TT <CHALLENGE>`; `KK <AUTHENTICATE>` is answered `OK user=DOMAIN\\user` or
`ERR message=...`. (Debian's ntlm_fake_auth accepts any password and sends a CHALLENGE with a
garbage TargetName offset that strict NTLM clients reject, so it is not used.)
"""
import base64
import sys

import spnego


def main():
    ctx = None
    for line in sys.stdin:
        cmd, _, blob = line.strip().partition(" ")
        try:
            tok = base64.b64decode(blob) if blob else b""
            if cmd == "YR":
                ctx = spnego.server(protocol="ntlm")
                out = ctx.step(tok)
                reply = "TT " + base64.b64encode(out).decode()
            elif cmd == "KK" and ctx is not None:
                ctx.step(tok)
                if not ctx.complete:
                    raise ValueError("handshake incomplete")
                reply = "OK user=" + ctx.client_principal.replace("\\", "+")
                ctx = None
            else:
                reply = "BH message=unexpected request"
        except Exception as e:  # a refused password or a malformed message
            print(f"ntlm helper refused: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
            reply = "ERR message=refused"
            ctx = None
        sys.stdout.write(reply + "\n")
        sys.stdout.flush()


main()
