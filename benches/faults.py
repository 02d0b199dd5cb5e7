#!/usr/bin/env python3
"""Fault-injection harness: what clients of the conformance server see while
its session store (Redis or PostgreSQL) is killed, stalled or down.

    # build the server, then every store and scenario (~5 min):
    benches/faults.py
    # a given binary (e.g. a frozen "before" build), one store, two scenarios:
    benches/faults.py --server /tmp/target-x/release/examples/conformance_server \\
        --store redis --scenario kill --scenario stall8
    benches/faults.py --store all --scenario all --json /tmp/faults.json

Python 3.9+ and the standard library only. Needs `redis-server` (for its own
Redis) and `psql` in PATH, PostgreSQL on 127.0.0.1:5432 with trust auth for
user postgres (`eval "$(scripts/services.sh)"` sets that up), and, without
`--server`, cargo (it builds `cargo build --release -p server-session
--example conformance_server --all-features`).

What it does, per store and scenario: starts a fresh conformance server
(SESSION_OPTIONS = {"secret":"fault-harness","resave":false,
"saveUninitialized":false,"cookie":{"maxAge":600000}}, PORT=0), drives it with
8 client threads (one session each, made by the first request; the cookie is
kept from Set-Cookie like a browser does; one keep-alive connection each,
http.client), each calling GET /inc/n back to back, and injects the fault in
band: warm-up 2 s, the fault, then at least 5 s more (extended until every
client has had a 200 after the fault, at most 20 s after it). Then each client
reads GET /get/n (retried for up to 10 s) and the server is stopped.

Stores:
  redis     a Redis of the harness's own on 127.0.0.1:--redis-port (6390;
            --save "" --appendonly no, in a temporary directory), used for all
            Redis scenarios. SESSION_STORE=redis://127.0.0.1:6390.
  postgres  database --pg-db (`faults`, created if missing) on 127.0.0.1:5432,
            so that kills never hit other databases; the server creates the
            `session` table itself (connect-pg-simple's). Only `down30` goes
            through the harness's TCP proxy (a child process running this
            script with --proxy-child, so that it does not share the client
            threads' GIL); the other scenarios connect directly.

Scenarios (`all` = every one, in this order):
  baseline  no fault; the window is 5 s of plain load (the control row).
  kill      5 kills, 2 s apart, of every store connection. Redis: CLIENT KILL
            TYPE normal SKIPME yes. PostgreSQL: pg_terminate_backend(pid) for
            every backend of the database but the harness's own. Window: first
            kill to last kill; recovery is counted from the last kill.
  stall3    the store stalls 3 s. Redis: CLIENT PAUSE 3000 ALL. PostgreSQL: a
            separate session holds LOCK TABLE session IN ACCESS EXCLUSIVE MODE
            in a transaction for 3 s (window: lock granted to COMMIT sent).
  stall8    the same for 8 s.
  pause30   the same for 30 s.
  down30    the store refuses connections for 30 s, then comes back. Redis:
            SHUTDOWN SAVE, 30 s, then a new redis-server on the same port that
            loads the dump (so the restart itself loses nothing: a loss counted
            there is the library's, not Redis's amnesia). PostgreSQL: the proxy
            aborts (RST) every connection and stops listening for 30 s.
            Window: store gone to store answering again.

Columns (counts cover the whole scenario: warm-up, fault and after):
  fault     the fault window's measured length, s.
  req       /inc/n requests completed (any outcome).
  ok        of which answered 200 with an integer body.
  failures  the rest, by kind: an HTTP status (503, 500, ...), `200?` for a
            200 whose body is not an integer, `conn` for a connection error
            (refused, reset, closed without an answer), `tmo` for the client's
            own 60 s timeout.
  max       the longest request, s.
  base p50/p99  latency of requests completed before the fault, ms (the
            normal level on this machine, Python client included).
  win n/fail  requests started inside the fault window, and how many failed.
  p50, p99  latency of the requests started inside the fault window, ms
            (every outcome; nearest-rank). A stall catches each client's
            request in flight, which started before the window, so a short
            stall has few or no requests in it (`-`): `max` shows those.
  recov     from the fault's end until every client has had a 200 again
            (a 200 completing after the end), s; `>N` if some client had none
            within the N s the scenario ran on.
  lastfail  from the fault's end to the completion of the last failed request,
            s (`-`: none failed after the end): lingering errors.
  lost      acknowledged writes lost: each client remembers the last value it
            got with a 200; a later 200 with a value v not greater than that
            (last) counts last - v + 1, and a final /get/n value f below it
            counts last - f (a session gone counts every acknowledged one).
  ghost     unacknowledged writes applied: increments the store kept although
            their request failed (a 200 jumping over values, or a final value
            above the last acknowledged one). Not an error in itself, shown
            because retries can change it.

Latency accuracy: the clients are Python threads; blocking socket calls
release the GIL, and the switch interval is set to 1 ms, so a response waits
at most about 1 ms for its thread to run. The baseline row shows the floor:
on a shared 2-core VM, Redis p50 ~1 ms / p99 ~10 ms at ~4.5k req/s, where
wrk (-t8 -c8, one cookie per connection) saw p50 0.5 ms / p99 100 ms at
11.7k req/s (its threads saturate the cores); PostgreSQL p50 ~6 ms. So the
harness adds well under a millisecond at the median and less tail than a
faster load generator would; the faults' effects are hundreds of ms to
seconds, which this does not change.

Every process the harness starts (server, redis-server, proxy, psql) is
stopped before it exits, also on Ctrl-C and on exceptions.
"""

import argparse
import asyncio
import datetime
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import processes
from processes import cleanup, spawn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLIENTS = 8
WARMUP = 2.0
AFTER_MIN = 5.0
AFTER_MAX = 20.0
FINAL_GET_RETRY = 10.0
CLIENT_TIMEOUT = 60.0
KILLS = 5
KILL_EVERY = 2.0
SESSION_OPTIONS = json.dumps(
    {
        "secret": "fault-harness",
        "resave": False,
        "saveUninitialized": False,
        "cookie": {"maxAge": 600000},
    }
)
SCENARIOS = ["baseline", "kill", "stall3", "stall8", "pause30", "down30"]
STORES = ["redis", "postgres"]


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def stop(proc, timeout=5.0):
    """processes.stop, then closes our ends of proc's pipes; None is a no-op."""
    if proc is None:
        return
    processes.stop(proc, timeout)
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream is not None:
            try:
                stream.close()
            except OSError:
                pass


def on_sigterm(*_):
    raise SystemExit(143)


# --------------------------------------------------------------------------
# Redis: a minimal RESP client, and the harness's own redis-server.


def resp_encode(args):
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = str(arg).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


def resp_read(f):
    line = f.readline()
    if not line:
        raise ConnectionError("redis closed the connection")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        raise RuntimeError("redis: " + rest.decode())
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)
        return data[:-2].decode(errors="replace")
    if kind == b"*":
        n = int(rest)
        return None if n < 0 else [resp_read(f) for _ in range(n)]
    raise RuntimeError("redis: unexpected reply %r" % line)


def redis_cmd(port, *args, timeout=5.0):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(resp_encode(args))
        with sock.makefile("rb") as f:
            return resp_read(f)


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class HarnessRedis:
    def __init__(self, port, workdir, logdir):
        self.port = port
        self.dir = workdir
        self.logfile = os.path.join(logdir, "redis.log")
        self.proc = None

    def start(self):
        self.proc = spawn(
            [
                "redis-server",
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--dir", self.dir,
                "--dbfilename", "faults.rdb",
                "--logfile", self.logfile,
                "--daemonize", "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("redis-server exited (see %s)" % self.logfile)
            try:
                if redis_cmd(self.port, "PING", timeout=0.5) == "PONG":
                    return
            except (OSError, RuntimeError):
                pass
            time.sleep(0.02)
        raise RuntimeError("redis-server on %d did not answer" % self.port)

    def shutdown_saving(self):
        """SHUTDOWN SAVE: writes the dump even with --save "", then exits."""
        try:
            redis_cmd(self.port, "SHUTDOWN", "SAVE")
        except (ConnectionError, OSError):
            pass  # the expected answer is the connection closing
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        stop(self.proc)
        self.proc = None

    def close(self):
        stop(self.proc)
        self.proc = None


# --------------------------------------------------------------------------
# PostgreSQL: psql for control, a lock holder, and the TCP proxy.


class Postgres:
    def __init__(self, host, port, user, db):
        self.host, self.port, self.user, self.db = host, port, user, db

    def psql(self, sql, db=None):
        out = subprocess.run(
            ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
             "-h", self.host, "-p", str(self.port), "-U", self.user,
             "-d", db or "postgres", "-c", sql],
            capture_output=True, text=True, timeout=30,
        )
        if out.returncode != 0:
            raise RuntimeError("psql: %s" % out.stderr.strip())
        return out.stdout.strip()

    def ensure_db(self):
        if self.psql("SELECT 1 FROM pg_database WHERE datname = '%s'" % self.db) != "1":
            self.psql('CREATE DATABASE "%s"' % self.db)
            log("postgres: created database %s" % self.db)

    def url(self, port=None):
        return "postgres://%s@%s:%d/%s" % (self.user, self.host, port or self.port, self.db)

    def kill_backends(self):
        return int(self.psql(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = '%s' AND pid <> pg_backend_pid()" % self.db))

    def lock_holder(self):
        """A psql session on the store's database, driven over stdin."""
        return spawn(
            ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
             "-h", self.host, "-p", str(self.port), "-U", self.user, "-d", self.db],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, text=True, bufsize=1,
        )


def say(proc, text, expect):
    proc.stdin.write(text)
    proc.stdin.flush()
    line = proc.stdout.readline()
    if line.strip() != expect:
        raise RuntimeError("lock holder: expected %r, got %r" % (expect, line))
    return time.perf_counter()


async def proxy_main(target_host, target_port):
    """Child process: a TCP proxy to target, driven by `down` / `up` on stdin."""
    loop = asyncio.get_running_loop()
    pairs = set()

    async def pipe(reader, writer):
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.CancelledError):
            pass

    async def handle(reader, writer):
        try:
            up_reader, up_writer = await asyncio.open_connection(target_host, target_port)
        except OSError:
            writer.transport.abort()
            return
        pair = (writer, up_writer)
        pairs.add(pair)
        tasks = [asyncio.ensure_future(pipe(reader, up_writer)),
                 asyncio.ensure_future(pipe(up_reader, writer))]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            for w in pair:
                w.close()
            pairs.discard(pair)

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    print("port %d" % port, flush=True)
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        command = line.strip()
        if command == "down":
            server.close()
            for pair in list(pairs):
                for w in pair:
                    w.transport.abort()
            pairs.clear()
            print("down", flush=True)
        elif command == "up":
            server = await asyncio.start_server(handle, "127.0.0.1", port)
            print("up", flush=True)
        else:  # EOF or `quit`
            server.close()
            for pair in list(pairs):
                for w in pair:
                    w.transport.abort()
            return


class Proxy:
    def __init__(self, target_host, target_port):
        self.proc = spawn(
            [sys.executable, os.path.abspath(__file__), "--proxy-child",
             "%s:%d" % (target_host, target_port)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1,
        )
        line = self.proc.stdout.readline()
        match = re.match(r"port (\d+)", line)
        if not match:
            raise RuntimeError("proxy did not start: %r" % line)
        self.port = int(match.group(1))

    def command(self, what):
        self.proc.stdin.write(what + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if line.strip() != what:
            raise RuntimeError("proxy: %r" % line)
        return time.perf_counter()

    def close(self):
        stop(self.proc)


# --------------------------------------------------------------------------
# The server under test.


def build_server():
    log("building the conformance server (release, all features)...")
    out = subprocess.run(
        ["cargo", "build", "--release", "-p", "server-session", "--example",
         "conformance_server", "--all-features", "--message-format=json-render-diagnostics"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )
    if out.returncode != 0:
        raise SystemExit("cargo build failed")
    for line in out.stdout.splitlines():
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if msg.get("reason") == "compiler-artifact" and msg.get("target", {}).get("name") == "conformance_server" and msg.get("executable"):
            return msg["executable"]
    raise SystemExit("cargo build did not report the conformance_server executable")


def start_server(binary, store_url, log_path):
    logf = open(log_path, "w")
    env = dict(os.environ, PORT="0", SESSION_OPTIONS=SESSION_OPTIONS, SESSION_STORE=store_url)
    proc = spawn([binary], env=env, stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    logf.close()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with open(log_path) as f:
            match = re.search(r"listening on 127\.0\.0\.1:(\d+)", f.read())
        if match:
            return proc, int(match.group(1))
        if proc.poll() is not None:
            with open(log_path) as f:
                raise RuntimeError("server exited: " + f.read()[-2000:])
        time.sleep(0.02)
    stop(proc)
    raise RuntimeError("server did not start within 30 s")


# --------------------------------------------------------------------------
# Clients.


def cookie_from(headers):
    for value in headers.get_all("Set-Cookie") or []:
        pair = value.split(";", 1)[0].strip()
        if pair.startswith("connect.sid="):
            return pair
    return None


def error_kind(error):
    if isinstance(error, (socket.timeout, TimeoutError)):
        return "tmo"
    return "conn"


class Client(threading.Thread):
    def __init__(self, index, port, stop_event):
        super().__init__(name="client-%d" % index, daemon=True)
        self.port = port
        self.stop_event = stop_event
        self.cookie = None
        self.conn = None
        self.records = []  # (start, end, kind) with kind "200" or a failure kind
        self.last_ack = 0
        self.lost = 0
        self.ghost = 0
        self.losses = []  # (time, last acknowledged, value seen)
        self.final = None
        self.crash = None

    def request(self, path):
        """One GET on the kept-alive connection: (start, end, status|kind, body)."""
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=CLIENT_TIMEOUT)
        headers = {"Cookie": self.cookie} if self.cookie else {}
        start = time.perf_counter()
        try:
            self.conn.request("GET", path, headers=headers)
            resp = self.conn.getresponse()
            body = resp.read()
        except (OSError, http.client.HTTPException) as error:
            end = time.perf_counter()
            self.conn.close()
            self.conn = None
            return start, end, error_kind(error), None
        end = time.perf_counter()
        cookie = cookie_from(resp.headers)
        if cookie:
            self.cookie = cookie
        if resp.will_close:
            self.conn.close()
            self.conn = None
        return start, end, resp.status, body

    def run(self):
        try:
            while not self.stop_event.is_set():
                start, end, status, body = self.request("/inc/n")
                value = None
                if status == 200:
                    try:
                        value = int(body)
                    except ValueError:
                        status = "200?"
                if value is None:
                    self.records.append((start, end, str(status)))
                    if not isinstance(status, int):
                        time.sleep(0.01)  # no busy loop against a dead server
                    continue
                self.records.append((start, end, "200"))
                if value <= self.last_ack:
                    self.lost += self.last_ack - value + 1
                    self.losses.append((end, self.last_ack, value))
                elif value > self.last_ack + 1:
                    self.ghost += value - self.last_ack - 1
                self.last_ack = value
        except Exception as error:  # a harness bug must not pass unnoticed
            self.crash = repr(error)

    def final_read(self):
        deadline = time.perf_counter() + FINAL_GET_RETRY
        while True:
            _, _, status, body = self.request("/get/n")
            if status == 200:
                text = body.decode(errors="replace").strip()
                try:
                    self.final = int(text)
                except ValueError:
                    self.final = 0  # "undefined" / "no session": the session is gone
                if self.final < self.last_ack:
                    self.lost += self.last_ack - self.final
                    self.losses.append((time.perf_counter(), self.last_ack, self.final))
                else:
                    self.ghost += self.final - self.last_ack
                break
            if time.perf_counter() > deadline:
                self.final = "failed (%s)" % status
                break
            time.sleep(0.1)
        if self.conn is not None:
            self.conn.close()
            self.conn = None


# --------------------------------------------------------------------------
# Faults. Each returns (start, end, note) in perf_counter time.


def fault_baseline(ctx):
    start = time.perf_counter()
    time.sleep(5.0)
    return start, time.perf_counter(), ""


def fault_kill(ctx):
    killed, times = [], []
    for i in range(KILLS):
        if i:
            time.sleep(max(0.0, times[0] + i * KILL_EVERY - time.perf_counter()))
        if ctx.store == "redis":
            killed.append(redis_cmd(ctx.redis.port, "CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"))
        else:
            killed.append(ctx.pg.kill_backends())
        times.append(time.perf_counter())
    return times[0], times[-1], "connections killed: %s" % "+".join(map(str, killed))


def fault_stall(seconds):
    def inject(ctx):
        if ctx.store == "redis":
            start = time.perf_counter()  # Redis pauses from its receipt of this
            redis_cmd(ctx.redis.port, "CLIENT", "PAUSE", int(seconds * 1000), "ALL")
            time.sleep(max(0.0, start + seconds - time.perf_counter()))
            return start, start + seconds, "CLIENT PAUSE %d ALL" % (seconds * 1000)
        holder = ctx.pg.lock_holder()
        try:
            start = say(holder, "BEGIN;\nLOCK TABLE session IN ACCESS EXCLUSIVE MODE;\n\\echo LOCKED\n", "LOCKED")
            time.sleep(max(0.0, start + seconds - time.perf_counter()))
            end = time.perf_counter()  # the lock goes with COMMIT's arrival
            say(holder, "COMMIT;\n\\echo DONE\n", "DONE")
        finally:
            stop(holder)
        return start, end, "LOCK TABLE session for %.2f s" % (end - start)
    return inject


def fault_down(seconds):
    def inject(ctx):
        if ctx.store == "redis":
            start = time.perf_counter()
            ctx.redis.shutdown_saving()
            time.sleep(max(0.0, start + seconds - time.perf_counter()))
            ctx.redis.start()
            return start, time.perf_counter(), "SHUTDOWN SAVE, restart"
        start = ctx.proxy.command("down")
        time.sleep(max(0.0, start + seconds - time.perf_counter()))
        end = ctx.proxy.command("up")
        return start, end, "proxy down/up"
    return inject


FAULTS = {
    "baseline": fault_baseline,
    "kill": fault_kill,
    "stall3": fault_stall(3),
    "stall8": fault_stall(8),
    "pause30": fault_stall(30),
    "down30": fault_down(30),
}


# --------------------------------------------------------------------------
# One scenario, and the table.


def percentile(sorted_values, p):
    if not sorted_values:
        return None
    rank = max(1, int(-(-p * len(sorted_values) // 100)))  # nearest rank
    return sorted_values[min(rank, len(sorted_values)) - 1]


class Ctx:
    pass


def run_scenario(ctx, scenario, binary, logdir):
    store_url = ctx.store_url
    proxy = None
    if ctx.store == "postgres" and scenario == "down30":
        proxy = Proxy(ctx.pg.host, ctx.pg.port)
        store_url = ctx.pg.url(proxy.port)
    ctx.proxy = proxy
    log_path = os.path.join(logdir, "server-%s-%s.log" % (ctx.store, scenario))
    server = None
    stop_event = threading.Event()
    clients = []
    try:
        server, port = start_server(binary, store_url, log_path)
        clients = [Client(i, port, stop_event) for i in range(CLIENTS)]
        t0 = time.perf_counter()
        for c in clients:
            c.start()
        time.sleep(WARMUP)
        log("  %s/%s: injecting..." % (ctx.store, scenario))
        f_start, f_end, note = FAULTS[scenario](ctx)

        def recovered():
            return all(any(k == "200" and e > f_end for (_, e, k) in list(c.records)) for c in clients)

        time.sleep(max(0.0, f_end + AFTER_MIN - time.perf_counter()))
        while not recovered() and time.perf_counter() < f_end + AFTER_MAX:
            time.sleep(0.1)
        stop_event.set()
        for c in clients:
            c.join(timeout=CLIENT_TIMEOUT + 5)
        t_stop = time.perf_counter()
        for c in clients:
            c.final_read()
        server_alive = server.poll() is None
    finally:
        stop_event.set()
        stop(server)
        if proxy is not None:
            proxy.close()
            ctx.proxy = None

    records = [r for c in clients for r in c.records]
    failures = {}
    for _, _, kind in records:
        if kind != "200":
            failures[kind] = failures.get(kind, 0) + 1
    base = sorted(e - s for (s, e, _) in records if e < f_start)
    window = [(s, e, k) for (s, e, k) in records if f_start <= s <= f_end]
    win_lat = sorted(e - s for (s, e, _) in window)
    per_client_first_ok = []
    for c in clients:
        ends = [e for (_, e, k) in c.records if k == "200" and e > f_end]
        per_client_first_ok.append(min(ends) - f_end if ends else None)
    recovery = None if None in per_client_first_ok else max(per_client_first_ok)
    late_failures = [e - f_end for (_, e, k) in records if k != "200" and e > f_end]
    crashes = [c.crash for c in clients if c.crash]
    return {
        "store": ctx.store,
        "scenario": scenario,
        "note": note,
        "fault_s": f_end - f_start,
        "fault_start_s": f_start - t0,
        "ran_after_fault_s": t_stop - f_end,
        "requests": len(records),
        "ok": len(records) - sum(failures.values()),
        "failures": dict(sorted(failures.items())),
        "max_s": max((e - s for (s, e, _) in records), default=None),
        "base_p50_ms": ms(percentile(base, 50)),
        "base_p99_ms": ms(percentile(base, 99)),
        "window_requests": len(window),
        "window_failures": sum(1 for (_, _, k) in window if k != "200"),
        "window_p50_ms": ms(percentile(win_lat, 50)),
        "window_p99_ms": ms(percentile(win_lat, 99)),
        "recovery_s": recovery,
        "last_failure_after_s": max(late_failures) if late_failures else None,
        "lost": sum(c.lost for c in clients),
        "ghost": sum(c.ghost for c in clients),
        "losses": [(round(t - t0, 3), last, seen) for c in clients for (t, last, seen) in c.losses],
        "final": [c.final for c in clients],
        "last_acknowledged": [c.last_ack for c in clients],
        "server_alive_at_end": server_alive,
        "client_crashes": crashes,
        "server_log": log_path,
    }


def ms(seconds):
    return None if seconds is None else round(seconds * 1000, 1)


COLUMNS = [
    ("store", 8), ("scenario", 8), ("fault", 5), ("req", 6), ("ok", 6),
    ("failures", 22), ("max", 6), ("base p50/p99", 12), ("win n/fail", 10),
    ("p50", 7), ("p99", 7), ("recov", 6), ("lastfail", 8), ("lost", 4), ("ghost", 5),
]


def fmt_s(v):
    return "-" if v is None else "%.2f" % v


def fmt_ms(v):
    if v is None:
        return "-"
    return "%.0f" % v if v >= 100 else "%.1f" % v


def row_cells(r):
    fails = " ".join("%s:%d" % kv for kv in r["failures"].items()) or "-"
    recov = fmt_s(r["recovery_s"]) if r["recovery_s"] is not None else ">%.0f" % r["ran_after_fault_s"]
    return [
        r["store"], r["scenario"], "%.1f" % r["fault_s"], str(r["requests"]), str(r["ok"]),
        fails, fmt_s(r["max_s"]), "%s/%s" % (fmt_ms(r["base_p50_ms"]), fmt_ms(r["base_p99_ms"])),
        "%d/%d" % (r["window_requests"], r["window_failures"]),
        fmt_ms(r["window_p50_ms"]), fmt_ms(r["window_p99_ms"]), recov,
        fmt_s(r["last_failure_after_s"]), str(r["lost"]), str(r["ghost"]),
    ]


def print_table(rows, out=sys.stdout):
    def line(cells):
        return "  ".join(c.ljust(w) if i in (0, 1, 5) else c.rjust(w)
                         for i, (c, (_, w)) in enumerate(zip(cells, COLUMNS))).rstrip()

    print(line([name for name, _ in COLUMNS]), file=out)
    for r in rows:
        print(line(row_cells(r)), file=out)
    totals = {}
    for r in rows:
        for kind, n in r["failures"].items():
            totals[kind] = totals.get(kind, 0) + n
    fails = " ".join("%s:%d" % kv for kv in sorted(totals.items())) or "-"
    total = ["total", "", "", str(sum(r["requests"] for r in rows)), str(sum(r["ok"] for r in rows)),
             fails, fmt_s(max((r["max_s"] or 0) for r in rows)) if rows else "-", "",
             "%d/%d" % (sum(r["window_requests"] for r in rows), sum(r["window_failures"] for r in rows)),
             "", "", "", "", str(sum(r["lost"] for r in rows)), str(sum(r["ghost"] for r in rows))]
    print(line(total), file=out)
    out.flush()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", help="the conformance_server binary (default: build it)")
    parser.add_argument("--store", action="append", choices=STORES + ["all"],
                        help="repeatable; default all")
    parser.add_argument("--scenario", action="append", choices=SCENARIOS + ["all"],
                        help="repeatable; default all")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--redis-port", type=int, default=6390)
    parser.add_argument("--pg-host", default="127.0.0.1")
    parser.add_argument("--pg-port", type=int, default=5432)
    parser.add_argument("--pg-user", default="postgres")
    parser.add_argument("--pg-db", default="faults")
    parser.add_argument("--logs", metavar="DIR", help="keep the server and redis logs here")
    parser.add_argument("--proxy-child", metavar="HOST:PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.proxy_child:
        host, port = args.proxy_child.rsplit(":", 1)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us
        asyncio.run(proxy_main(host, int(port)))
        return

    stores = STORES if not args.store or "all" in args.store else list(dict.fromkeys(args.store))
    scenarios = SCENARIOS if not args.scenario or "all" in args.scenario else [
        s for s in SCENARIOS if s in args.scenario]
    sys.setswitchinterval(0.001)
    signal.signal(signal.SIGTERM, on_sigterm)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with it ignored

    workdir = tempfile.mkdtemp(prefix="faults-")
    logdir = args.logs or workdir
    os.makedirs(logdir, exist_ok=True)
    rows = []
    began = time.monotonic()
    try:
        binary = os.path.abspath(args.server) if args.server else build_server()
        if not os.access(binary, os.X_OK):
            raise SystemExit("not an executable: %s" % binary)
        log("server: %s" % binary)
        for store in stores:
            ctx = Ctx()
            ctx.store = store
            ctx.redis = ctx.pg = ctx.proxy = None
            if store == "redis":
                if port_open(args.redis_port):
                    raise SystemExit("port %d is taken: pick another --redis-port" % args.redis_port)
                ctx.redis = HarnessRedis(args.redis_port, workdir, logdir)
                ctx.redis.start()
                ctx.store_url = "redis://127.0.0.1:%d" % args.redis_port
            else:
                ctx.pg = Postgres(args.pg_host, args.pg_port, args.pg_user, args.pg_db)
                ctx.pg.ensure_db()
                ctx.store_url = ctx.pg.url()
            try:
                for scenario in scenarios:
                    log("%s/%s (%.0f s so far)" % (store, scenario, time.monotonic() - began))
                    row = run_scenario(ctx, scenario, binary, logdir)
                    rows.append(row)
                    print_table([row], out=sys.stderr)
                    if row["client_crashes"]:
                        log("  client errors: %s" % row["client_crashes"])
                    if not row["server_alive_at_end"]:
                        log("  the server had exited by the end: see %s" % row["server_log"])
            finally:
                if ctx.redis is not None:
                    ctx.redis.close()
        print()
        print("server: %s   (%.0f s)" % (binary, time.monotonic() - began))
        print_table(rows)
        notes = ["%s/%s: %s" % (r["store"], r["scenario"], r["note"]) for r in rows if r["note"]]
        if notes:
            print("\n" + "\n".join(notes))
        if args.json:
            with open(args.json, "w") as f:
                json.dump({
                    "when": datetime.datetime.now().isoformat(timespec="seconds"),
                    "server": binary,
                    "session_options": json.loads(SESSION_OPTIONS),
                    "clients": CLIENTS,
                    "rows": rows,
                }, f, indent=1)
            print("results: %s" % args.json)
    finally:
        cleanup()
        shutil.rmtree(workdir, ignore_errors=True)  # the dump; logs may be in --logs


if __name__ == "__main__":
    main()
