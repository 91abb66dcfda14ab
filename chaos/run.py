#!/usr/bin/env python3
"""scripts/chaos's driver: runs Baton under faults and proves afterwards that nothing was lost.

Worker processes run the chaos-lead workflow over N contacts while signals arrive and admins
reassign contacts through baton-server. Every --kill-every seconds one worker is SIGKILLed and a
new one started; once a quarter of the instances are finished, one worker's database traffic goes
through a proxy that stops forwarding (the connection stays open, as a dead network link does)
until its leases have expired, then flows again; once half are finished, PostgreSQL restarts in
fast mode. When every instance is finished, the workers stop and the checks in chaos/check.sql
run: each prints a count and whether it passed. Exit status 0 only when all passed.

Before the fault run comes the fuzz stage (--fuzz-seconds, 0 skips it; --fuzz-only runs nothing
else): the bounded random-input tests of the loaders, the contact-file readers and the HTTP API's
request bodies (Tests/BatonCoreTests/HostileInputTests.swift, Tests/BatonTests/HostileBodyTests.swift)
run for that long in all, split evenly over the input kinds, from a fresh seed (BATON_FUZZ_SEED
repeats one). Each kind passes when nothing crashed and every refusal was one clear line.

Only the standard library: the database is reached through psql and Baton's own binaries.
"""

import argparse
import http.client
import http.server
import json
import os
import random
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


class Receiver:
    """The webhook channel's far end: records each delivery's Idempotency-Key."""

    def __init__(self):
        self.lock = threading.Lock()
        self.keys = {}
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                self.rfile.read(length)
                key = self.headers.get("Idempotency-Key", "")
                with receiver.lock:
                    receiver.keys[key] = receiver.keys.get(key, 0) + 1
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # a relay SIGKILLed mid-request resets its connection: expected here

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()


class Partition:
    """A TCP proxy in front of PostgreSQL whose link can be cut without closing it: while cut it
    accepts and keeps connections but forwards nothing, in either direction."""

    def __init__(self, target_port):
        self.target_port = target_port
        self.open = threading.Event()
        self.open.set()
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            client, _ = self.listener.accept()
            threading.Thread(target=self.pump, args=(client,), daemon=True).start()

    def pump(self, client):
        self.open.wait()
        try:
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
        except OSError:
            client.close()
            return
        peers = {client: upstream, upstream: client}
        try:
            while True:
                if not self.open.is_set():
                    time.sleep(0.05)
                    continue
                readable, _, _ = select.select(list(peers), [], [], 0.1)
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    peers[sock].sendall(data)
        except OSError:
            pass
        finally:
            client.close()
            upstream.close()


class Fleet:
    """The worker processes: started, SIGKILLed and replaced, stopped."""

    def __init__(self, args, url, proxy_url, logs):
        self.args = args
        self.url = url
        self.proxy_url = proxy_url
        self.logs = logs
        self.generation = 0
        self.workers = {}  # slot -> Popen
        self.kills = 0

    def start(self, slot):
        self.generation += 1
        name = f"chaos-w{slot}-g{self.generation}"
        url = self.proxy_url if slot == 0 else self.url
        out = open(self.logs / f"{name}.log", "w")
        self.workers[slot] = subprocess.Popen(
            [str(self.args.bin / "baton-worker"), "--database-url", url, "--id", name,
             "--lease", self.args.lease, "--poll-interval", "200ms", "--concurrency", "2",
             "--batch-size", "50", "--log-level", "notice", "--log-format", "text"],
            stdout=out, stderr=subprocess.STDOUT)

    def kill_one(self):
        # Slot 0 is the partitioned worker: it is cut off, never killed.
        slot = random.randrange(1, self.args.workers)
        self.workers[slot].send_signal(signal.SIGKILL)
        self.workers[slot].wait()
        self.kills += 1
        self.start(slot)

    def stop(self):
        for process in self.workers.values():
            process.send_signal(signal.SIGTERM)
        deadline = time.time() + 60
        statuses = []
        for process in self.workers.values():
            try:
                statuses.append(process.wait(timeout=max(1, deadline - time.time())))
            except subprocess.TimeoutExpired:
                process.kill()
                statuses.append("killed after 60 s")
        return statuses


class API:
    """Signals and reassignments through baton-server, retried until stored (the server or the
    database may be restarting)."""

    def __init__(self, port, token):
        self.port = port
        self.token = token
        self.local = threading.local()
        self.lock = threading.Lock()
        self.sent = {"signals": 0, "reassigns": 0, "retries": 0}

    def post(self, path, body):
        for attempt in range(200):
            try:
                connection = getattr(self.local, "connection", None)
                if connection is None:
                    connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                    self.local.connection = connection
                connection.request("POST", path, json.dumps(body), {
                    "Authorization": f"Bearer {self.token}", "Content-Type": "application/json",
                    "Idempotency-Key": f"chaos-{path}-{json.dumps(body, sort_keys=True)}"})
                response = connection.getresponse()
                response.read()
                if response.status < 300:
                    return True
                if response.status < 500 and response.status != 409 and response.status != 429:
                    raise RuntimeError(f"{path}: {response.status}")
            except (OSError, http.client.HTTPException):
                self.local.connection = None
            with self.lock:
                self.sent["retries"] += 1
            time.sleep(min(2, 0.05 * (attempt + 1)))
        raise RuntimeError(f"{path}: gave up after 200 attempts")

    def signal(self, event, contact):
        self.post("/v1/signals", {"event": event, "contact": contact})
        with self.lock:
            self.sent["signals"] += 1

    def reassign(self, contact, to):
        self.post(f"/v1/contacts/{contact}/reassign", {"to": to, "reason": "chaos admin"})
        with self.lock:
            self.sent["reassigns"] += 1


def psql(database, sql, *extra):
    return subprocess.run([str(ROOT / "scripts/pg"), "psql", "-d", database, "-Atq", "-v", "ON_ERROR_STOP=1",
                           *extra, "-c", sql], check=True, capture_output=True, text=True).stdout.strip()


# The fuzz tests: Swift Testing identifiers `Module.Suite/fuzzKind()`.
FUZZ_TESTS = r"Hostile(InputTests|BodyTests)/fuzz"


def fuzz(seconds, logs):
    """Runs the fuzz tests for `seconds` in all (one input kind after another); returns the checks
    as (verdict, name, count) and one line saying what was tried."""
    listed = subprocess.run(["swift", "test", "list", "--skip-build"], cwd=ROOT, capture_output=True, text=True)
    kinds = [line for line in listed.stdout.splitlines() if re.search(FUZZ_TESTS, line)]
    if listed.returncode != 0 or not kinds:
        return [("FAIL", "fuzz: no fuzz tests found (swift build --build-tests first)", f"exit {listed.returncode}")], "fuzz: not run"
    each = max(1.0, seconds / len(kinds))
    seed = os.environ.get("BATON_FUZZ_SEED") or str(random.randint(1, 2**32 - 1))
    env = dict(os.environ, BATON_FUZZ_SECONDS=f"{each:g}", BATON_FUZZ_SEED=seed)
    log(f"fuzzing {len(kinds)} input kinds, {each:g} s each, seed {seed}")
    started = time.time()
    with open(logs / "fuzz.log", "w") as out:
        status = subprocess.run(["swift", "test", "--skip-build", "--no-parallel", "--filter", FUZZ_TESTS], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT).returncode
    checks, inputs = [], 0
    for line in (logs / "fuzz.log").read_text(errors="replace").splitlines():
        if not line.startswith("fuzz-report\t"):
            continue
        _, kind, tried, refused, failures, kind_seed = line.split("\t")
        inputs += int(tried)
        checks.append(("PASS" if failures == "0" else "FAIL", f"fuzz {kind}: inputs, refused with one clear line, unclear or wrong",
                       f"{int(tried):,}, {int(refused):,}, {failures}"))
    if len(checks) < len(kinds):
        checks.append(("FAIL", f"fuzz: only {len(checks)} of {len(kinds)} input kinds reported (a crash?): .build/chaos/fuzz.log",
                       str(len(kinds) - len(checks))))
    if status != 0:
        checks.append(("FAIL", "fuzz: swift test failed (the failing inputs are in .build/chaos/fuzz.log)", f"exit {status}"))
    summary = (f"fuzz: {len(kinds)} input kinds, {inputs:,} inputs in {time.time() - started:.0f} s, seed {seed} "
               f"(BATON_FUZZ_SEED={seed} scripts/chaos repeats it)")
    return checks, summary


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", type=Path, required=True, help="folder with batonctl, baton-worker, baton-server")
    parser.add_argument("--database-url", required=True, help="the server's URL (a database is created on it)")
    parser.add_argument("--pg-port", type=int, required=True)
    parser.add_argument("--instances", type=int, default=20000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--kill-every", type=float, default=2.0)
    parser.add_argument("--lease", default="5s")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds for the whole run")
    parser.add_argument("--logs", type=Path, required=True)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--fuzz-seconds", type=float, default=120, help="the fuzz stage's time in all (0: skip it)")
    parser.add_argument("--fuzz-only", action="store_true", help="run only the fuzz stage")
    args = parser.parse_args()
    args.logs.mkdir(parents=True, exist_ok=True)
    fuzz_checks, fuzz_summary = fuzz(args.fuzz_seconds, args.logs) if args.fuzz_seconds > 0 else ([], "fuzz: skipped")
    if args.fuzz_only:
        print()
        print(fuzz_summary)
        for verdict, name, count in fuzz_checks:
            print(f"  {verdict:4}  {name}: {count}")
        passed = bool(fuzz_checks) and all(verdict == "PASS" for verdict, _, _ in fuzz_checks)
        print("PASS" if passed else "FAIL")
        return 0 if passed else 1
    started = time.time()

    database = f"baton_chaos_{os.getpid()}"
    psql("baton", f"CREATE DATABASE {database}")
    url = args.database_url.replace("/baton?", f"/{database}?")
    partition = Partition(args.pg_port)
    proxy_url = url.replace(f":{args.pg_port}/", f":{partition.port}/")
    ctl = lambda *a: subprocess.run([str(args.bin / "batonctl"), "--database-url", url, *a], check=True,
                                    capture_output=True, text=True).stdout
    receiver = Receiver()
    channels = args.logs / "channels.yaml"
    channels.write_text((ROOT / "chaos/channels.yaml.in").read_text().replace("@URL@", receiver.url))
    ctl("migrate")
    ctl("teams", "apply", str(ROOT / "chaos/teams.yaml"))
    ctl("channels", "apply", str(channels))
    ctl("workflows", "apply", str(ROOT / "chaos/workflow.yaml"))
    token = ctl("tokens", "create", "--name", "chaos", "--role", "admin").strip()

    contacts = [f"X-{i:06d}" for i in range(1, args.instances + 1)]
    enrollments = args.logs / "contacts.jsonl"
    enrollments.write_text("".join(json.dumps({"contact": c, "attributes": {"source": "chaos"}}) + "\n" for c in contacts))
    log(f"enrolling {args.instances} contacts in chaos-lead")
    ctl("start", "chaos-lead", "--file", str(enrollments))

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        api_port = probe.getsockname()[1]
    server_log = open(args.logs / "server.log", "w")
    server = subprocess.Popen([str(args.bin / "baton-server"), "--database-url", url, "--listen", f"127.0.0.1:{api_port}",
                               "--log-level", "warning", "--log-format", "text"], stdout=server_log, stderr=subprocess.STDOUT)
    api = API(api_port, token)
    fleet = Fleet(args, url, proxy_url, args.logs)
    for slot in range(args.workers):
        fleet.start(slot)
    log(f"{args.workers} workers started (worker slot 0 reaches the database through the cuttable proxy on port {partition.port})")

    # Signals: 60 % of contacts get a first touch, 35 % a purchase, at random moments; 2 % are
    # reassigned by an admin. Four senders.
    rng = random.Random(42)
    actions = [("signal", "first_touch", c) for c in contacts if rng.random() < 0.6]
    actions += [("signal", "purchased", c) for c in contacts if rng.random() < 0.35]
    actions += [("reassign", f"rep{rng.randint(1, 8)}", c) for c in contacts if rng.random() < 0.02]
    rng.shuffle(actions)
    failures = []

    def sender(part):
        try:
            for kind, what, contact in part:
                if kind == "signal":
                    api.signal(what, contact)
                else:
                    api.reassign(contact, what)
        except Exception as error:  # noqa: BLE001 - reported as a failure of the run
            failures.append(str(error))

    senders = [threading.Thread(target=sender, args=(actions[i::4],), daemon=True) for i in range(4)]
    for thread in senders:
        thread.start()

    def finished():
        return int(psql(database, "SELECT count(*) FROM workflow_instances WHERE state IN ('completed', 'failed', 'cancelled')"))

    partitioned_at = restarted_at = None
    cut_seconds = 0.0
    lease_seconds = float(args.lease.rstrip("s"))
    last_kill = time.time()
    done = 0
    while True:
        if time.time() - started > args.timeout:
            failures.append(f"timed out after {args.timeout:.0f} s with {done} of {args.instances} finished")
            break
        time.sleep(0.25)
        try:
            done = finished()
        except subprocess.CalledProcessError:
            continue  # the database is restarting
        senders_done = not any(thread.is_alive() for thread in senders)
        if done >= args.instances and senders_done:
            break
        if time.time() - last_kill >= args.kill_every:
            fleet.kill_one()
            last_kill = time.time()
        if partitioned_at is None and done >= args.instances // 4:
            log(f"{done} finished: cutting worker slot 0 off the database for {2 * lease_seconds + 3:.0f} s")
            partition.open.clear()
            partitioned_at = time.time()
        if partitioned_at and partition.open.is_set() is False and time.time() - partitioned_at >= 2 * lease_seconds + 3:
            partition.open.set()
            cut_seconds = time.time() - partitioned_at
            log("worker slot 0 reconnected")
        if restarted_at is None and done >= args.instances // 2:
            log(f"{done} finished: restarting PostgreSQL (fast mode)")
            restarted_at = time.time()
            subprocess.run([str(ROOT / "scripts/pg"), "restart"], check=True)
    partition.open.set()
    for thread in senders:
        thread.join(timeout=5)
    log(f"{done} of {args.instances} finished after {time.time() - started:.0f} s; stopping the workers")
    # The relay may still deliver the last notifications: wait for the outbox to drain.
    drain_deadline = time.time() + 120
    while time.time() < drain_deadline:
        if psql(database, "SELECT count(*) FROM outbox WHERE status IN ('pending', 'delivering')") == "0":
            break
        time.sleep(0.5)
    statuses = fleet.stop()
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
    receiver.stop()
    # A closed client's backend takes a moment to exit; give them 10 s before counting what is left.
    for _ in range(40):
        if psql(database, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()") == "0":
            break
        time.sleep(0.25)

    fenced = 0
    for path in args.logs.glob("chaos-w*.log"):
        fenced += path.read_text(errors="replace").count("lease lost before commit")
    duplicates_received = sum(1 for count in receiver.keys.values() if count > 1)
    result = subprocess.run([str(ROOT / "scripts/pg"), "psql", "-d", database, "-Atq", "-F", "\t", "-v", "ON_ERROR_STOP=1",
                             "-v", f"instances={args.instances}", "-v", f"signals={api.sent['signals']}",
                             "-v", f"reassigns={api.sent['reassigns']}", "-v", f"received={len(receiver.keys)}",
                             "-f", str(ROOT / "chaos/check.sql")], check=True, capture_output=True, text=True).stdout
    passed = not failures
    print()
    print(f"run: {args.instances} instances, {args.workers} workers, {fleet.kills} SIGKILLs (every {args.kill_every:g} s), "
          f"PostgreSQL restarted {'once' if restarted_at else 'never'}, one worker cut off for {cut_seconds:.0f} s "
          f"(lease {args.lease}), {api.sent['signals']} signals and {api.sent['reassigns']} reassignments sent "
          f"({api.sent['retries']} retried), {time.time() - started:.0f} s")
    print(f"commits refused by the fence (worker logs): {fenced}; deliveries received twice (at least once, by key): {duplicates_received}")
    print(f"workers stopped with status {statuses}")
    for line in result.splitlines():
        name, count, verdict = line.split("\t")
        print(f"  {verdict:4}  {name}: {count}")
        passed = passed and verdict != "FAIL"
    print(fuzz_summary)
    for verdict, name, count in fuzz_checks:
        print(f"  {verdict:4}  {name}: {count}")
        passed = passed and verdict != "FAIL"
    if restarted_at is None or partitioned_at is None:
        failures.append("the run ended before the partition and the restart both happened")
        passed = False
    for failure in failures:
        print(f"  FAIL  {failure}")
    if not args.keep:
        psql("baton", f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
    print("PASS" if passed else "FAIL")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
