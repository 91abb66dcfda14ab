#!/usr/bin/env python3
"""scripts/bench's driver: the worker on the workload users run, with the database's own ceiling
measured in the same run so that figures compare across machines.

One run:
  1. a scratch database; `pgbench` measures the commit ceiling (one single-row UPDATE + INSERT per
     transaction) and a SQL-only model of a batched worker (claim a batch with SKIP LOCKED, then
     update it and insert its timeline rows in one transaction) at the workers' concurrency;
  2. N contacts enrolled with `batonctl start --file`; for the escalation workload half of them are
     signalled `first_touch` with `batonctl signal --file` right away (met), the rest breach after 1 s;
  3. W `baton-worker` processes (--no-outbox: notifications stay in the outbox; the relay is not
     what is measured) run until every instance is final, then stop (SIGTERM); their CPU time and
     peak RSS come from the kernel (wait4), claim-to-commit latency from their /metrics;
  4. a latency phase on the idle workers: 1,000 more contacts reach their wait, then half are
     signalled while waiting (signal-to-wake) and half breach (timer lateness without a backlog);
     with --backlog N, then 500 leads reach a 5 s wait and N new instances are queued in front of
     them (loaded by SQL, released at once): the lateness of those breaches behind the backlog;
  5. checks: every instance completed once, every timeline has the expected length with no gap,
     round-robin picks within one of each other. A wrong run prints FAIL and no figures.

Only the standard library: the database is reached through psql and Baton's own binaries.
"""

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DB = "baton_bench"


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


CHILDREN = []  # worker processes, killed if the driver stops early


def fail(message):
    print(f"FAIL: {message}", flush=True)
    for proc in CHILDREN:
        if proc.poll() is None:
            proc.kill()
    sys.exit(1)


class Bench:
    def __init__(self, args):
        self.args = args
        self.bin = Path(args.bin)
        self.pg_bin = Path(args.pg_bin)
        self.server_url = args.database_url
        self.url = self._with_db(self.server_url) if "://" in self.server_url else self.server_url + f" dbname={DB}"
        self.env = dict(os.environ, DATABASE_URL=self.url)
        self.work = Path(tempfile.mkdtemp(prefix="baton-bench-"))
        self.queries = 0  # transactions the driver itself runs in the bench database

    @staticmethod
    def _with_db(url):
        head, sep, query = url.partition("?")
        scheme, rest = head.split("://", 1)
        hostpart = rest.split("/", 1)[0]
        return f"{scheme}://{hostpart}/{DB}" + (sep + query if sep else "")

    # -- database helpers -------------------------------------------------------------------
    def psql(self, sql, url=None, count=True):
        if count and url is None:
            self.queries += 1
        out = subprocess.run([str(self.pg_bin / "psql"), url or self.url, "-qAtX", "-v", "ON_ERROR_STOP=1", "-c", sql],
                             capture_output=True, text=True)
        if out.returncode != 0:
            fail(f"psql: {out.stderr.strip()}")
        return out.stdout.strip()

    def ctl(self, *argv):
        out = subprocess.run([str(self.bin / "batonctl"), *argv], env=self.env, capture_output=True, text=True)
        if out.returncode != 0:
            fail(f"batonctl {' '.join(argv)}: {out.stderr.strip() or out.stdout.strip()}")
        return out.stdout.strip()

    def commits(self):
        # pg_stat_database is updated when a backend's transaction ends; force a fresh snapshot.
        return int(self.psql(f"SELECT pg_stat_clear_snapshot(); SELECT xact_commit FROM pg_stat_database WHERE datname = '{DB}'")
                   .splitlines()[-1])

    def setup(self):
        log(f"scratch database {DB}")
        self.psql(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)", url=self.server_url)
        self.psql(f"CREATE DATABASE {DB}", url=self.server_url)
        self.ctl("migrate")
        self.ctl("teams", "apply", str(ROOT / "bench/teams.yaml"))
        self.ctl("workflows", "apply", str(ROOT / f"bench/{self.args.workload}.yaml"))
        self.ctl("workflows", "apply", str(ROOT / "bench/signal.yaml"))

    # -- the database's own ceiling ---------------------------------------------------------
    def pgbench(self, script, clients, seconds):
        path = self.work / "script.sql"
        path.write_text(script)
        out = subprocess.run([str(self.pg_bin / "pgbench"), "-n", "-f", str(path), "-c", str(clients), "-j", str(clients),
                              "-T", str(seconds), self.url], capture_output=True, text=True)
        if out.returncode != 0:
            fail(f"pgbench: {out.stderr.strip()}")
        match = re.search(r"tps = ([0-9.]+)", out.stdout)
        return float(match.group(1))

    def ceiling(self):
        clients = self.args.workers * self.args.concurrency
        batch = self.args.batch_size
        seconds = self.args.ceiling_seconds
        log(f"ceiling: pgbench, {clients} clients, {seconds} s each")
        rows = 200_000
        self.psql(f"""
            CREATE TABLE bench_model (id bigint PRIMARY KEY, state text NOT NULL, seq int NOT NULL,
                                      lease_owner text, lease_expires_at timestamptz, run_at timestamptz NOT NULL);
            CREATE INDEX ON bench_model (run_at) WHERE state = 'ready';
            CREATE TABLE bench_model_events (instance bigint, seq int, at timestamptz DEFAULT now(), PRIMARY KEY (instance, seq));
            INSERT INTO bench_model SELECT g, 'ready', 0, NULL, NULL, now() FROM generate_series(1, {rows}) g;
            ANALYZE bench_model;""", count=False)
        single = self.pgbench(
            f"\\set id random(1, {rows})\n"
            "BEGIN;\n"
            "UPDATE bench_model SET seq = seq + 1 WHERE id = :id;\n"
            "INSERT INTO bench_model_events (instance, seq) VALUES (:id, (SELECT seq FROM bench_model WHERE id = :id));\n"
            "END;\n", clients, seconds)
        # The batched model: the writes a worker must make per batch, in SQL only — one transaction
        # leases a batch of rows, a second advances them and writes their timeline rows. Each
        # client takes a random block of ids (no queue scan), so this is the database's cost of a
        # batch, the bound a batched worker can approach.
        blocks = rows // batch
        model = self.pgbench(
            f"\\set lo random(0, {blocks - 1}) * {batch} + 1\n"
            "BEGIN;\n"
            "UPDATE bench_model SET state = 'running', lease_owner = 'w', lease_expires_at = now() + interval '10 s' "
            f"WHERE id BETWEEN :lo AND :lo + {batch - 1};\n"
            "END;\n"
            "BEGIN;\n"
            "UPDATE bench_model SET state = 'ready', seq = seq + 1, run_at = now() + interval '1 hour', lease_owner = NULL "
            f"WHERE id BETWEEN :lo AND :lo + {batch - 1};\n"
            "INSERT INTO bench_model_events (instance, seq) SELECT id, seq FROM bench_model "
            f"WHERE id BETWEEN :lo AND :lo + {batch - 1};\n"
            "END;\n", clients, seconds)
        self.psql("DROP TABLE bench_model, bench_model_events", count=False)
        return {"commit_ceiling_tps": round(single), "sql_model_steps_per_s": round(model * batch)}

    # -- the run ----------------------------------------------------------------------------
    def contacts_file(self, prefix, count, name):
        path = self.work / name
        with path.open("w") as f:
            for i in range(count):
                tier = "enterprise" if i % 10 == 0 else "smb"
                f.write(json.dumps({"contact": f"{prefix}{i}", "attributes": {"country": "DE", "tier": tier}}) + "\n")
        return path

    def start_workers(self):
        workers = []
        for n in range(self.args.workers):
            port = free_port()
            log_file = open(self.work / f"worker-{n}.log", "w")
            argv = [str(self.bin / "baton-worker"), "--concurrency", str(self.args.concurrency),
                    "--batch-size", str(self.args.batch_size), "--no-outbox", "--metrics-port", str(port),
                    "--log-format", "json", "--log-level", "warning", "--id", f"bench-{n}", "--no-schedules"]
            # BATON_BENCH_WRAP (e.g. "perf record -g -o /tmp/perf.data --") runs the first worker under a profiler.
            if n == 0 and os.environ.get("BATON_BENCH_WRAP"):
                argv = os.environ["BATON_BENCH_WRAP"].split() + argv
            proc = subprocess.Popen(argv, env=self.env, stdout=log_file, stderr=subprocess.STDOUT)
            CHILDREN.append(proc)
            workers.append((proc, port, log_file))
        self.sample_memory(workers)
        for _, port, _ in workers:
            for _ in range(200):
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1)
                    break
                except OSError:
                    time.sleep(0.05)
            else:
                fail(f"a worker did not become ready (logs in {self.work})")
        return workers

    def sample_memory(self, workers):
        """Samples each worker's resident memory every 100 ms until the workers stop: the peak of its
        private part (RssAnon: heap, stacks, relocated data) and of its file-backed part (RssFile:
        the pages of the binary and shared libraries it touched, which every process of the same
        binary shares). ru_maxrss, the figure the targets name, is about their sum at its peak."""
        self.memory = {"anon": 0, "file": 0}
        self.sampling = True

        def sample():
            while self.sampling:
                for proc, _, _ in workers:
                    try:
                        status = Path(f"/proc/{proc.pid}/status").read_text()
                    except OSError:
                        continue
                    for key, field in (("anon", "RssAnon:"), ("file", "RssFile:")):
                        match = re.search(field + r"\s+(\d+) kB", status)
                        if match:
                            self.memory[key] = max(self.memory[key], int(match.group(1)))
                time.sleep(0.1)

        self.sampler = threading.Thread(target=sample, daemon=True)
        self.sampler.start()

    def stop_workers(self, workers):
        self.sampling = False
        self.sampler.join()
        metrics = [scrape(port) for _, port, _ in workers]
        cpu, rss = 0.0, 0
        for proc, _, log_file in workers:
            proc.send_signal(signal.SIGTERM)
        for proc, _, log_file in workers:
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            cpu += usage.ru_utime + usage.ru_stime
            rss = max(rss, usage.ru_maxrss)  # kilobytes on Linux
            log_file.close()
            if proc.returncode != 0:
                fail(f"a worker exited with status {proc.returncode} (logs in {self.work})")
        return metrics, cpu, rss

    def wait_until_final(self, workflow, expected, limit):
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            left = int(self.psql(f"SELECT count(*) FROM workflow_instances WHERE workflow = '{workflow}' "
                                 "AND state NOT IN ('completed', 'failed', 'cancelled')"))
            if left == 0:
                return
            time.sleep(0.25)
        fail(f"{left} of {expected} instances not final after {limit} s")

    def wait_until_waiting(self, workflow, expected, what):
        """Until `expected` instances of `workflow` wait at their first-touch step (120 s at most)."""
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            waiting = int(self.psql(f"SELECT count(*) FROM workflow_instances WHERE workflow = '{workflow}' "
                                    "AND state = 'waiting' AND step = 'first-touch'"))
            if waiting == expected:
                return
            time.sleep(0.05)
        fail(f"{what} did not all reach their wait within 120 s")

    def run(self):
        a = self.args
        workflow = f"bench-{a.workload}"
        figures = {"workload": a.workload, "contacts": a.contacts, "workers": a.workers,
                   "concurrency": a.concurrency, "batch_size": a.batch_size}
        figures.update(self.ceiling())
        if a.background_waiting:
            log(f"loading {a.background_waiting} waiting instances of another workflow by SQL")
            self.load_background(a.background_waiting)

        log(f"enrolling {a.contacts} contacts (batonctl start --file)")
        contacts = self.contacts_file("B-", a.contacts, "contacts.jsonl")
        started = time.monotonic()
        self.ctl("start", workflow, "--file", str(contacts))
        figures["enroll_per_s"] = round(a.contacts / (time.monotonic() - started))
        if a.workload == "escalation":
            touched = self.work / "touched.jsonl"
            touched.write_text("".join(json.dumps({"contact": f"B-{i}"}) + "\n" for i in range(0, a.contacts, 2)))
            started = time.monotonic()
            self.ctl("signal", "first_touch", "--file", str(touched))
            figures["signal_per_s"] = round(a.contacts / 2 / (time.monotonic() - started))

        before = self.commits()
        self.queries = 0
        log(f"running {a.workers} worker(s), concurrency {a.concurrency}, batch {a.batch_size}")
        workers = self.start_workers()
        self.wait_until_final(workflow, a.contacts, a.limit)
        worker_commits = self.commits() - before - self.queries

        latency = self.latency_phase(workflow) if a.workload == "escalation" else {}
        if a.backlog:
            latency.update(self.backlog_phase(a.backlog))
        metrics, cpu, rss = self.stop_workers(workers)

        steps = int(self.psql(f"SELECT count(*) FROM instance_events e JOIN workflow_instances i ON i.id = e.instance "
                              f"WHERE i.workflow = '{workflow}' AND i.contact LIKE 'B-%'"))
        busy = float(self.psql(
            "SELECT count(DISTINCT floor(extract(epoch FROM e.at) * 10)) / 10.0 FROM instance_events e "
            f"JOIN workflow_instances i ON i.id = e.instance WHERE i.workflow = '{workflow}' AND i.contact LIKE 'B-%'"))
        span = float(self.psql(
            "SELECT extract(epoch FROM max(e.at) - min(e.at)) FROM instance_events e "
            f"JOIN workflow_instances i ON i.id = e.instance WHERE i.workflow = '{workflow}' AND i.contact LIKE 'B-%'"))
        self.check(workflow)
        all_steps = sum(m.get("baton_steps_total", 0) for m in metrics)
        figures.update({
            "steps": steps,
            "steps_per_s": round(steps / busy),
            "instances_per_s": round(a.contacts / busy),
            "busy_s": round(busy, 2),
            "first_to_last_s": round(span, 2),
            "ratio_to_sql_model": round(steps / busy / figures["sql_model_steps_per_s"], 3),
            "commits_per_step": round(worker_commits / steps, 3),
            "cpu_us_per_step": round(cpu / all_steps * 1e6, 1) if all_steps else None,
            "cpu_s_per_1000_steps": round(cpu / all_steps * 1000, 3) if all_steps else None,
            "peak_rss_mb": round(rss / 1024, 1),
            "peak_rss_anon_mb": round(self.memory["anon"] / 1024, 1),
            "peak_rss_file_mb": round(self.memory["file"] / 1024, 1),
            "claim_to_commit_p50_ms": quantile_ms(metrics, "baton_batch_duration_seconds", 0.5),
            "claim_to_commit_p99_ms": quantile_ms(metrics, "baton_batch_duration_seconds", 0.99),
            "claim_p50_ms": quantile_ms(metrics, "baton_claim_duration_seconds", 0.5),
            "claim_p99_ms": quantile_ms(metrics, "baton_claim_duration_seconds", 0.99),
        })
        if a.workload == "escalation":
            figures.update(self.timer_lateness(workflow, "B-", "under_load"))
        figures.update(latency)
        return figures

    def latency_phase(self, workflow):
        """Signal-to-wake and timer lateness on idle workers: 500 contacts of bench-signal (a
        ten-minute SLA) reach their wait and are signalled in transactions of 10; 500 more of the
        escalation workload breach their 1 s SLA."""
        log("latency phase: 500 waiting instances signalled, 500 breaching, on idle workers")
        n = 500
        self.ctl("start", workflow, "--file", str(self.contacts_file("L-", n, "latency.jsonl")))
        self.ctl("start", "bench-signal", "--file", str(self.contacts_file("S-", n, "signal.jsonl")))
        self.wait_until_waiting("bench-signal", n, "the latency phase's instances")
        touched = self.work / "latency-touched.jsonl"
        touched.write_text("".join(json.dumps({"contact": f"S-{i}"}) + "\n" for i in range(n)))
        self.ctl("signal", "first_touch", "--file", str(touched), "--batch-size", "10")
        self.wait_until_final("bench-signal", n, 120)
        self.wait_until_final(workflow, n, 120)
        # Signal-to-wake: the signal's transaction began → the worker's commit that ended the wait
        # began (timeline times are transaction start times, so this slightly understates).
        wakes = self.psql(
            "SELECT extract(epoch FROM e.at - s.received_at) * 1000 FROM signals s "
            "JOIN workflow_instances i ON i.contact = s.contact AND i.workflow = 'bench-signal' "
            "JOIN instance_events e ON e.instance = i.id AND e.step = 'first-touch' AND e.from_state = 'waiting' "
            "ORDER BY 1").split()
        wakes = [float(w) for w in wakes]
        if len(wakes) != n:
            fail(f"{len(wakes)} of {n} signalled instances left their wait on a signal")
        figures = {"signal_to_wake_p50_ms": round(pct(wakes, 0.5), 1), "signal_to_wake_p99_ms": round(pct(wakes, 0.99), 1)}
        figures.update(self.timer_lateness(workflow, "L-", "idle"))
        return figures

    def backlog_phase(self, count):
        """Timer lateness behind a backlog: 500 leads of bench-backlog-sla reach their 5 s wait,
        then `count` new bench-routing instances, loaded by SQL beforehand but due only now, are
        queued in front of them; the leads' deadlines fall due while the workers take the backlog."""
        n = 500
        log(f"backlog phase: {count:,} new instances queued while {n} deadlines fall due")
        self.ctl("workflows", "apply", str(ROOT / "bench/routing.yaml"))
        self.ctl("workflows", "apply", str(ROOT / "bench/backlog-sla.yaml"))
        self.psql(f"""
            INSERT INTO contacts (id, attributes) SELECT 'Q-' || g, '{{}}' FROM generate_series(1, {count}) g;
            INSERT INTO workflow_instances (workflow, version, contact, state, step, run_at)
            SELECT 'bench-routing', 1, 'Q-' || g, 'ready', 'route', 'infinity' FROM generate_series(1, {count}) g;
            ANALYZE contacts, workflow_instances;""", count=False)
        self.ctl("start", "bench-backlog-sla", "--file", str(self.contacts_file("K-", n, "backlog-sla.jsonl")))
        self.wait_until_waiting("bench-backlog-sla", n, "the backlog phase's leads")
        self.psql("UPDATE workflow_instances SET run_at = now() WHERE workflow = 'bench-routing' AND contact LIKE 'Q-%'; "
                  "NOTIFY baton_wake", count=False)
        queued = int(self.psql("SELECT count(*) FROM workflow_instances WHERE workflow = 'bench-routing' "
                               "AND contact LIKE 'Q-%' AND state = 'ready'"))
        self.wait_until_final("bench-backlog-sla", n, self.args.limit)
        left = int(self.psql("SELECT count(*) FROM workflow_instances WHERE workflow = 'bench-routing' "
                             "AND contact LIKE 'Q-%' AND state NOT IN ('completed', 'failed', 'cancelled')"))
        self.wait_until_final("bench-routing", count, self.args.limit)
        figures = {"backlog": count, "backlog_queued_after_release": queued, "backlog_left_at_last_breach": left}
        figures.update(self.timer_lateness("bench-backlog-sla", "K-", "backlog", within=5))
        return figures

    def timer_lateness(self, workflow, prefix, label, within=1):
        # Deadline = when the wait began + `within` s (the wait's SLA); handled = the breach's commit.
        rows = self.psql(
            f"SELECT extract(epoch FROM b.at - (w.at + interval '{within} seconds')) * 1000 FROM workflow_instances i "
            "JOIN instance_events w ON w.instance = i.id AND w.step = 'first-touch' AND w.to_state = 'waiting' "
            "JOIN instance_events b ON b.instance = i.id AND b.step = 'first-touch' AND b.from_state = 'waiting' "
            f"AND b.seq = w.seq + 1 WHERE i.workflow = '{workflow}' AND i.contact LIKE '{prefix}%' "
            "AND b.detail LIKE '%breach%' ORDER BY 1").split()
        late = [float(x) for x in rows]
        if not late:
            return {}
        return {f"timer_lateness_{label}_p50_ms": round(pct(late, 0.5), 1),
                f"timer_lateness_{label}_p99_ms": round(pct(late, 0.99), 1), f"breaches_{label}": len(late)}

    def load_background(self, count):
        self.ctl("workflows", "apply", str(ROOT / "bench/routing.yaml"))
        self.psql(f"""
            INSERT INTO contacts (id, attributes, owner, team)
            SELECT 'W-' || g, '{{}}', 'rep' || lpad((g % 10 + 1)::text, 2, '0'), 'bench-reps' FROM generate_series(1, {count}) g;
            INSERT INTO workflow_instances (workflow, version, contact, state, step, run_at, wait_event, deadline)
            SELECT 'bench-routing', 1, 'W-' || g, 'waiting', 'pick', now() + interval '1 day', 'never',
                   now() + interval '1 day' FROM generate_series(1, {count}) g;
            ANALYZE contacts, workflow_instances;""", count=False)

    def check(self, workflow):
        log("checking the run")
        bad = self.psql(f"SELECT count(*) FROM workflow_instances WHERE workflow = '{workflow}' AND state <> 'completed'")
        if bad != "0":
            fail(f"{bad} instances did not complete")
        # Each instance's timeline is numbered 1..n without a gap (the primary key forbids a repeat).
        gaps = self.psql("SELECT count(*) FROM (SELECT instance FROM instance_events e JOIN workflow_instances i "
                         f"ON i.id = e.instance WHERE i.workflow = '{workflow}' GROUP BY instance "
                         "HAVING max(e.seq) <> count(*) OR min(e.seq) <> 1) g")
        if gaps != "0":
            fail(f"{gaps} timelines have gaps")
        lengths = self.psql("SELECT string_agg(DISTINCT n::text, ',') FROM (SELECT count(*) n FROM instance_events e "
                            f"JOIN workflow_instances i ON i.id = e.instance WHERE i.workflow = '{workflow}' GROUP BY instance) c")
        log(f"timeline lengths seen: {lengths}")
        spread = self.psql("SELECT max(n) - min(n) FROM (SELECT to_owner, count(*) n FROM ownership_history "
                           "WHERE to_owner LIKE 'rep%' AND from_owner IS NULL GROUP BY to_owner) c")
        if spread not in ("0", "1"):
            fail(f"round-robin picks differ by {spread} between reps")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def scrape(port):
    """The worker's Prometheus text: counters summed over labels, histograms as cumulative buckets."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    out = {}
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        name_labels, _, value = line.rpartition(" ")
        name = name_labels.split("{", 1)[0]
        if name.endswith("_bucket"):
            le = re.search(r'le="([^"]+)"', name_labels).group(1)
            buckets = out.setdefault(name, {})
            buckets[le] = buckets.get(le, 0) + float(value)
        else:
            out[name] = out.get(name, 0) + float(value)
    return out


def quantile_ms(metrics, name, q):
    """The q-quantile from Prometheus buckets summed over workers, interpolated linearly inside
    the bucket that holds it (as Prometheus' histogram_quantile does)."""
    buckets = {}
    for m in metrics:
        for le, count in m.get(name + "_bucket", {}).items():
            buckets[le] = buckets.get(le, 0) + count
    if not buckets:
        return None
    ordered = sorted(((float(le), c) for le, c in buckets.items()), key=lambda x: x[0])
    total = ordered[-1][1]
    if total == 0:
        return None
    previous_bound, previous_count = 0.0, 0.0
    for bound, count in ordered:
        if count >= q * total:
            if bound == float("inf"):
                return None
            # Linear interpolation inside the bucket, as Prometheus' histogram_quantile does.
            inside = (q * total - previous_count) / max(count - previous_count, 1e-9)
            return round((previous_bound + (bound - previous_bound) * inside) * 1000, 1)
        previous_bound, previous_count = bound, count
    return None


def pct(values, q):
    return values[min(len(values) - 1, int(q * len(values)))]


def table(figures):
    rows = [
        ("workload", f"{figures['workload']}, {figures['contacts']:,} contacts, {figures['workers']} worker(s) × concurrency "
                     f"{figures['concurrency']}, batch {figures['batch_size']}"),
        ("steps/s (busy time)", f"{figures['steps_per_s']:,}  ({figures['steps']:,} steps in {figures['busy_s']} s busy, "
                                f"{figures['first_to_last_s']} s first to last)"),
        ("instances/s", f"{figures['instances_per_s']:,}"),
        ("SQL-only batched model", f"{figures['sql_model_steps_per_s']:,} steps/s  → ratio {figures['ratio_to_sql_model']}"),
        ("commit ceiling", f"{figures['commit_ceiling_tps']:,} single-row transactions/s"),
        ("commits per step", f"{figures['commits_per_step']}"),
        ("worker CPU", f"{figures['cpu_us_per_step']} µs per step ({figures['cpu_s_per_1000_steps']} s per 1,000 steps)"),
        ("claim to commit p50 / p99", f"{figures['claim_to_commit_p50_ms']} / {figures['claim_to_commit_p99_ms']} ms"),
        ("claim p50 / p99", f"{figures['claim_p50_ms']} / {figures['claim_p99_ms']} ms"),
        ("enrollment (batonctl start --file)", f"{figures['enroll_per_s']:,} contacts/s"
         + (f", signals (batonctl signal --file) {figures['signal_per_s']:,}/s" if "signal_per_s" in figures else "")),
        ("peak RSS (largest worker)", f"{figures['peak_rss_mb']} MB: private (RssAnon) at most "
         f"{figures['peak_rss_anon_mb']} MB, shared code and data (RssFile) at most {figures['peak_rss_file_mb']} MB"),
    ]
    if "signal_to_wake_p50_ms" in figures:
        rows.append(("signal to wake p50 / p99", f"{figures['signal_to_wake_p50_ms']} / {figures['signal_to_wake_p99_ms']} ms"))
    backlog = f"{figures['backlog']:,} new queued" if "backlog" in figures else ""
    for label, text in (("under_load", "during the run"), ("idle", "idle workers"), ("backlog", backlog)):
        if f"timer_lateness_{label}_p50_ms" in figures:
            rows.append((f"timer lateness p50 / p99, {text}",
                         f"{figures[f'timer_lateness_{label}_p50_ms']} / {figures[f'timer_lateness_{label}_p99_ms']} ms "
                         f"({figures[f'breaches_{label}']:,} breaches)"))
    width = max(len(r[0]) for r in rows)
    return "\n".join(f"  {name.ljust(width)}  {value}" for name, value in rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", required=True)
    parser.add_argument("--pg-bin", required=True)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--workload", choices=["escalation", "routing"], default="escalation")
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--background-waiting", type=int, default=0)
    parser.add_argument("--backlog", type=int, default=0)
    parser.add_argument("--ceiling-seconds", type=int, default=5)
    parser.add_argument("--limit", type=int, default=600)
    args = parser.parse_args()
    bench = Bench(args)
    try:
        bench.setup()
        figures = bench.run()
    except BaseException:
        for proc in CHILDREN:
            if proc.poll() is None:
                proc.kill()
        raise
    print(table(figures))
    print(json.dumps(figures, sort_keys=True))


if __name__ == "__main__":
    main()
