#!/usr/bin/python3
"""Where a dev cluster's email and SMS go: an SMTP server (Debian's
python3-aiosmtpd) and a Twilio-compatible Messages API, both printing each
message as one JSON line on stdout (`kubectl logs deploy/dev-sinks`).
Nothing is written to disk, so the container runs with a read-only root.

  SMTP  on SMTP_PORT (default 1025), no TLS, no AUTH (dev only)
  SMS   on SMS_PORT  (default 8025): POST /2010-04-01/Accounts/{sid}/Messages.json
        with Basic auth {sid}:{SMS_AUTH_TOKEN} and form fields To, From, Body;
        answers 201 {"sid": "SM...", "status": "queued"}.
"""
import base64
import json
import os
import secrets
import signal
import sys
import threading
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

from aiosmtpd.controller import Controller


def emit(record):
    sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()


class MailHandler:
    async def handle_DATA(self, server, session, envelope):
        msg = message_from_bytes(envelope.content)
        emit({"kind": "email", "from": envelope.mail_from, "to": envelope.rcpt_tos,
              "subject": msg.get("Subject", ""), "bytes": len(envelope.content)})
        return "250 OK"


class SmsHandler(BaseHTTPRequestHandler):
    token = os.environ.get("SMS_AUTH_TOKEN", "")

    def _answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        parts = self.path.split("/")
        # ['', '2010-04-01', 'Accounts', sid, 'Messages.json']
        if len(parts) != 5 or parts[1] != "2010-04-01" or parts[2] != "Accounts" or parts[4] != "Messages.json":
            return self._answer(404, {"code": 20404, "message": "not found"})
        want = "Basic " + base64.b64encode(f"{parts[3]}:{self.token}".encode()).decode()
        if not self.token or self.headers.get("Authorization", "") != want:
            return self._answer(401, {"code": 20003, "message": "Authenticate"})
        form = parse_qs(self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode())
        sid = "SM" + secrets.token_hex(16)
        emit({"kind": "sms", "sid": sid, "to": form.get("To", [""])[0], "from": form.get("From", [""])[0],
              "body": form.get("Body", [""])[0]})
        return self._answer(201, {"sid": sid, "status": "queued"})

    def do_GET(self):
        if self.path == "/healthz":
            return self._answer(200, {"ok": True})
        return self._answer(404, {"code": 20404, "message": "not found"})

    def log_message(self, *args):
        pass  # one line per message is emitted above; no access log


def main():
    smtp = Controller(MailHandler(), hostname="0.0.0.0", port=int(os.environ.get("SMTP_PORT", "1025")))
    smtp.start()
    http = ThreadingHTTPServer(("0.0.0.0", int(os.environ.get("SMS_PORT", "8025"))), SmsHandler)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    emit({"kind": "ready", "smtp_port": smtp.port, "sms_port": http.server_address[1]})
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    http.shutdown()
    smtp.stop()


if __name__ == "__main__":
    main()
