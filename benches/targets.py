#!/usr/bin/env python3
"""The performance targets of issue 4, checked against one harness run.

    python3 benches/targets.py benches/results/<run>/results.json [memory.txt]

Prints a Markdown table: each target, the measured value, the reference
value and whether it is met. memory.txt is the output of
`resources memory ours` (bytes per idle session), optional.
"""

import json
import re
import sys


def main():
    data = json.load(open(sys.argv[1]))
    rows = {(r["server"], r["scenario"]): r for r in data["summary"]}

    def rows_of(server):
        """`server`'s summary rows, in the run's order."""
        return [row for row in data["summary"] if row["server"] == server]

    def get(server, scenario, field="rps"):
        row = rows.get((server, scenario))
        return None if row is None else row.get(field)

    out = ["| target | measured | reference | met? |", "|---|---|---|---|"]

    paired = bool(data.get("args", {}).get("paired"))

    def versus(a_server, b_server, scenario):
        """a/b: with --paired, each server's rate is first divided by the bare
        axum run measured right before it, which cancels the machine's drift
        between the two servers' runs."""
        if paired:
            a, b = get(a_server, scenario, "ratio"), get(b_server, scenario, "ratio")
        else:
            a, b = get(a_server, scenario), get(b_server, scenario)
        return None if not a or not b else a / b

    def verdict(ok):
        return "—" if ok is None else ("**yes**" if ok else "**no**")

    def pct(value):
        return "-" if value is None else f"{100 * value:.1f}%"

    # MemoryStore as a share of bare axum.
    for scenario, label, goal, peer in [
        ("read", "/read + cookie", 0.95, "87%"),
        ("counter", "/counter + cookie", 0.90, "77%"),
        ("counter_new", "/counter, no cookie", 0.85, "76%"),
    ]:
        ours = get("ours MemoryStore", scenario, "ratio")
        tower = get("tower-sessions MemoryStore", scenario, "ratio")
        out.append(f"| MemoryStore {label} ≥ {goal:.0%} of bare axum | {pct(ours)} | "
                   f"tower-sessions {pct(tower)} here (issue: {peer}) | "
                   f"{verdict(None if ours is None else ours >= goal)} |")

    def redis_rates(scenario):
        """ours', tower-sessions' and actix-session's req/s on Redis, and
        ours against each peer (`versus`); None if any is missing."""
        rates = (get("ours Redis", scenario),
                 get("tower-sessions Redis", scenario),
                 get("actix-session Redis", scenario),
                 versus("ours Redis", "tower-sessions Redis", scenario),
                 versus("ours Redis", "actix-session Redis", scenario))
        return None if None in rates else rates

    # Redis throughput.
    rates = redis_rates("counter")
    if rates:
        ours, tower, actix, vs_tower, vs_actix = rates
        out.append(f"| Redis /counter + cookie ≥ 2× tower-sessions' Redis store | {ours:.0f} req/s "
                   f"({vs_tower:.2f}×) | tower-sessions {tower:.0f} | {verdict(vs_tower >= 2)} |")
        out.append(f"| Redis /counter + cookie ≥ actix-session's | {ours:.0f} req/s ({vs_actix:.2f}×) | "
                   f"actix-session {actix:.0f} | {verdict(vs_actix >= 1)} |")
    rates = redis_rates("read")
    if rates:
        ours, tower, actix, vs_tower, vs_actix = rates
        out.append(f"| Redis /read + cookie ≥ actix-session's | {ours:.0f} req/s ({vs_actix:.2f}×) | "
                   f"actix-session {actix:.0f}; tower-sessions {tower:.0f} ({vs_tower:.2f}×) | "
                   f"{verdict(vs_actix >= 1)} |")

    # Round trips.
    for scenario, label, limit in [("none", "/none + cookie (unchanged)", 1),
                                   ("read", "/read + cookie (unchanged)", 1),
                                   ("counter", "/counter + cookie (changed)", 2),
                                   ("counter_new", "/counter, no cookie (new)", 2)]:
        trips = get("ours Redis", scenario, "round_trips")
        express = get("express-session connect-redis", scenario, "round_trips")
        if trips is None:
            continue
        total = sum(trips.values())
        describe = lambda d: ", ".join(f"{k.upper()} {v:g}" for k, v in d.items()) or "none"
        out.append(f"| Redis round trips, {label} ≤ {limit} | {total:g} ({describe(trips)}) | "
                   f"express-session {describe(express or {})} | {verdict(total <= limit)} |")

    # Against express-session.
    for ours_name, express_name in [("ours MemoryStore", "express-session MemoryStore"),
                                    ("ours Redis", "express-session connect-redis")]:
        for row in rows_of(ours_name):
            express = get(express_name, row["scenario"])
            factor = versus(ours_name, express_name, row["scenario"])
            if not express or factor is None:
                continue
            out.append(f"| {ours_name} {row['label']} ≥ 10× {express_name} | {row['rps']:.0f} req/s "
                       f"({factor:.1f}×) | {express:.0f} req/s | {verdict(factor >= 10)} |")

    # p99 no worse than tower-sessions.
    for ours_name, tower_name in [("ours MemoryStore", "tower-sessions MemoryStore"),
                                  ("ours Redis", "tower-sessions Redis")]:
        for row in rows_of(ours_name):
            tower = get(tower_name, row["scenario"], "p99")
            if tower is None or row["p99"] is None:
                continue
            out.append(f"| p99 {ours_name} {row['label']} ≤ {tower_name} | {row['p99']:.2f} ms | "
                       f"{tower:.2f} ms | {verdict(row['p99'] <= tower)} |")

    # Memory per idle session.
    if len(sys.argv) > 2:
        text = open(sys.argv[2]).read()
        m = re.search(r"ours: .*?, (\d+) bytes/session.*record JSON (\d+) bytes", text)
        t = re.search(r"tower: .*?, (\d+) bytes/session", text)
        if m:
            per, json_len = int(m.group(1)), int(m.group(2))
            limit = 2 * json_len + 150
            out.append(f"| MemoryStore ≤ 2 × JSON ({json_len} B) + 150 B = {limit} B per idle session | "
                       f"{per} B (RSS delta) | tower-sessions {t.group(1) if t else '?'} B | "
                       f"{verdict(per <= limit)} |")
    if paired:
        out += ["", "Factors between servers (×) compare their rates after dividing each by the "
                "bare axum run measured right before it (`--paired`), which cancels the "
                "machine's drift between the runs; req/s are as measured."]
    print("\n".join(out))


if __name__ == "__main__":
    main()
