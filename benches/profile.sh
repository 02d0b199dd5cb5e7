#!/usr/bin/env bash
# Where the time goes in this library's layer: perf profiles of the
# MemoryStore server (and bare axum, for comparison) and of the Redis
# server under wrk, one per scenario, written to
# benches/results/profile-<time>/ (samples by DSO, self time by symbol,
# inclusive time of this library's functions).
#
#   benches/profile.sh [SECONDS]     # default 8 s per scenario
#   ONLY=redis benches/profile.sh    # only the scenarios whose name has "redis"
#
# Needs perf (`perf stat -e instructions true` must work) and the release
# binaries from benches/run.sh. Server on core 0, wrk on core 1.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
secs="${1:-8}"
bin="$here/load/target/release"
out="$here/results/profile-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$out"
(cd "$here/load" && cargo build --release --bins)

port=3190
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

profile() { # name binary path cookie? [store]
  local name="$1" binary="$2" path="$3" with_cookie="$4" store="${5:-memory}"
  # ONLY=<text>: profile only the scenarios whose name contains it.
  [[ -n "${ONLY:-}" && "$name" != *"$ONLY"* ]] && return 0
  PORT=$port STORE=$store taskset -c 0 "$bin/$binary" >"$out/$name.log" 2>&1 &
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
  # Where the samples fall: kernel vs binary vs libc; self time by
  # function; inclusive time of the session layer's functions.
  local report=(perf report -i "$out/$name.perf.data" --stdio -g none)
  "${report[@]}" --no-children --sort dso 2>/dev/null | grep '%' | awk 'NR<=15' >"$out/$name.dso.txt" || true
  "${report[@]}" --no-children --sort symbol --percent-limit 0.4 2>/dev/null \
    | grep '%' | cut -c1-200 | awk 'NR<=70' >"$out/$name.self.txt" || true
  "${report[@]}" --children --sort symbol 2>/dev/null | grep '%' \
    | grep -E 'server_session|serde_json|hmac|sha1|sha2|base64|rand::|hashbrown|indexmap|SipHash|Hash|redis::' \
    | sed 's/  */ /g' | cut -c1-220 | awk 'NR<=80' >"$out/$name.children.txt" || true
  rm -f "$out/$name.perf.data"
  echo "== $name: $(grep Requests/sec "$out/$name.wrk.txt")"
  cat "$out/$name.dso.txt"
}

profile bare-read bare /read yes
profile ours-none ours /none yes
profile ours-read ours /read yes
profile ours-counter ours /counter yes
profile ours-counter-new ours /counter no

# This library on Redis: a dedicated redis-server, also on core 0.
redis_port=6394
taskset -c 0 redis-server --port $redis_port --bind 127.0.0.1 --save "" --appendonly no >"$out/redis.log" 2>&1 &
pids+=("$!")
for _ in $(seq 50); do redis-cli -p $redis_port ping >/dev/null 2>&1 && break; sleep 0.1; done
profile ours-redis-read ours /read yes "redis://127.0.0.1:$redis_port"
profile ours-redis-counter ours /counter yes "redis://127.0.0.1:$redis_port"
echo "profiles in $out"
