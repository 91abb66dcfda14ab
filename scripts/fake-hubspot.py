#!/usr/bin/env python3
"""A fake HubSpot for scripts/bench-crm and scripts/demo-crm (not for production): PATCH
/crm/v3/objects/contacts/{id} with the bearer token sets that contact's hubspot_owner_id; above
LIMIT calls in any second it answers 429 with Retry-After: 1. GET /stats gives call figures, GET
/contacts the owner of every contact it was told about.

    fake-hubspot.py PORT LIMIT TOKEN
"""
import json, sys, threading, time
from collections import deque
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
port, limit, token = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
lock = threading.Lock()
window, accepted, refused, owners = deque(), [], [0], {}
class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *args): pass
    def reply(self, status, headers=(), body=b""):
        self.send_response(status)
        for k, v in headers: self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_PATCH(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.headers.get("Authorization") != "Bearer " + token: return self.reply(401)
        contact = self.path.rsplit("/", 1)[-1]
        owner = json.loads(body)["properties"]["hubspot_owner_id"]
        now = time.monotonic()
        with lock:
            while window and now - window[0] >= 1.0: window.popleft()
            if len(window) >= limit:
                refused[0] += 1
                return self.reply(429, [("Retry-After", "1")])
            window.append(now)
            accepted.append(now)
            owners[contact] = owner
        self.reply(200, [("Content-Type", "application/json")], b"{}")
    def do_GET(self):
        if self.path == "/contacts":
            with lock:
                listing = json.dumps(owners, sort_keys=True).encode()
            return self.reply(200, [("Content-Type", "application/json")], listing)
        with lock:
            span = (accepted[-1] - accepted[0]) if len(accepted) > 1 else 0
            stats = {"accepted": len(accepted), "refused_429": refused[0], "span_s": span,
                     "calls_per_s": (len(accepted) - 1) / span if span > 0 else 0, "contacts": len(owners)}
        self.reply(200, [("Content-Type", "application/json")], json.dumps(stats).encode())
ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
