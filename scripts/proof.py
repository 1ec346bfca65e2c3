#!/usr/bin/env python3
"""The fault proof: kill -9 cycles under booking load (SQLite; two servers sharing PostgreSQL),
the oversell storm, a database outage, a full disk, an SMTP outage and a slow SMTP server with
two workers. Loopback only, bounded in time. `dosewise check` runs after every step.

    scripts/proof.py [--short] [--bin target/debug/dosewise] [--pg postgres://...]

Prints one table: step, cycles, acknowledged, lost, oversold, duplicates, 5xx, time to recover.
A 503 with Retry-After while the database is out or the disk full is the promised answer, counted
in the note, not as a 5xx failure.
Exit 1 if any step lost, oversold or duplicated anything, answered 5xx where it must not, or
left the database inconsistent. Standard library only (Python 3.11).
"""
import argparse
import http.client
import json
import os
import random
import re
import shutil
import signal
import socketserver
import socket
import subprocess
import sys
import tempfile
import threading
import time


SECRET = "proof-secret-proof-secret-proof-secret-01"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def id_number(n):
    """A valid 18-character resident ID number (ISO 7064 MOD 11-2 check digit), distinct per n."""
    birth = time.gmtime(315532800 + (n % 9000) * 86400)  # 1980-01-01 + n days
    first17 = "%06d%04d%02d%02d%03d" % (
        110101 + (n // 9000) % 800000,
        birth.tm_year,
        birth.tm_mon,
        birth.tm_mday,
        n % 1000,
    )
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    total = sum(int(d) * w for d, w in zip(first17, weights))
    return first17 + "10X98765432"[total % 11]


class Server:
    """One `dosewise serve` process."""

    def __init__(self, binary, db_url, env=None, workdir=None):
        self.binary, self.db_url, self.port = binary, db_url, free_port()
        self.env = dict(os.environ)
        self.env.update(
            {
                "DATABASE_URL": db_url,
                "DOSEWISE_SECRET": SECRET,
                "DOSEWISE_BIND": "127.0.0.1:%d" % self.port,
                "DOSEWISE_MAIL_WORKER": "0",
                "RUST_LOG": "warn",
                # The load comes from one address; the limits are tested on their own.
                "DOSEWISE_RATE_BOOK": "0",
                "DOSEWISE_RATE_LOOKUP": "0",
            }
        )
        self.env.update(env or {})
        self.workdir = workdir or tempfile.mkdtemp(prefix="proof-")
        self.env.setdefault("DOSEWISE_MAIL_DIR", os.path.join(self.workdir, "mail"))
        self.proc = None

    def start(self, wait=True):
        log = open(os.path.join(self.workdir, "serve-%d.log" % self.port), "ab")
        self.proc = subprocess.Popen(
            [self.binary, "serve"], env=self.env, stdout=log, stderr=log, cwd=self.workdir
        )
        if wait:
            deadline = time.time() + 30
            while time.time() < deadline:
                if request(self.port, "GET", "/healthz", timeout=1)[0] == 200:
                    return
                time.sleep(0.05)
            raise SystemExit("server on port %d did not start" % self.port)

    def kill9(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill9()


def request(port, method, path, body=None, timeout=10):
    """(status, parsed JSON or text, seconds); status 0 when the connection failed."""
    started = time.time()
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        headers = {"Accept-Language": "en"}
        data = None
        if body is not None:
            data = json.dumps(body)
            headers["Content-Type"] = "application/json"
        c.request(method, path, data, headers)
        r = c.getresponse()
        raw = r.read().decode("utf-8", "replace")
        c.close()
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = raw
        return r.status, parsed, time.time() - started
    except (OSError, http.client.HTTPException):
        return 0, None, time.time() - started


def run(binary, db_url, *args, env=None):
    e = dict(os.environ, DATABASE_URL=db_url, DOSEWISE_SECRET=SECRET, RUST_LOG="warn")
    e.update(env or {})
    return subprocess.run([binary, *args], env=e, capture_output=True, text=True, timeout=600)


def check(binary, db_url):
    """`dosewise check`: (ok, violation lines)."""
    r = run(binary, db_url, "check")
    lines = [l for l in r.stdout.splitlines() if ":" in l and not l.startswith("ok")]
    return r.returncode == 0, lines


def open_slots(port, days=3):
    """Slot ids with free first-dose seats, and their free counts, over the next days."""
    status, towns, _ = request(port, "GET", "/api/v1/towns")
    assert status == 200, towns
    out = {}
    today = time.time()
    for t in towns:
        for s in t["sites"]:
            for d in range(1, days + 1):
                date = time.strftime("%Y-%m-%d", time.gmtime(today + d * 86400))
                st, v, _ = request(port, "GET", "/api/v1/availability?site=%s&date=%s" % (s["id"], date))
                if st == 200:
                    for sl in v["slots"]:
                        if sl["free_first_dose"] > 0:
                            out[sl["id"]] = sl["free_first_dose"]
    return out


class Load:
    """Booking clients: each books a new resident on a random open slot, again and again.
    Records every acknowledged booking (201 with a code) and every 5xx."""

    def __init__(self, ports, slots, first_resident, threads=6):
        self.ports, self.slots = ports, list(slots)
        self.next = first_resident
        self.lock = threading.Lock()
        self.acked, self.fivexx, self.unavailable, self.refused, self.failed = [], 0, 0, 0, 0
        self.stop_flag = threading.Event()
        self.threads = [threading.Thread(target=self.client, daemon=True) for _ in range(threads)]

    def client(self):
        while not self.stop_flag.is_set():
            with self.lock:
                n = self.next
                self.next += 1
            port = random.choice(self.ports)
            who = {
                "id_number": id_number(n),
                "name": "证明",
                "phone": "139%08d" % (n % 10**8),
                "email": "p%d@example.com" % n,
            }
            body = {"slot_id": random.choice(self.slots), "dose_number": 1, "resident": who}
            status, resp, _ = request(port, "POST", "/api/v1/appointments", body, timeout=15)
            with self.lock:
                if status == 201:
                    self.acked.append((resp["code"], who["id_number"]))
                elif status == 503:
                    self.unavailable += 1  # the promised fast "try again" while the database is out
                elif status >= 500:
                    self.fivexx += 1
                elif status == 0:
                    self.failed += 1
                else:
                    self.refused += 1
            if status == 0:
                time.sleep(0.05)

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop_flag.set()
        for t in self.threads:
            t.join()


def lost(port, acked):
    """Acknowledged bookings the server no longer knows (looked up like a resident would)."""
    missing = 0
    for code, idn in acked:
        st, v, _ = request(port, "POST", "/api/v1/appointments/lookup", {"code": code, "id_number": idn})
        if st != 200 or v.get("status") not in ("booked", "checked_in"):
            missing += 1
    return missing


def counts(lines):
    oversold = sum(1 for l in lines if l.startswith("slot seats match") or l.startswith("promised doses are held"))
    dups = sum(1 for l in lines if l.startswith("one active appointment"))
    return oversold, dups


ROWS = []


def row(step, cycles, acked, lost_n, oversold, dups, fivexx, recover, ok_db, note=""):
    ROWS.append((step, cycles, acked, lost_n, oversold, dups, fivexx, recover, "ok" if ok_db else "VIOLATIONS", note))


def fill(binary, db_url, seats=40, towns=2):
    r = run(binary, db_url, "demo-data", "--towns", str(towns), "--sites-per-town", "2", "--days", "3",
            "--seats-per-slot", str(seats))
    assert r.returncode == 0, r.stderr


def kill9_cycles(binary, db_urls, cycles, step):
    """Servers on one database; each cycle kills one -9 under load and starts it again."""
    servers = [Server(binary, db_urls[0]) for _ in range(db_urls[1])]
    for s in servers:
        s.start()
    slots = open_slots(servers[0].port)
    load = Load([s.port for s in servers], slots, first_resident=random.randrange(10**6))
    recover = 0.0
    with load:
        for i in range(cycles):
            time.sleep(random.uniform(0.8, 1.6))
            victim = servers[i % len(servers)]
            victim.kill9()
            t0 = time.time()
            victim.start()
            recover = max(recover, time.time() - t0)
    time.sleep(0.2)
    lost_n = lost(servers[0].port, load.acked)
    for s in servers:
        s.stop()
    ok_db, lines = check(binary, db_urls[0])
    oversold, dups = counts(lines)
    row(step, cycles, len(load.acked), lost_n, oversold, dups, load.fivexx, "%.1fs" % recover, ok_db)
    return lines


def oversell_storm(binary, db_url, rounds):
    s = Server(binary, db_url)
    s.start()
    slots = open_slots(s.port)
    acked, fivexx, oversold = 0, 0, 0
    base = random.randrange(10**6) + 2 * 10**6
    for r in range(rounds):
        slot, free = sorted(slots.items())[r]
        results = []

        def attempt(n):
            who = {"id_number": id_number(n), "name": "抢", "phone": "137%08d" % (n % 10**8),
                   "email": "s%d@example.com" % n}
            results.append(request(s.port, "POST", "/api/v1/appointments",
                                   {"slot_id": slot, "dose_number": 1, "resident": who})[0])

        threads = [threading.Thread(target=attempt, args=(base + r * 1000 + i,)) for i in range(free * 4 + 20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        ok = results.count(201)
        acked += ok
        oversold += max(0, ok - free)
        fivexx += sum(1 for x in results if x >= 500)
    s.stop()
    ok_db, lines = check(binary, db_url)
    o2, dups = counts(lines)
    row("oversell storm", rounds, acked, 0, oversold + o2, dups, fivexx, "-", ok_db)


class Proxy:
    """A TCP proxy to PostgreSQL that can refuse every connection (an outage) and come back."""

    def __init__(self, target_port):
        self.target = target_port
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.up = True
        self.conns = []
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            c, _ = self.sock.accept()
            if not self.up:
                c.close()
                continue
            try:
                u = socket.create_connection(("127.0.0.1", self.target))
            except OSError:
                c.close()
                continue
            self.conns += [c, u]
            for a, b in ((c, u), (u, c)):
                threading.Thread(target=self.pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def pipe(a, b):
        try:
            while True:
                data = a.recv(65536)
                if not data:
                    break
                b.sendall(data)
        except OSError:
            pass
        for x in (a, b):
            try:
                x.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def down(self):
        self.up = False
        for c in self.conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.conns = []


def db_outage(binary, pg_admin, seconds):
    name = "dosewise_proof_outage"
    url = recreate_pg(pg_admin, name)
    fill(binary, url)
    proxy = Proxy(5432)
    via = url.replace("127.0.0.1:5432", "127.0.0.1:%d" % proxy.port)
    s = Server(binary, via)
    s.start()
    slots = open_slots(s.port)
    load = Load([s.port], slots, first_resident=random.randrange(10**6) + 4 * 10**6, threads=4)
    statuses, slowest = [], 0.0
    with load:
        time.sleep(1)
        proxy.down()
        t_end = time.time() + seconds
        while time.time() < t_end:
            st, _, took = request(s.port, "GET", "/api/v1/towns", timeout=30)
            statuses.append(st)
            slowest = max(slowest, took)
        proxy.up = True
        t0 = time.time()
        while request(s.port, "GET", "/readyz", timeout=5)[0] != 200 and time.time() - t0 < 60:
            time.sleep(0.1)
        recover = time.time() - t0
        time.sleep(1)
    lost_n = lost(s.port, load.acked)
    s.stop()
    ok_db, lines = check(binary, url)
    oversold, dups = counts(lines)
    note = "during the outage: %s; slowest answer %.1fs; bookings answered 503: %d" % (
        ", ".join("%d x%d" % (k, statuses.count(k)) for k in sorted(set(statuses))), slowest,
        load.unavailable)
    row("database outage (PostgreSQL)", 1, len(load.acked), lost_n, oversold, dups,
        load.fivexx + sum(1 for x in statuses if x >= 500 and x != 503), "%.1fs" % recover, ok_db, note)


def disk_full(binary):
    mnt = tempfile.mkdtemp(prefix="proof-disk-")
    # Room for the filled city and a second of bookings (the database alone once filled 24 MiB
    # before the ballast was opened); the ballast then takes the rest.
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", mnt]).returncode != 0:
        row("disk full (SQLite)", 0, 0, 0, 0, 0, 0, "-", True, "skipped: cannot mount a small tmpfs here")
        return
    try:
        url = "sqlite://%s/city.db" % mnt
        fill(binary, url, towns=1)
        s = Server(binary, url)
        s.start()
        slots = open_slots(s.port)
        load = Load([s.port], slots, first_resident=random.randrange(10**6) + 5 * 10**6, threads=4)
        ballast = os.path.join(mnt, "ballast")
        statuses = []
        with load:
            time.sleep(1)
            try:
                with open(ballast, "wb") as f:
                    while True:
                        f.write(b"\0" * 65536)
            except OSError:
                pass  # full
            time.sleep(2)
            statuses.append(request(s.port, "GET", "/readyz")[0])
            if os.path.exists(ballast):
                os.remove(ballast)
            t0 = time.time()
            while request(s.port, "GET", "/readyz")[0] != 200 and time.time() - t0 < 30:
                time.sleep(0.1)
            recover = time.time() - t0
            time.sleep(1)
        lost_n = lost(s.port, load.acked)
        s.stop()
        ok_db, lines = check(binary, url)
        oversold, dups = counts(lines)
        row("disk full (SQLite)", 1, len(load.acked), lost_n, oversold, dups, load.fivexx,
            "%.1fs" % recover, ok_db, "readyz while full: %s; bookings answered 503: %d"
            % (statuses, load.unavailable))
    finally:
        subprocess.run(["umount", "-l", mnt])


class SinkHandler(socketserver.StreamRequestHandler):
    """One SMTP session: enough of RFC 5321 for lettre (EHLO, MAIL, RCPT, DATA, RSET, QUIT)."""

    def reply(self, line):
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self):
        sink = self.server.sink
        self.reply("220 proof sink")
        rcpts = []
        while True:
            line = self.rfile.readline()
            if not line:
                return
            cmd = line.decode("utf-8", "replace").strip().upper()
            if cmd.startswith(("EHLO", "HELO")):
                self.reply("250 proof sink")
            elif cmd.startswith("MAIL"):
                rcpts = []
                self.reply("250 ok")
            elif cmd.startswith("RCPT"):
                rcpts.append(line.decode().split(":", 1)[1].strip().strip("<>"))
                self.reply("250 ok")
            elif cmd == "DATA":
                self.reply("354 go on")
                data = b""
                while True:
                    chunk = self.rfile.readline()
                    if not chunk or chunk == b".\r\n":
                        break
                    data += chunk
                # A slow server: each message is answered after `delay` seconds (sessions run
                # in their own threads, as on a real server).
                if sink.delay:
                    time.sleep(sink.delay)
                found = re.search(rb"(?im)^message-id:\s*(<[^>]+>)", data)
                mid = found.group(1).decode() if found else "?"
                with sink.lock:
                    sink.received.extend((r, mid) for r in rcpts)
                self.reply("250 queued")
            elif cmd == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("250 ok")


class Sink(socketserver.ThreadingTCPServer):
    """An SMTP server that records who received which message, optionally slowly."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port, delay):
        super().__init__(("127.0.0.1", port), SinkHandler)
        self.sink, self.delay, self.received, self.lock = self, delay, [], threading.Lock()

    def close(self):
        self.shutdown()
        self.server_close()


def confirmations(sink):
    """The Message-IDs of the booking confirmations the sink received (one per outbox row, so
    the same id twice is a message delivered twice); only the load's residents count, not the
    demo's own bookings, reminders or notices."""
    return [m for r, m in sink.received if ".booked@" in m and re.fullmatch(r"p\d+@example\.com", r)]


def start_sink(port, delay=0.0):
    sink = Sink(port, delay)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    return sink


def mail_steps(binary, pg_admin, short):
    """SMTP outage (the server's worker keeps retrying) and a slow SMTP server with two
    `send-mail` workers: every confirmation delivered exactly once."""
    for step, delay in (("SMTP outage then back", 0.0), ("slow SMTP, two workers", 1.0 if short else 9.0)):
        name = "dosewise_proof_mail"
        url = recreate_pg(pg_admin, name)
        fill(binary, url, towns=1)
        port = free_port()
        env = {"SMTP_URL": "smtp://127.0.0.1:%d" % port, "DOSEWISE_MAIL_RETRY_SECONDS": "1",
               "DOSEWISE_MAIL_INTERVAL_MS": "200"}
        s = Server(binary, url, env=dict(env, DOSEWISE_MAIL_WORKER="0" if delay else "1"))
        s.start()
        slots = open_slots(s.port)
        n_bookings = 12 if short else 40
        load = Load([s.port], slots, first_resident=random.randrange(10**6) + 6 * 10**6, threads=4)
        with load:
            while len(load.acked) < n_bookings:
                time.sleep(0.05)
        t0 = time.time()
        if delay:
            sink = start_sink(port, delay)
            workers = [subprocess.Popen([binary, "send-mail", "--once"], env=dict(
                os.environ, DATABASE_URL=url, DOSEWISE_SECRET=SECRET, RUST_LOG="warn", **env))
                for _ in range(2)]
            for w in workers:
                w.wait(600)
        else:
            time.sleep(2)  # the worker fails against nothing listening, and retries
            sink = start_sink(port, 0)
        deadline = time.time() + 120
        while time.time() < deadline and len(set(confirmations(sink))) < len(load.acked):
            time.sleep(0.2)
        recover = time.time() - t0
        s.stop()
        sink.close()
        booked = confirmations(sink)
        dups = len(booked) - len(set(booked))
        lost_n = max(0, len(load.acked) - len(set(booked)))
        ok_db, lines = check(binary, url)
        row(step, 1, len(load.acked), lost_n, 0, dups, load.fivexx, "%.1fs" % recover, ok_db,
            "%d confirmations received for %d bookings, %d messages in all"
            % (len(booked), len(load.acked), len(sink.received)))


def recreate_pg(admin, name):
    base = admin.rsplit("/", 1)[0]
    subprocess.run(["psql", "-q", admin, "-c", "DROP DATABASE IF EXISTS %s WITH (FORCE)" % name,
                    "-c", "CREATE DATABASE %s" % name], check=True, capture_output=True)
    return "%s/%s" % (base, name)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--short", action="store_true", help="a few cycles of each (for the test suite)")
    ap.add_argument("--bin", default=os.path.join(ROOT, "target", "debug", "dosewise"))
    ap.add_argument("--pg", default=os.environ.get("TEST_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres"))
    ap.add_argument("--only", default="", help="comma-separated step names to run (default all)")
    a = ap.parse_args()
    a.bin = os.path.abspath(a.bin)  # servers run in their own scratch folders
    random.seed()
    cycles = 3 if a.short else 15
    only = set(filter(None, a.only.split(",")))
    want = lambda k: not only or k in only  # noqa: E731
    work = tempfile.mkdtemp(prefix="proof-")
    started = time.time()
    try:
        if want("sqlite"):
            url = "sqlite://%s/kill.db" % work
            fill(a.bin, url)
            kill9_cycles(a.bin, (url, 1), cycles, "kill -9 under load (SQLite)")
        if want("postgres"):
            url = recreate_pg(a.pg, "dosewise_proof_kill")
            fill(a.bin, url)
            kill9_cycles(a.bin, (url, 2), cycles, "kill -9, two servers (PostgreSQL)")
        if want("storm"):
            url = "sqlite://%s/storm.db" % work
            fill(a.bin, url, seats=5)
            oversell_storm(a.bin, url, 2 if a.short else 6)
            url = recreate_pg(a.pg, "dosewise_proof_storm")
            fill(a.bin, url, seats=5)
            oversell_storm(a.bin, url, 2 if a.short else 6)
            ROWS[-1] = ("oversell storm (PostgreSQL)",) + ROWS[-1][1:]
            ROWS[-2] = ("oversell storm (SQLite)",) + ROWS[-2][1:]
        if want("outage"):
            db_outage(a.bin, a.pg, 3 if a.short else 10)
        if want("disk"):
            disk_full(a.bin)
        if want("mail"):
            mail_steps(a.bin, a.pg, a.short)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    head = ("step", "cycles", "acknowledged", "lost", "oversold", "duplicates", "5xx", "recover", "check", "note")
    widths = [max(len(str(r[i])) for r in ROWS + [head]) for i in range(len(head))]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(head, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in ROWS:
        print("| " + " | ".join(str(x).ljust(w) for x, w in zip(r, widths)) + " |")
    print("(%.0f s, %s)" % (time.time() - started, "short run" if a.short else "full run"))
    bad = [r for r in ROWS if r[3] or r[4] or r[5] or r[6] or r[8] != "ok"]
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
