#!/usr/bin/env bash
# One command for the load benchmarks in BENCHMARKS.md:
#
#   benches/run.sh            # 10 s per scenario (the published numbers)
#   benches/run.sh --quick    # 2 s per scenario (CI smoke)
#   benches/run.sh --only ours --only tower   # a subset (bare axum always runs)
#   benches/run.sh --paired   # bare axum re-measured right before each server (noisy machine)
#   RUNTIME=current benches/run.sh   # axum servers on tokio's current-thread runtime
#                                    # (actix-web's model) instead of the multi-thread one
#
# Builds the servers (release), installs the Node servers' packages, then
# runs benches/harness.py, which starts each server pinned to core 0 with a
# dedicated redis-server on core 0 and wrk on core 1. Needs: cargo, node/npm,
# redis-server, redis-cli, redis-benchmark, wrk, taskset, python3; PostgreSQL
# at $BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test)
# or that server is skipped.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

for tool in wrk redis-server redis-cli redis-benchmark taskset python3 node npm cargo; do
  if ! command -v "$tool" >/dev/null; then
    if [ "$tool" = wrk ] && [ "$(id -u)" = 0 ]; then
      apt-get install -y -qq wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
    else
      echo "missing: $tool" >&2
      exit 1
    fi
  fi
done

echo "== building the servers (benches/load, release)"
(cd "$here/load" && cargo build --release --bins)
echo "== installing the express-session servers (benches/node)"
(cd "$here/node" && npm ci --no-audit --no-fund --silent)

exec python3 "$here/harness.py" "$@"
