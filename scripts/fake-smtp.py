#!/usr/bin/env python3
"""A real SMTP server on loopback for Baton's email tests (aiosmtpd, in the venv scripts/test makes).

    .venv/bin/python scripts/fake-smtp.py --dir DIR [--cert C --key K] [--no-starttls]
        [--user U --password P] [--exclude-auth PLAIN] [--rcpt-reply "451 4.3.0 try later"]

Listens on 127.0.0.1 on a free port and prints `READY <port>` once it accepts connections. With
--cert/--key it offers STARTTLS and requires it before MAIL (and before AUTH); with --user/--password
it requires AUTH (PLAIN and LOGIN, less --exclude-auth) with exactly those. Each accepted message is
written to DIR/<n>.json: the envelope, the raw message as received (after SMTP's dot-unstuffing),
and the headers and the decoded body as Python's email parser reads them.
"""
import argparse
import email
import email.policy
import json
import os
import socket
import ssl
import sys
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Handler:
    def __init__(self, directory, rcpt_reply):
        self.directory = directory
        self.rcpt_reply = rcpt_reply
        self.count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        body = parsed.get_content() if not parsed.is_multipart() else None
        self.count += 1
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "mail_options": envelope.mail_options,
            "tls": session.ssl is not None,
            "authenticated": bool(session.authenticated),
            "raw": raw.decode("utf-8", "replace"),
            "headers": [[k, str(v)] for k, v in parsed.items()],
            "body": body,
        }
        path = os.path.join(self.directory, "%d.json" % self.count)
        with open(path + ".tmp", "w") as f:
            json.dump(record, f)
        os.rename(path + ".tmp", path)
        return "250 Message accepted for delivery"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True)
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--no-starttls", action="store_true")
    p.add_argument("--user")
    p.add_argument("--password")
    p.add_argument("--exclude-auth", action="append", default=[])
    p.add_argument("--rcpt-reply")
    a = p.parse_args()

    tls = None
    if a.cert and not a.no_starttls:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(a.cert, a.key)

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = auth_data.login == (a.user or "").encode() and auth_data.password == (a.password or "").encode()
        return AuthResult(success=ok, handled=False)

    port = free_port()
    controller = Controller(
        Handler(a.dir, a.rcpt_reply), hostname="127.0.0.1", port=port, tls_context=tls,
        require_starttls=tls is not None, authenticator=authenticator if a.user else None,
        auth_required=bool(a.user), auth_require_tls=tls is not None,
        auth_exclude_mechanism=a.exclude_auth, enable_SMTPUTF8=True)
    controller.start()
    print("READY %d" % port, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()


if __name__ == "__main__":
    sys.exit(main())
