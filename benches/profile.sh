#!/usr/bin/env bash
# Where the time goes in this library's layer: perf profiles of the
# MemoryStore server (and bare axum, for comparison) under wrk, one per
# scenario, written to benches/results/profile-<time>/.
#
#   benches/profile.sh [SECONDS]     # default 8 s per scenario
#
# Needs perf (`perf stat -e instructions true` must work) and the release
# binaries from benches/run.sh. Server on core 0, wrk on core 1.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
secs="${1:-8}"
bin="$here/load/target/release"
out="$here/results/profile-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$out"
(cd "$here/load" && cargo build --release --locked --bins)

port=3190
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

profile() { # name binary path cookie?
  local name="$1" binary="$2" path="$3" with_cookie="$4"
  PORT=$port STORE=memory taskset -c 0 "$bin/$binary" >"$out/$name.log" 2>&1 &
  local pid=$!
  pids+=("$pid")
  for _ in $(seq 100); do curl -s "http://127.0.0.1:$port/none" >/dev/null && break; sleep 0.1; done
  local cookie
  cookie=$(curl -si "http://127.0.0.1:$port/counter" | tr -d '\r' | sed -n 's/^[Ss]et-[Cc]ookie: \([^;]*\).*/\1/p')
  [ -n "$cookie" ] || cookie="connect.sid=none"
  local header=()
  [ "$with_cookie" = yes ] && header=(-H "Cookie: $cookie")
  taskset -c 1 wrk -t1 -c32 -d"$((secs + 2))s" "${header[@]}" "http://127.0.0.1:$port$path" >"$out/$name.wrk.txt" &
  local wrk=$!
  sleep 1
  perf record -F 499 -g --call-graph dwarf,16384 -p "$pid" -o "$out/$name.perf.data" -- sleep "$secs" 2>/dev/null
  wait "$wrk"
  kill "$pid"; wait "$pid" 2>/dev/null || true
  # Self time by function, and inclusive time of this library's functions.
  perf report -i "$out/$name.perf.data" --no-children --sort symbol --percent-limit 0.7 --stdio 2>/dev/null \
    | grep -v '^$' | grep -v '^#' | grep '%' | head -60 >"$out/$name.self.txt"
  perf report -i "$out/$name.perf.data" --children --sort symbol --stdio -g none 2>/dev/null \
    | grep -E 'server_session|session_bench|hyper::|tokio::|serde_json|hmac|sha2|rand' | head -60 >"$out/$name.children.txt"
  rm -f "$out/$name.perf.data"
  echo "== $name: $(grep Requests/sec "$out/$name.wrk.txt")"
  head -25 "$out/$name.self.txt"
}

profile bare-read bare /read yes
profile ours-none ours /none yes
profile ours-read ours /read yes
profile ours-counter ours /counter yes
profile ours-counter-new ours /counter no
echo "profiles in $out"
