#!/usr/bin/env python3
"""Soak test for BENCHMARKS.md ("Soak"): minutes of mixed session load on the
conformance server, with a per-second record of the server's memory and of
the store, drawn as a PNG.

    benches/soak.py                          # MemoryStore, then Redis: 10 min each
    benches/soak.py --store memory --minutes 10
    benches/soak.py --store redis --minutes 10
    benches/soak.py --store memory --minutes 1 --warmup 20   # a quick look
    benches/soak.py --server target/release/examples/conformance_server

It builds the conformance server (`cargo build --release --all-features -p
server-session --example conformance_server`, into $CARGO_TARGET_DIR or
target/) unless --server names a binary, and starts it pinned to core 0 with
short-lived sessions (`cookie.maxAge` 10 s, `resave` and `saveUninitialized`
false). For `--store redis` it also starts a redis-server of its own on a
spare port (127.0.0.1 only, `--save "" --appendonly no`, core 0). wrk, on
core 1 and nice'd, runs for the whole duration with a Lua script
(MIX_LUA below, written to the run's results directory) that mixes:

- new visitors: `GET /inc/n` without a cookie (a new session each),
- returning visitors, with a cookie from a pool of recently issued ones:
  reads (`/get/n`), increments (`/inc/n`), `/set/data/<random text>`,
  `/noop`, `/regenerate` (a new ID) and `/destroy`;

and holds a constant request rate (`--rate`, 4,000/s by default, through
wrk's per-request `delay`), so that about 1,000 new session IDs a second
are issued: with 10 s lifetimes the sessions held stay far below the
MemoryStore's default bound of 100,000, so that expiry and sweeping, not
the bound's evictions, are what keep memory flat. (With `--rate 0` the
load is throttled by a fixed delay instead, and its rate follows whatever
else the machine runs.)

Once a second a sampler records the server's VmRSS, threads and open file
descriptors (/proc), the requests and new session IDs per second (counts
the wrk script writes as it goes), and for Redis `INFO memory`
(used_memory, used_memory_rss), `INFO clients` (connected_clients: the
server's connections plus the sampler's own one), `INFO stats`
(expired_keys) and `DBSIZE` (live sessions). It writes
benches/soak/<store>.csv and benches/soak/<store>.png (<store>-<tag> with
--tag), and prints a summary: RSS min/max/mean after the warm-up and the
largest deviation from that mean, request totals and errors, an upper
bound on the records held (from the client's counts: the MemoryStore does
not expose its size), Redis clients and memory trend, and any stall of the
sampler (a paused machine). Exit
status 1 if a check fails (server RSS outside +/-10% of its post-warm-up
mean, any non-2xx or socket error, Redis connected_clients changing, or
Redis used_memory growing, net of the sessions held, by more than 10% of its
mean over the run: see fit_per_key_and_minute), 0 otherwise.

Every process it starts runs in its own process group and is stopped at
exit, also on errors and Ctrl-C. Raw output (wrk's text, server and Redis
logs) goes to benches/results/soak-<stamp>/ (ignored by git).
"""

import argparse
import atexit
import csv
import datetime
import importlib.util
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time

from processes import cleanup, start, stop, wait_port

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCHES = os.path.join(ROOT, "benches")
SOAK_DIR = os.path.join(BENCHES, "soak")
SERVER_CORE = "0"
CLIENT_CORE = "1"

# The wrk script. Percentages of requests; the rest are reads (/get/n).
# Cookies from Set-Cookie headers go into a ring of POOL recently issued
# session IDs (each ID once); returning visitors pick one at random. A
# destroyed or expired ID stays in the ring: using it again is a visitor
# whose session is gone (reads see a new, unsaved session; writes save one).
# Keep POOL well below a power of two: `index` then has free hash slots
# after each eviction; at exactly 2^k LuaJIT rehashes the whole table on
# every insert, and wrk slows down threefold once the pool is full.
MIX_LUA = r"""
local pool, index, filled, slot = {}, {}, 0, 1
local POOL = tonumber(os.getenv("SOAK_POOL") or "10000")
local DELAY = tonumber(os.getenv("SOAK_DELAY_MS") or "2")
local RATE = tonumber(os.getenv("SOAK_RATE") or "0")
local P_NEW = tonumber(os.getenv("SOAK_P_NEW") or "0.20")
local out, last_t = nil, 0
local responses, non2xx, new_ids, sent = 0, 0, 0, {}
local kinds = {"new", "get", "inc", "set", "noop", "regenerate", "destroy"}
for _, k in ipairs(kinds) do sent[k] = 0 end
local alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

function init(args)
  out = io.open((args[1] or "soak-progress") .. "." .. tostring(tid or 1), "w")
  math.randomseed(os.time() + (tid or 1) * 7919)
end

local function text(n)
  local t = {}
  for i = 1, n do
    local j = math.random(#alphabet)
    t[i] = alphabet:sub(j, j)
  end
  return table.concat(t)
end

-- With RATE > 0 (requests/s for this wrk thread), every request gets the
-- next slot of a schedule RATE a second, shared by the thread's connections
-- (a slot missed is skipped, not made up for later); so the rate stays
-- where it was set whatever the machine's other load, as long as the
-- server keeps up. With RATE = 0, a fixed DELAY ms before each request.
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } soak_timespec;
int clock_gettime(int clock, soak_timespec *tp);
]]
local ts = ffi.new("soak_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end
local next_at = 0

function delay()
  if RATE <= 0 then return DELAY end
  local now = now_ms()
  next_at = math.max(next_at + 1000 / RATE, now)
  return math.floor(next_at - now)
end

request = function()
  local r = math.random()
  if filled == 0 or r < P_NEW then
    sent.new = sent.new + 1
    return wrk.format("GET", "/inc/n")
  end
  local cookie = pool[math.random(filled)]
  local headers = {["Cookie"] = cookie}
  r = (r - P_NEW) / (1 - P_NEW)
  local path, kind
  if r < 0.45 then path, kind = "/get/n", "get"
  elseif r < 0.70 then path, kind = "/inc/n", "inc"
  elseif r < 0.85 then path, kind = "/set/data/" .. text(math.random(8, 200)), "set"
  elseif r < 0.91 then path, kind = "/noop", "noop"
  elseif r < 0.96 then path, kind = "/regenerate", "regenerate"
  else path, kind = "/destroy", "destroy" end
  sent[kind] = sent[kind] + 1
  return wrk.format("GET", path, headers)
end

response = function(status, headers, body)
  responses = responses + 1
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
  local c = headers["set-cookie"] or headers["Set-Cookie"]
  if c then
    c = c:match("^([^;]+)")
    if c and not index[c] then
      new_ids = new_ids + 1
      local old = pool[slot]
      if old then index[old] = nil end
      pool[slot], index[c] = c, true
      slot = slot % POOL + 1
      if filled < POOL then filled = filled + 1 end
    end
  end
  -- A progress line every 100 responses and at least once a second, so the
  -- sampler's once-a-second reading is never more than 100 responses old.
  local t = os.time()
  if t ~= last_t or responses % 100 == 0 then
    last_t = t
    local s = {}
    for _, k in ipairs(kinds) do s[#s + 1] = k .. "=" .. sent[k] end
    out:write(string.format("%d responses=%d non2xx=%d new_ids=%d pool=%d %s\n",
      t, responses, non2xx, new_ids, filled, table.concat(s, " ")))
    out:flush()
  end
end
"""


def on_signal(signum, _frame):
    cleanup()
    sys.exit(128 + signum)


def free_port(preferred):
    for port in [preferred] + list(range(preferred + 1, preferred + 200)):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    sys.exit(f"no free port near {preferred}")


class Redis:
    """One RESP connection, kept for the whole run (so the sampler is a
    constant +1 in connected_clients)."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("redis closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("redis closed the connection")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def call(self, *args):
        parts = [f"*{len(args)}\r\n".encode()]
        for a in args:
            a = str(a).encode()
            parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.sock.sendall(b"".join(parts))
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n).decode()
        if kind == b"-":
            raise RuntimeError(rest.decode())
        raise RuntimeError(f"unexpected reply {line!r}")

    def info(self, section):
        fields = {}
        for line in self.call("INFO", section).splitlines():
            if ":" in line and not line.startswith("#"):
                k, v = line.split(":", 1)
                fields[k] = v
        return fields

    def close(self):
        self.sock.close()


def proc_status(pid):
    fields = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                fields[k] = v.strip()
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except (FileNotFoundError, ProcessLookupError):
        return None
    kb = lambda k: int(fields.get(k, "0 kB").split()[0])
    return {"rss_kb": kb("VmRSS"), "hwm_kb": kb("VmHWM"),
            "threads": int(fields.get("Threads", 0)), "fds": fds}


def last_progress(prefix):
    """Cumulative counts from the wrk script's progress files (one per wrk
    thread), summed; None before the first line."""
    totals, seen = {}, False
    directory = os.path.dirname(prefix)
    base = os.path.basename(prefix) + "."
    for name in os.listdir(directory):
        if not name.startswith(base):
            continue
        path = os.path.join(directory, name)
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 1024))
            lines = f.read().decode(errors="replace").splitlines()
        complete = [l for l in lines if l.count("=") >= 10]
        if not complete:
            continue
        seen = True
        for item in complete[-1].split()[1:]:
            k, _, v = item.partition("=")
            totals[k] = totals.get(k, 0) + int(v)
    return totals if seen else None


def build_server():
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
    if not os.path.isabs(target):
        target = os.path.join(ROOT, target)
    print("== building the conformance server (release, --all-features)", flush=True)
    subprocess.run(["nice", "-n", "5", "cargo", "build", "--release", "--all-features",
                    "-p", "server-session", "--example", "conformance_server"],
                   cwd=ROOT, check=True)
    return os.path.join(target, "release", "examples", "conformance_server")


def parse_wrk(out):
    r = {}
    m = re.search(r"(\d+) requests in ([\d.]+)(\w+)", out)
    r["requests"] = int(m.group(1)) if m else 0
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    r["rps"] = float(m.group(1)) if m else 0.0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    r["non2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    r["socket_errors"] = dict(zip(("connect", "read", "write", "timeout"),
                                  map(int, m.groups()))) if m else {}
    for pct in ("50", "99"):
        m = re.search(rf"^\s+{pct}(?:\.000)?%\s+(\S+)", out, re.M)
        r[f"p{pct}"] = m.group(1) if m else None
    return r


def slope_per_min(ts, ys):
    """Least-squares slope of ys over ts (seconds), per minute."""
    n = len(ts)
    if n < 2:
        return 0.0
    mt, my = sum(ts) / n, sum(ys) / n
    var = sum((t - mt) ** 2 for t in ts)
    if not var:
        return 0.0
    return 60 * sum((t - mt) * (y - my) for t, y in zip(ts, ys)) / var


def fit_per_key_and_minute(rows):
    """Least squares used_memory = a + b * DBSIZE + c * t; returns (b, c per
    minute)."""
    import numpy  # comes with matplotlib

    x = numpy.array([[1.0, r["redis_dbsize"], r["t"]] for r in rows])
    y = numpy.array([float(r["redis_used_memory"]) for r in rows])
    (_, b, c), *_ = numpy.linalg.lstsq(x, y, rcond=None)
    return float(b), float(c) * 60


def band(values):
    mean = statistics.fmean(values)
    dev = max(abs(v - mean) for v in values) / mean * 100 if mean else 0.0
    return min(values), max(values), mean, dev


def first_last_minute(rows, key, t0):
    first = [r[key] for r in rows if t0 <= r["t"] < t0 + 60]
    last_t = rows[-1]["t"]
    last = [r[key] for r in rows if r["t"] > last_t - 60]
    if not first or not last:
        return None, None
    return statistics.fmean(first), statistics.fmean(last)


def plot(rows, path, title, warmup, mean_rss, store):
    import matplotlib
    matplotlib.use("Agg")  # no display
    import matplotlib.pyplot as plt

    t = [r["t"] / 60 for r in rows]
    redis = store == "redis"
    panels = 3 if redis else 2
    fig, axes = plt.subplots(panels, 1, figsize=(10, 7 if redis else 5), dpi=100, sharex=True)
    ax = axes[0]
    ax.plot(t, [r["rss_kb"] / 1024 for r in rows], color="tab:blue", lw=1.2, label="server RSS")
    if mean_rss:
        m = mean_rss / 1024
        ax.axhline(m, color="tab:blue", lw=0.6, ls="--")
        ax.axhspan(0.9 * m, 1.1 * m, color="tab:blue", alpha=0.08,
                   label="±10% of the post-warm-up mean")
    if redis:
        ax.plot(t, [r["redis_used_memory"] / 2**20 for r in rows], color="tab:red", lw=1.2,
                label="Redis used_memory")
    ax.set_ylabel("MiB")
    ax.set_ylim(bottom=0)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title(title, fontsize=10)

    ax = axes[1]
    ax.plot(t, [r["req_s"] for r in rows], color="tab:green", lw=0.8, label="requests/s")
    ax.plot(t, [r["new_ids_s"] for r in rows], color="tab:orange", lw=0.8,
            label="new session IDs/s")
    ax.set_ylabel("per second")
    ax.set_ylim(0, max(r["req_s"] for r in rows) * 1.45)
    if redis:
        ax.legend(loc="upper center", ncol=2, fontsize=8)
    else:
        ax2 = ax.twinx()
        ax2.plot(t, [r["records_bound"] for r in rows], color="tab:purple", lw=1.0, ls="--",
                 label="records in the store, upper bound (client's counts)")
        ax2.set_ylabel("records")
        ax2.set_ylim(0, max(r["records_bound"] for r in rows) * 1.45)
        lines = ax.get_legend_handles_labels()
        lines2 = ax2.get_legend_handles_labels()
        ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], loc="upper center", ncol=3, fontsize=8)
    if redis:
        ax = axes[2]
        ax.plot(t, [r["redis_dbsize"] for r in rows], color="tab:purple", lw=1.0,
                label="Redis DBSIZE (live sessions)")
        ax.plot(t, [r["records_bound"] for r in rows], color="tab:purple", lw=1.0, ls="--",
                label="upper bound from the client's counts")
        ax.set_ylabel("keys")
        ax.set_ylim(0, max(r["records_bound"] for r in rows) * 1.45)
        ax2 = ax.twinx()
        ax2.plot(t, [r["redis_clients"] for r in rows], color="black", lw=1.0,
                 label="Redis connected_clients (incl. the sampler's)")
        ax2.plot(t, [r["fds"] for r in rows], color="gray", lw=1.0, ls=":",
                 label="server open fds")
        ax2.set_ylabel("connections / fds")
        ax2.set_ylim(0, max(max(r["fds"] for r in rows), max(r["redis_clients"] for r in rows)) * 1.45)
        lines = ax.get_legend_handles_labels()
        lines2 = ax2.get_legend_handles_labels()
        ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], loc="upper center", ncol=2, fontsize=8)
    for ax in axes:
        ax.axvspan(0, warmup / 60, color="gray", alpha=0.12)
        ax.grid(alpha=0.3)
    axes[0].text(warmup / 120, axes[0].get_ylim()[1] * 0.95, "warm-up", ha="center", va="top",
                 fontsize=8, color="gray")
    axes[-1].set_xlabel("minutes")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def run_one(store, args, server_bin, out_dir):
    name = store + (f"-{args.tag}" if args.tag else "")
    server_port = free_port(args.port)
    env = {"PORT": str(server_port), "SESSION_OPTIONS": json.dumps({
        "secret": "soak secret", "resave": False, "saveUninitialized": False,
        "cookie": {"maxAge": args.max_age_ms}})}
    redis = None
    if store == "redis":
        redis_port = free_port(args.redis_port)
        redis_proc = start(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1",
                            "--save", "", "--appendonly", "no"],
                           log=os.path.join(out_dir, "redis.log"), pin=SERVER_CORE)
        if not wait_port(redis_port, redis_proc):
            raise SystemExit(f"redis-server did not start on {redis_port}")
        redis = Redis(redis_port)
        env["SESSION_STORE"] = f"redis://127.0.0.1:{redis_port}"
    else:
        env["SESSION_STORE"] = "memory"
    server = start([server_bin], env=env, log=os.path.join(out_dir, f"{name}-server.log"),
                   pin=None if args.no_pin else SERVER_CORE)
    if not wait_port(server_port, server):
        raise SystemExit(f"the server did not start; see {out_dir}/{name}-server.log")

    lua = os.path.join(out_dir, "mix.lua")
    with open(lua, "w") as f:
        f.write(MIX_LUA)
    progress = os.path.join(out_dir, f"{name}-progress")
    duration = int(args.minutes * 60)
    wrk_cmd = ["wrk", "-t", str(args.threads), "-c", str(args.connections), "-d", f"{duration}s",
               "--timeout", "5s", "--latency", "-s", lua,
               f"http://127.0.0.1:{server_port}", progress]
    wrk_env = {"SOAK_POOL": str(args.pool), "SOAK_DELAY_MS": str(args.delay_ms),
               "SOAK_RATE": str(args.rate / args.threads), "SOAK_P_NEW": str(args.p_new)}
    print(f"== {name}: server pid {server.pid} on 127.0.0.1:{server_port} ({env['SESSION_STORE']}), "
          f"maxAge {args.max_age_ms} ms; wrk -t{args.threads} -c{args.connections} "
          + (f"at {args.rate:g} requests/s" if args.rate > 0 else f"delay {args.delay_ms} ms/request")
          + f" for {duration} s", flush=True)
    wrk_log = os.path.join(out_dir, f"{name}-wrk.txt")
    wrk = start(wrk_cmd, env=wrk_env, log=wrk_log, pin=None if args.no_pin else CLIENT_CORE,
                nice=args.nice)

    rows = []
    gaps = []  # (t, seconds) where a sample came more than 2.5 s after the previous one
    t_start = time.time()
    prev = None  # (time, responses, new_ids, expired_keys)
    next_tick = t_start + 1
    while wrk.poll() is None:
        time.sleep(max(0, next_tick - time.time()))
        now = time.time()
        # After a stall (the machine paused), carry on from now rather than
        # catching up with a burst of samples; the stall is reported.
        if now - next_tick > 1.5:
            gaps.append((round(next_tick - 1 - t_start, 1), round(now - next_tick + 1, 1)))
            next_tick = now
        next_tick += 1
        st = proc_status(server.pid)
        if st is None or server.poll() is not None:
            raise SystemExit(f"the server exited; see {out_dir}/{name}-server.log")
        counts = last_progress(progress) or {}
        row = {"t": round(now - t_start, 2), **st,
               "responses": counts.get("responses", 0), "non2xx": counts.get("non2xx", 0),
               "new_ids": counts.get("new_ids", 0)}
        expired = 0
        if redis:
            mem, clients, stats = redis.info("memory"), redis.info("clients"), redis.info("stats")
            expired = int(stats.get("expired_keys", 0))
            row.update(redis_used_memory=int(mem["used_memory"]),
                       redis_used_memory_rss=int(mem["used_memory_rss"]),
                       redis_clients=int(clients["connected_clients"]),
                       redis_dbsize=redis.call("DBSIZE"), redis_expired_keys=expired)
        if prev:
            dt = now - prev[0]
            row["req_s"] = round((row["responses"] - prev[1]) / dt, 1)
            row["new_ids_s"] = round((row["new_ids"] - prev[2]) / dt, 1)
            if redis:
                row["redis_expired_s"] = round((expired - prev[3]) / dt, 1)
        else:
            row["req_s"] = row["new_ids_s"] = 0.0
            if redis:
                row["redis_expired_s"] = 0.0
        prev = (now, row["responses"], row["new_ids"], expired)
        if wrk.poll() is not None:
            break  # wrk stopped during this second: a partial second, not a rate
        rows.append(row)
        if len(rows) % 60 == 0:
            extra = ""
            if redis:
                extra = (f"  redis used_memory {row['redis_used_memory'] / 2**20:.1f} MiB "
                         f"clients {row['redis_clients']} dbsize {row['redis_dbsize']}")
            print(f"  {row['t']:6.0f} s  RSS {row['rss_kb'] / 1024:.1f} MiB  {row['req_s']:.0f} req/s  "
                  f"{row['new_ids_s']:.0f} new IDs/s  fds {row['fds']}  threads {row['threads']}{extra}",
                  flush=True)
        if now - t_start > duration + 60:
            raise SystemExit("wrk did not stop")
    stop(wrk)
    with open(wrk_log) as f:
        wrk_out = f.read()
    wrk_result = parse_wrk(wrk_out)
    final_counts = last_progress(progress) or {}
    stop(server)
    if redis:
        redis.close()
    cleanup()

    # An upper bound on the records the store holds, from the client's counts
    # alone (the MemoryStore does not expose its size). Returning visitors
    # only use the `pool` most recent new IDs, so a session is last touched
    # while it is among them; it expires maxAge later, and the MemoryStore's
    # write-driven sweep visits every shard within 10 s after that. So every
    # record held at t was created after t - residence - maxAge - 10 s, where
    # residence is how long ago the pool-th most recent new ID came. One
    # more second of slack for the 1 s sampling. (For Redis, DBSIZE is the
    # real count; it should stay below this too.)
    lag = args.max_age_ms / 1000 + 10 + 1
    for i, row in enumerate(rows):
        j = i
        while j > 0 and row["new_ids"] - rows[j]["new_ids"] < args.pool:
            j -= 1
        start_t = rows[j]["t"] - lag
        k = j
        while k > 0 and rows[k]["t"] > start_t:
            k -= 1
        row["records_bound"] = row["new_ids"] - (rows[k]["new_ids"] if rows[k]["t"] <= start_t else 0)

    # The record. Rows are 1 s apart; the first has no rate.
    os.makedirs(args.out, exist_ok=True)
    csv_path = os.path.join(args.out, f"{name}.csv")
    keys = ["t", "rss_kb", "hwm_kb", "threads", "fds", "req_s", "new_ids_s", "responses",
            "non2xx", "new_ids", "records_bound"]
    if redis:
        keys += ["redis_used_memory", "redis_used_memory_rss", "redis_clients", "redis_dbsize",
                 "redis_expired_keys", "redis_expired_s"]
    with open(csv_path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)

    after = [r for r in rows if r["t"] >= args.warmup]
    lines = [f"{name}: {args.minutes:g} min, warm-up {args.warmup} s (its samples left out below), "
             f"{len(after)} samples after it"]
    ok = True
    mean_rss = None
    if after:
        lo, hi, mean_rss, dev = band([r["rss_kb"] for r in after])
        slope = slope_per_min([r["t"] for r in after], [r["rss_kb"] for r in after])
        good = dev <= 10
        ok &= good
        lines.append(f"  server RSS after warm-up: min {lo / 1024:.1f} MiB, max {hi / 1024:.1f} MiB, "
                     f"mean {mean_rss / 1024:.1f} MiB, max deviation from the mean {dev:.1f}% "
                     f"({'within' if good else 'OUTSIDE'} ±10%); trend {slope / 1024:+.2f} MiB/min; "
                     f"peak (VmHWM) {rows[-1]['hwm_kb'] / 1024:.1f} MiB; "
                     f"RSS at the end of the warm-up {after[0]['rss_kb'] / 1024:.1f} MiB")
        f0, f1 = first_last_minute(after, "rss_kb", args.warmup)
        if f0:
            lines.append(f"  server RSS, first minute after warm-up {f0 / 1024:.1f} MiB, "
                         f"last minute {f1 / 1024:.1f} MiB ({(f1 - f0) / f0 * 100:+.1f}%)")
        fds = [r["fds"] for r in after]
        threads = [r["threads"] for r in after]
        lines.append(f"  server open fds after warm-up: {min(fds)}–{max(fds)}; threads "
                     f"{min(threads)}–{max(threads)}")
        rates = [r["req_s"] for r in after]
        new = [r["new_ids_s"] for r in after]
        lines.append(f"  requests/s after warm-up: mean {statistics.fmean(rates):.0f} "
                     f"(min {min(rates):.0f}, max {max(rates):.0f}); new session IDs/s: mean "
                     f"{statistics.fmean(new):.0f} (of which cookieless visitors' ~"
                     f"{args.p_new * statistics.fmean(rates):.0f}, the rest from regenerate and "
                     f"writes on expired or destroyed sessions)")
        bound = [r["records_bound"] for r in after]
        lines.append(f"  records in the store, upper bound from the client's counts (pool + new IDs "
                     f"within maxAge + 10 s sweep cycle + pool residence): max {max(bound)}, mean "
                     f"{statistics.fmean(bound):.0f} (MemoryStore bound: 100,000)")
    errors = wrk_result["non2xx"] + sum(wrk_result["socket_errors"].values())
    ok &= errors == 0
    sent = {k: final_counts.get(k, 0) for k in ("new", "get", "inc", "set", "noop", "regenerate",
                                                 "destroy")}
    lines.append(f"  requests: {wrk_result['requests']} in total ({wrk_result['rps']:.0f}/s over the "
                 f"run, p50 {wrk_result['p50']}, p99 {wrk_result['p99']}); non-2xx "
                 f"{wrk_result['non2xx']}; socket errors {wrk_result['socket_errors'] or 'none'}; "
                 f"new session IDs seen {final_counts.get('new_ids', 0)}")
    lines.append("  requests sent by kind (the wrk script's counts at its last progress line): "
                 + ", ".join(f"{k} {v}" for k, v in sent.items()))
    if redis and after:
        clients = [r["redis_clients"] for r in after]
        good = max(clients) == min(clients)
        ok &= good
        lines.append(f"  Redis connected_clients after warm-up: min {min(clients)}, max {max(clients)} "
                     f"(the server's + the sampler's 1; {'constant' if good else 'CHANGING'})")
        # Redis's memory follows the live sessions (DBSIZE), which follow the
        # request rate, and that moves with whatever else the machine runs.
        # So growth is judged net of the sessions held: a least-squares fit
        # used_memory = a + b * DBSIZE + c * t, and what c adds over the
        # post-warm-up period, against the mean, must stay within 10%. The
        # plain trend is printed too.
        ts = [r["t"] for r in after]
        span_min = (ts[-1] - ts[0]) / 60
        lo, hi, mean, dev = band([r["redis_used_memory"] for r in after])
        slope = slope_per_min(ts, [r["redis_used_memory"] for r in after])
        f0, f1 = first_last_minute(after, "redis_used_memory", args.warmup)
        per_key, per_min = fit_per_key_and_minute(after)
        growth = per_min * span_min / mean * 100
        good = growth <= 10
        ok &= good
        lines.append(f"  Redis used_memory after warm-up: min {lo / 2**20:.1f} MiB, max {hi / 2**20:.1f} MiB, "
                     f"mean {mean / 2**20:.1f} MiB (max deviation {dev:.1f}%, following the load); "
                     f"plain trend {slope / 2**20:+.3f} MiB/min = {slope * span_min / mean * 100:+.1f}% of "
                     f"the mean over {span_min:.1f} min; first minute {f0 / 2**20:.2f} MiB, last minute "
                     f"{f1 / 2**20:.2f} MiB")
        lines.append(f"  Redis used_memory net of DBSIZE (fit: {per_key:.0f} B per live key, "
                     f"{per_min / 1024:+.1f} KiB/min): {growth:+.1f}% of the mean over {span_min:.1f} min "
                     f"({'no growth' if good else 'GROWING'})")
        lo, hi, mean, dev = band([r["redis_dbsize"] for r in after])
        slope = slope_per_min(ts, [r["redis_dbsize"] for r in after])
        f0, f1 = first_last_minute(after, "redis_dbsize", args.warmup)
        expired = [r["redis_expired_s"] for r in after]
        lines.append(f"  Redis DBSIZE (live sessions) after warm-up: min {lo}, max {hi}, mean {mean:.0f}; "
                     f"trend {slope:+.0f} keys/min = {slope * span_min / mean * 100:+.1f}% of the mean; "
                     f"first minute {f0:.0f}, last minute {f1:.0f}; keys expiring "
                     f"{statistics.fmean(expired):.0f}/s on average")
        per_key = [(r["redis_used_memory"] - rows[0]["redis_used_memory"]) / r["redis_dbsize"]
                   for r in after if r["redis_dbsize"]]
        if per_key:
            lines.append(f"  Redis used_memory above its start, per live key: median "
                         f"{statistics.median(per_key):.0f} B")
        rss = [r["redis_used_memory_rss"] for r in after]
        lines.append(f"  Redis used_memory_rss after warm-up: {min(rss) / 2**20:.1f}–{max(rss) / 2**20:.1f} MiB")
    lines.append("  sampler stalls (the whole machine or this process paused; Redis and the "
                 "cookies' expiry run on the wall clock, which jumps): "
                 + (", ".join(f"{g} s at t={t} s" for t, g in gaps) if gaps else "none"))
    lines.append(f"  verdict: {'PASS' if ok else 'FAIL'}")
    summary = "\n".join(lines)
    print(summary, flush=True)

    png = os.path.join(args.out, f"{name}.png")
    load = f"{args.rate:g} req/s" if args.rate > 0 else f"{args.delay_ms} ms delay"
    title = (f"Soak, {'MemoryStore' if store == 'memory' else 'Redis store'}: conformance server, "
             f"cookie.maxAge {args.max_age_ms / 1000:g} s, wrk -t{args.threads} -c{args.connections} "
             f"mixed load at {load} ({datetime.date.today().isoformat()})")
    plot(rows, png, title, args.warmup, mean_rss, store)
    print(f"  wrote {os.path.relpath(csv_path, ROOT)} ({os.path.getsize(csv_path) // 1024} KB) and "
          f"{os.path.relpath(png, ROOT)}", flush=True)
    with open(os.path.join(out_dir, f"{name}-summary.txt"), "w") as f:
        f.write(summary + "\n")
    return ok


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", choices=["memory", "redis", "both"], default="both")
    parser.add_argument("--minutes", type=float, default=10, help="load duration per store, "
                        "warm-up included (default 10)")
    parser.add_argument("--warmup", type=int, default=60,
                        help="seconds at the start left out of the checks (default 60)")
    parser.add_argument("--server", help="a built conformance_server binary (skips the build)")
    parser.add_argument("--max-age-ms", type=int, default=10000, help="cookie.maxAge (default 10000)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rate", type=float, default=4000,
                        help="requests/s wrk holds to, over all its connections (default 4000); "
                             "0: throttle with --delay-ms instead, so that the rate follows "
                             "the machine")
    parser.add_argument("--delay-ms", type=int, default=2,
                        help="with --rate 0: wrk waits this long before each request on a "
                             "connection (at most connections/delay requests/s; default 2)")
    parser.add_argument("--p-new", type=float, default=0.20,
                        help="share of requests from new (cookieless) visitors (default 0.20)")
    parser.add_argument("--pool", type=int, default=10000,
                        help="returning visitors' cookie pool, in session IDs (default 10000; "
                             "keep it well below a power of two, see MIX_LUA)")
    parser.add_argument("--nice", type=int, default=5, help="nice value for wrk (default 5)")
    parser.add_argument("--no-pin", action="store_true", help="do not pin the server and wrk to cores")
    parser.add_argument("--port", type=int, default=3290)
    parser.add_argument("--redis-port", type=int, default=6391)
    parser.add_argument("--tag", help="appended to the output names: <store>-<tag>.csv/.png")
    parser.add_argument("--out", default=SOAK_DIR, help="where the CSVs and PNGs go (default benches/soak)")
    args = parser.parse_args()

    for tool in ("wrk", "taskset", "nice") + (("redis-server",) if args.store != "memory" else ()):
        if subprocess.run(["which", tool], capture_output=True).returncode:
            sys.exit(f"missing: {tool} (wrk and redis-server: apt-get install wrk redis-server)")
    if importlib.util.find_spec("matplotlib") is None:  # fail before the run, not after it
        sys.exit("missing: matplotlib (pip install matplotlib)")

    atexit.register(cleanup)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    server_bin = os.path.abspath(args.server) if args.server else build_server()
    if not os.access(server_bin, os.X_OK):
        sys.exit(f"not an executable: {server_bin}")
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    out_dir = os.path.join(BENCHES, "results", f"soak-{stamp}")
    os.makedirs(out_dir, exist_ok=True)
    print(f"raw output in {os.path.relpath(out_dir, ROOT)}; load average at the start: "
          f"{open('/proc/loadavg').read().split()[0]}", flush=True)
    ok = True
    try:
        for store in (["memory", "redis"] if args.store == "both" else [args.store]):
            ok &= run_one(store, args, server_bin, out_dir)
    finally:
        cleanup()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
