#!/usr/bin/python3
"""A real SMTP server for tests (Debian's python3-aiosmtpd).

Writes each accepted message, byte for byte, to OUTDIR/<n>.eml and its
envelope to OUTDIR/<n>.json. Recipients starting with "reject" get a
permanent 550, "tempfail" a transient 451. --auth user:password requires
SMTP AUTH; --tls-cert/--tls-key offer STARTTLS. A sender starting with
"rejectsender" gets 550 at MAIL FROM. Prints "ready <port>" once
listening and runs until killed.
"""
import argparse
import asyncio
import json
import os
import signal
import ssl
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Handler:
    def __init__(self, outdir):
        self.outdir = outdir
        # A sink restarted on the same directory (an outage test) numbers on
        # from the mail it already holds instead of overwriting it.
        os.makedirs(outdir, exist_ok=True)
        numbers = [int(name.split(".")[0]) for name in os.listdir(outdir) if name.split(".")[0].isdigit()]
        self.count = max(numbers, default=0)
        self.lock = threading.Lock()

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        # A relay refusing our sender: a configuration problem, not the
        # recipient's.
        if address.split("@")[0].startswith("rejectsender"):
            return "550 5.7.1 <%s>: sender not permitted" % address
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@")[0]
        if local.startswith("reject"):
            return "550 5.1.1 <%s>: no such mailbox" % address
        if local.startswith("tempfail"):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.count += 1
            n = self.count
        base = os.path.join(self.outdir, "%06d" % n)
        with open(base + ".json.tmp", "w") as f:
            json.dump({"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos,
                       "authenticated": bool(session.authenticated),
                       "tls": session.ssl is not None}, f)
        with open(base + ".eml.tmp", "wb") as f:
            f.write(envelope.original_content)
        os.rename(base + ".json.tmp", base + ".json")
        os.rename(base + ".eml.tmp", base + ".eml")
        return "250 2.0.0 accepted"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--outdir", required=True)
    parser.add_argument("--auth")
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    args = parser.parse_args()
    os.makedirs(args.outdir, exist_ok=True)

    kwargs = {}
    if args.auth:
        user, password = args.auth.split(":", 1)

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = isinstance(auth_data, LoginPassword) and \
                auth_data.login.decode() == user and auth_data.password.decode() == password
            # handled=False makes aiosmtpd answer 535 itself (its default,
            # handled=True, answers nothing and the client hangs).
            return AuthResult(success=ok, handled=False)

        kwargs.update(authenticator=authenticator, auth_require_tls=False, auth_required=True)
    if args.tls_cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.tls_cert, args.tls_key)
        kwargs.update(tls_context=context, require_starttls=True)

    controller = Controller(Handler(args.outdir), hostname="127.0.0.1", port=args.port, **kwargs)
    controller.start()
    print("ready %d" % args.port, flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
