#!/usr/bin/env python3
"""Load harness for BENCHMARKS.md: starts each server in turn on 127.0.0.1,
pinned to core 0 (with its Redis on core 0 too; SERVER_CORES overrides), drives it with wrk pinned to
core 1 (CLIENT_CORES), and prints requests/s, p50 and p99 per server and scenario with the
ratio to bare axum measured in the same run.

Run it through benches/run.sh, which builds everything first. Every process
this script starts is stopped before it exits, and every load run is bounded
by wrk's duration.
"""

import argparse
import datetime
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request

from processes import cleanup, spawn, start, stop, wait_port

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCHES = os.path.join(ROOT, "benches")
BIN = os.path.join(BENCHES, "load", "target", "release")
# The cores (taskset lists) the servers with their Redis, and wrk, run on.
# SERVER_CORES=0,1 gives the server a second core (shared with wrk on a
# two-core machine): the scaling rows of BENCHMARKS.md.
SERVER_CORE = os.environ.get("SERVER_CORES", "0")
CLIENT_CORE = os.environ.get("CLIENT_CORES", "1")

SCENARIOS = [
    # (key, label, path, with cookie)
    ("none", "/none + cookie", "/none", True),
    ("read", "/read + cookie", "/read", True),
    ("counter", "/counter + cookie", "/counter", True),
    ("counter_new", "/counter, no cookie", "/counter", False),
    # Not in the list: the same load spread over 32 sessions (one
    # per connection on average), so requests on one session rarely
    # overlap. Shows what the single-cookie scenarios cost through
    # per-session coordination.
    ("counter_many", "/counter, 32 sessions", "/counter", "many"),
    ("read_many", "/read, 32 sessions", "/read", "many"),
]

# A server without sessions: one SELECT by key per request, the limit of the
# PostgreSQL rows.
SELECT_LIMIT = "PostgreSQL SELECT by key"


def http_get(port, path, cookie=None):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    if cookie:
        request.add_header("Cookie", cookie)
    with urllib.request.urlopen(request, timeout=10) as response:
        body = response.read().decode()
        set_cookie = response.headers.get_all("Set-Cookie") or []
    return body, set_cookie


def redis_cli(port, *args):
    return subprocess.run(
        ["redis-cli", "-p", str(port)] + list(args),
        capture_output=True, text=True, timeout=10,
    ).stdout


def redis_commandstats(port):
    stats = {}
    for line in redis_cli(port, "INFO", "commandstats").splitlines():
        m = re.match(r"cmdstat_([^:]+):calls=(\d+)", line)
        if m and m.group(1).split("|")[0] not in ("info", "config", "ping", "flushall", "monitor"):
            stats[m.group(1)] = int(m.group(2))
    return stats


def redis_cpu_seconds(port):
    """Redis's own CPU time so far (INFO cpu: user + system), in seconds:
    what every app server on this Redis shares, the command work and the
    network I/O around it."""
    total = 0.0
    for line in redis_cli(port, "INFO", "cpu").splitlines():
        m = re.match(r"used_cpu_(sys|user):([\d.]+)", line.strip())
        if m:
            total += float(m.group(2))
    return total


def monitor_probe(redis_port, port, path, cookie, requests=50):
    """Client round trips per request, by command: Redis MONITOR while this
    script sends `requests` sequential requests. Commands a Lua script runs
    (shown as `[0 lua]`) are not round trips and are left out."""
    log = spawn(["redis-cli", "-p", str(redis_port), "monitor"],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    time.sleep(0.3)
    for _ in range(requests):
        http_get(port, path, cookie)
    time.sleep(0.3)
    stop(log)
    counts = {}
    for line in log.stdout.read().splitlines():
        m = re.match(r'^[\d.]+ \[\d+ ([^\]]+)\] "([^"]+)"', line)
        if not m or m.group(1) == "lua":
            continue
        command = m.group(2).lower()
        counts[command] = counts.get(command, 0) + 1
    return {k: round(v / requests, 2) for k, v in sorted(counts.items())}


def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def parse_duration_ms(text):
    m = re.match(r"([\d.]+)(us|ms|s|m)$", text)
    if not m:
        return None
    value, unit = float(m.group(1)), m.group(2)
    return value * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def cookie_script(cookies, out_dir, slug):
    """A wrk script that sends the cookies in turn, one per request."""
    path = os.path.join(out_dir, f"{slug}-cookies.lua")
    quoted = ", ".join(json.dumps(c) for c in cookies)
    with open(path, "w") as f:
        f.write(f"local cookies = {{{quoted}}}\n"
                "local i = 0\n"
                "request = function()\n"
                "  i = i + 1\n"
                "  return wrk.format(nil, nil, {[\"Cookie\"] = cookies[(i % #cookies) + 1]})\n"
                "end\n")
    return path


def run_wrk(port, path, cookie, args, script=None):
    cmd = [
        "taskset", "-c", CLIENT_CORE, "wrk",
        "-t", str(args.threads), "-c", str(args.connections),
        "-d", f"{args.duration}s", "--timeout", "5s", "--latency",
    ]
    if cookie:
        cmd += ["-H", f"Cookie: {cookie}"]
    if script:
        cmd += ["-s", script]
    cmd.append(f"http://127.0.0.1:{port}{path}")
    out = subprocess.run(cmd, capture_output=True, text=True,
                         timeout=args.duration + 30).stdout
    result = {"raw": out}
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    result["rps"] = float(m.group(1)) if m else 0.0
    m = re.search(r"(\d+) requests in", out)
    result["requests"] = int(m.group(1)) if m else 0
    for pct in ("50", "99"):
        m = re.search(rf"^\s+{pct}%\s+(\S+)", out, re.M)
        result[f"p{pct}"] = parse_duration_ms(m.group(1)) if m else None
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    result["non2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: (.*)", out)
    result["socket_errors"] = m.group(1).strip() if m else ""
    return result


def servers(args, redis_url, postgres_url):
    """(name, command, env, uses redis) for every server, in run order."""
    node = ["node", os.path.join(BENCHES, "node", "server.js")]
    pg_ok = postgres_url is not None
    rows = [
        ("bare axum", [f"{BIN}/bare"], {}, False),
        ("ours MemoryStore", [f"{BIN}/ours"], {"STORE": "memory"}, False),
        ("ours Redis", [f"{BIN}/ours"], {"STORE": redis_url}, True),
        # The actix-web adapter over the same driver, on actix-web's runtime.
        ("ours-actix MemoryStore", [f"{BIN}/ours_actix"], {"STORE": "memory"}, False),
        ("ours-actix Redis", [f"{BIN}/ours_actix"], {"STORE": redis_url}, True),
    ]
    if pg_ok:
        rows.append(("ours PostgreSQL", [f"{BIN}/ours"], {"STORE": postgres_url}, False))
        # connect-mongo's touchAfter (issue 14 item 3), and the limit it is
        # measured against: one SELECT by key on the same pool, no layer.
        rows.append(("ours PostgreSQL touchAfter 1h", [f"{BIN}/ours"],
                     {"STORE": postgres_url, "TOUCH_AFTER_SECS": "3600"}, False))
        rows.append((SELECT_LIMIT, [f"{BIN}/pg_select"], {"STORE": postgres_url}, False))
    if args.mysql_url and url_reachable(args.mysql_url, 3306):
        for suffix, env in (("", {}), (" touchAfter 1h", {"TOUCH_AFTER_SECS": "3600"})):
            rows.append((f"ours MySQL{suffix}", [f"{BIN}/ours"], dict(env, STORE=args.mysql_url), False))
    if args.sqlite:
        sqlite_url = f"sqlite://{args.sqlite_db}"
        for suffix, env in (("", {}), (" touchAfter 1h", {"TOUCH_AFTER_SECS": "3600"})):
            rows.append((f"ours SQLite{suffix}", [f"{BIN}/ours"], dict(env, STORE=sqlite_url), False))
    rows += [
        ("tower-sessions MemoryStore", [f"{BIN}/tower_sessions_memory"], {}, False),
        ("tower-sessions Redis", [f"{BIN}/tower_sessions_redis"], {"STORE": redis_url}, True),
        ("actix-session Redis", [f"{BIN}/actix"], {"STORE": redis_url}, True),
        ("actix-session Cookie", [f"{BIN}/actix"], {"STORE": "cookie"}, False),
        ("express-session MemoryStore", node, {"STORE": "memory"}, False),
        ("express-session connect-redis", node, {"STORE": redis_url}, True),
    ]
    if args.only:
        rows = [r for r in rows if r[0] == "bare axum" or any(o.lower() in r[0].lower() for o in args.only)]
    return rows


def postgres_reachable(url):
    return url_reachable(url, 5432)


def url_reachable(url, default_port):
    m = re.match(r"[a-z]+://(?:[^@/]*@)?([^:/]+):?(\d+)?", url)
    host, port = (m.group(1), int(m.group(2) or default_port)) if m else ("127.0.0.1", default_port)
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def fmt_ms(value):
    return "-" if value is None else (f"{value:.2f}" if value < 10 else f"{value:.1f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 s per scenario (CI smoke)")
    parser.add_argument("--duration", type=int, default=None, help="seconds per scenario (default 10)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--redis-port", type=int, default=6390)
    parser.add_argument("--base-port", type=int, default=3100)
    parser.add_argument("--rounds", type=int, default=1,
                        help="run the whole matrix this many times; the table shows medians (default 1)")
    parser.add_argument("--paired", action="store_true",
                        help="measure bare axum again right before each server's scenario and take "
                             "the ratio to that paired run (robust on a noisy machine; twice as long)")
    parser.add_argument("--only", action="append", help="run only servers whose name contains this (repeatable); bare axum always runs")
    parser.add_argument("--postgres-url", default=os.environ.get(
        "BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--out", default=None, help="results directory")
    parser.add_argument("--mysql-url", default=os.environ.get("BENCH_MYSQL_URL"),
                        help="MySQL/MariaDB for the 'ours MySQL' rows (off when unset)")
    parser.add_argument("--sqlite", action="store_true",
                        help="add the 'ours SQLite' rows (a file in the results directory)")
    args = parser.parse_args()
    if args.duration is None:
        args.duration = 2 if args.quick else 10

    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    out_dir = args.out or os.path.join(BENCHES, "results", stamp)
    args.sqlite_db = os.path.join(out_dir, "bench-sqlite.db")
    os.makedirs(out_dir, exist_ok=True)

    signal.signal(signal.SIGTERM, lambda *_: (cleanup(), sys.exit(1)))
    results = []
    try:
        # A dedicated Redis on the server core, no persistence.
        redis_port = args.redis_port
        redis = start(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1",
                       "--save", "", "--appendonly", "no"],
                      log=os.path.join(out_dir, "redis.log"), pin=SERVER_CORE)
        if not wait_port(redis_port, redis):
            sys.exit(f"redis-server did not start on {redis_port}")
        redis_url = f"redis://127.0.0.1:{redis_port}"

        postgres_url = args.postgres_url if postgres_reachable(args.postgres_url) else None
        if postgres_url is None:
            print(f"SKIPPED: PostgreSQL at {args.postgres_url} is not reachable", flush=True)
        else:
            # A clean table per run, so /counter-without-cookie rows do not pile up.
            subprocess.run(["psql", postgres_url, "-qc", "DROP TABLE IF EXISTS bench_session"],
                           capture_output=True, timeout=30)

        bare_port = args.base_port - 1
        if args.paired:
            # A bare axum kept running (idle between its runs) for the
            # paired baseline measured right before each server's scenario.
            bare = start([f"{BIN}/bare"], env={"PORT": str(bare_port)},
                         log=os.path.join(out_dir, "bare-paired.log"), pin=SERVER_CORE)
            if not wait_port(bare_port, bare):
                sys.exit("bare axum (paired baseline) did not start")

        for round_index in range(args.rounds):
            for index, (name, cmd, env, uses_redis) in enumerate(servers(args, redis_url, postgres_url)):
                if uses_redis:
                    redis_cli(redis_port, "FLUSHALL")
                port = args.base_port + index
                env = dict(env, PORT=str(port))
                slug = re.sub(r"[^a-z0-9]+", "-", name.lower())
                proc = start(cmd, env=env, log=os.path.join(out_dir, f"{slug}.log"),
                             pin=SERVER_CORE)
                if not wait_port(port, proc):
                    print(f"FAILED to start {name}; see {out_dir}/{slug}.log", flush=True)
                    stop(proc)
                    continue
                try:
                    body, set_cookie = http_get(port, "/counter")
                    cookie = set_cookie[0].split(";")[0] if set_cookie else None
                    sessionless = name in ("bare axum", SELECT_LIMIT)
                    if not sessionless and not cookie:
                        print(f"{name}: /counter sent no cookie", flush=True)
                    if sessionless:
                        cookie = "connect.sid=s%3Anone.none"
                    many = [cookie] * args.connections
                    if not sessionless:
                        for i in range(args.connections):
                            _, made = http_get(port, "/counter")
                            if made:
                                many[i] = made[0].split(";")[0]
                    script = cookie_script(many, out_dir, slug)
                    for key, label, path, with_cookie in SCENARIOS:
                        if uses_redis:
                            redis_cli(redis_port, "CONFIG", "RESETSTAT")
                        paired = None
                        if args.paired and name != "bare axum":
                            paired = run_wrk(bare_port, path, "connect.sid=s%3Anone.none"
                                             if with_cookie else None, args)
                            with open(os.path.join(out_dir, f"{slug}-{key}-round{round_index + 1}"
                                                   ".paired-bare.wrk.txt"), "w") as f:
                                f.write(paired.pop("raw"))
                        load_before = loadavg()
                        cpu_before = redis_cpu_seconds(redis_port) if uses_redis else None
                        if with_cookie == "many":
                            r = run_wrk(port, path, None, args, script=script)
                        else:
                            r = run_wrk(port, path, cookie if with_cookie else None, args)
                        commands = round_trips = redis_cpu_us = None
                        if uses_redis and r["requests"]:
                            redis_cpu_us = round(1e6 * (redis_cpu_seconds(redis_port) - cpu_before)
                                                 / r["requests"], 2)
                            stats = redis_commandstats(redis_port)
                            commands = {k: round(v / r["requests"], 2) for k, v in sorted(stats.items()) if v}
                            round_trips = monitor_probe(redis_port, port, path,
                                                        cookie if with_cookie else None)
                        r.update(server=name, scenario=key, label=label, redis_commands=commands,
                                 redis_cpu_us=redis_cpu_us,
                                 round_trips=round_trips, loadavg=load_before, round=round_index,
                                 paired_bare=paired)
                        with open(os.path.join(out_dir, f"{slug}-{key}-round{round_index + 1}.wrk.txt"), "w") as f:
                            f.write(r.pop("raw"))
                        results.append(r)
                        extra = f" loadavg={load_before:.1f}"
                        if paired:
                            extra += f" paired bare={paired['rps']:.0f} req/s ({100 * r['rps'] / max(paired['rps'], 1):.1f}%)"
                        if commands is not None:
                            extra += (f" redis/request under load={commands} round trips (sequential)={round_trips}"
                                      f" redis CPU/request={redis_cpu_us} us")
                        errors = ""
                        if r["non2xx"] or r["socket_errors"]:
                            errors = f" non2xx={r['non2xx']} socket_errors=[{r['socket_errors']}]"
                        print(f"{name:32} {label:22} {r['rps']:10.0f} req/s  p50 {fmt_ms(r['p50'])} ms  "
                              f"p99 {fmt_ms(r['p99'])} ms{errors}{extra}", flush=True)
                    # What the counter reached: shows whether concurrent increments were kept.
                    if cookie and not sessionless:
                        body, _ = http_get(port, "/read", cookie)
                        counter_requests = next((x["requests"] for x in results
                                                 if x["server"] == name and x["scenario"] == "counter"
                                                 and x["round"] == round_index), 0)
                        for x in results:
                            if x["server"] == name and x["scenario"] == "counter" and x["round"] == round_index:
                                x["final_counter"] = body
                        print(f"{name:32} counter after the run: {body} (from {counter_requests + 1} increments sent)",
                              flush=True)
                finally:
                    stop(proc)

        # The physical limit for Redis: redis-benchmark, same core layout,
        # no pipelining (the servers send one command per round trip).
        limit = {}
        if results:
            n = max(20000, 20000 * args.duration)
            bench = subprocess.run(
                ["taskset", "-c", CLIENT_CORE, "redis-benchmark", "-p", str(redis_port),
                 "-c", str(args.connections), "-n", str(n), "-P", "1", "-q", "-t", "get,set"],
                capture_output=True, text=True, timeout=600).stdout
            for line in bench.replace("\r", "\n").splitlines():
                m = re.match(r"(GET|SET): ([\d.]+) requests per second", line.strip())
                if m:
                    limit[m.group(1)] = float(m.group(2))
            print(f"redis-benchmark (server core {SERVER_CORE}, client core {CLIENT_CORE}, "
                  f"-c {args.connections} -P 1): {limit}", flush=True)
    finally:
        cleanup()

    # The table, with ratios to bare axum measured in the same round.
    def median(values):
        values = sorted(v for v in values if v is not None)
        if not values:
            return None
        mid = len(values) // 2
        return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2

    base = {(r["round"], r["scenario"]): r for r in results if r["server"] == "bare axum"}
    order = []
    for r in results:
        if (r["server"], r["scenario"]) not in order:
            order.append((r["server"], r["scenario"]))
    rounds_note = f"; median of {args.rounds} rounds" if args.rounds > 1 else ""
    if args.paired:
        rounds_note += ("; ratios to a bare axum run measured right before each server's "
                        "scenario (--paired)")
    # The axum servers read RUNTIME (session_bench::run); say which ran.
    # tokio itself reads TOKIO_WORKER_THREADS; unset, its multi-thread
    # runtime starts one worker per core the process may run on: one here.
    workers = os.environ.get("TOKIO_WORKER_THREADS")
    rounds_note += ("; axum servers on tokio's current-thread runtime (RUNTIME=current)"
                    if os.environ.get("RUNTIME") == "current"
                    else f"; axum servers on tokio's multi-thread runtime, TOKIO_WORKER_THREADS={workers}"
                    if workers
                    else "; axum servers on tokio's multi-thread runtime (one worker: the server's one core)")
    def git(*cmd):
        return subprocess.run(["git", "-C", ROOT] + list(cmd), capture_output=True,
                              text=True).stdout.strip()
    dirty = git("status", "--porcelain", "--", "crates")
    lines = [
        f"library at commit {git('rev-parse', '--short', 'HEAD')}"
        + (f", plus uncommitted changes in: {', '.join(sorted(set(l[3:] for l in dirty.splitlines())))}"
           if dirty else " (clean)"),
        f"wrk: {args.threads} thread, {args.connections} connections, {args.duration} s per scenario; "
        f"servers and Redis on cores {SERVER_CORE}, wrk on cores {CLIENT_CORE}{rounds_note}",
        "",
        "| server | scenario | req/s | vs bare axum | bare axum alongside | p50 ms | p99 ms | Redis round trips/request | Redis commands/request under load | Redis CPU µs/request |",
        "|---|---|---:|---:|---:|---:|---:|---|---|---:|",
    ]
    summary = []
    for server, scenario in order:
        runs = [r for r in results if r["server"] == server and r["scenario"] == scenario]
        ratios = []
        for r in runs:
            b = r.get("paired_bare") or base.get((r["round"], scenario))
            if b and b["rps"]:
                ratios.append(r["rps"] / b["rps"])
        row = {
            "server": server, "scenario": scenario, "label": runs[0]["label"],
            "rps": median([r["rps"] for r in runs]),
            "ratio": median(ratios),
            "bare_rps": median([(r.get("paired_bare") or base.get((r["round"], scenario)) or {}).get("rps")
                                for r in runs]),
            "p50": median([r["p50"] for r in runs]),
            "p99": median([r["p99"] for r in runs]),
            "round_trips": runs[-1].get("round_trips"),
            "redis_commands": runs[-1].get("redis_commands"),
            "redis_cpu_us": median([r.get("redis_cpu_us") for r in runs]),
            "errors": any(r["non2xx"] or r["socket_errors"] for r in runs),
        }
        summary.append(row)
        ratio = f"{100 * row['ratio']:.1f}%" if row["ratio"] is not None else "-"
        def cmds(d):
            # `SCRIPT|LOAD` and the like: a `|` would split the Markdown cell.
            return "" if d is None else (", ".join(f"{k.upper().replace('|', ' ')} {v:g}"
                                                   for k, v in d.items()) or "none")
        flag = " (errors)" if row["errors"] else ""
        bare_rps = f"{row['bare_rps']:.0f}" if row["bare_rps"] else "-"
        lines.append(f"| {server} | {row['label']}{flag} | {row['rps']:.0f} | {ratio} | {bare_rps} | "
                     f"{fmt_ms(row['p50'])} | {fmt_ms(row['p99'])} | {cmds(row['round_trips'])} | "
                     f"{cmds(row['redis_commands'])} | "
                     f"{'' if row['redis_cpu_us'] is None else format(row['redis_cpu_us'], '.1f')} |")
    if limit:
        lines += ["", "redis-benchmark on the same cores (-P 1): " +
                  ", ".join(f"{k} {v:.0f}/s" for k, v in limit.items())]
    counters = [f"{r['server']}: {r['final_counter']} of {r['requests'] + 1}"
                for r in results if r.get("final_counter") is not None]
    if counters:
        lines += ["", "/counter + cookie, the counter after the run vs increments sent "
                  "(lower = lost updates): " + "; ".join(counters)]
    table = "\n".join(lines)
    print()
    print(table)
    with open(os.path.join(out_dir, "results.md"), "w") as f:
        f.write(table + "\n")
    with open(os.path.join(out_dir, "results.json"), "w") as f:
        json.dump({"args": vars(args), "summary": summary, "results": results,
                   "redis_benchmark": limit}, f, indent=1)
    # The targets, checked against this run.
    check = subprocess.run([sys.executable, os.path.join(BENCHES, "targets.py"),
                            os.path.join(out_dir, "results.json")],
                           capture_output=True, text=True)
    if check.returncode == 0 and check.stdout:
        print("\n" + check.stdout)
        with open(os.path.join(out_dir, "results.md"), "a") as f:
            f.write("\n## Targets\n\n" + check.stdout)
    print(f"\nraw wrk output, server logs and results.{{md,json}} in {out_dir}")


if __name__ == "__main__":
    main()
