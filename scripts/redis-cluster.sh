#!/usr/bin/env bash
# Starts (or stops) a throwaway 3-master Redis Cluster on 127.0.0.1:7001-7003
# for the server-session-redis tests.
#
#   scripts/redis-cluster.sh [start]   start it (a no-op when it is already up and ok)
#   scripts/redis-cluster.sh stop      stop it and remove its files
#   scripts/redis-cluster.sh status    exit 0 when it is up and ok
#
# On success `start` prints the line to export:
#   REDIS_CLUSTER_URLS=redis://127.0.0.1:7001,redis://127.0.0.1:7002,redis://127.0.0.1:7003
# Nothing is persisted (no RDB, no AOF); the node state lives under
# ${REDIS_CLUSTER_DIR:-/tmp/server-session-redis-cluster}.
set -euo pipefail

PORTS=(7001 7002 7003)
HOST=127.0.0.1
BASE_DIR="${REDIS_CLUSTER_DIR:-/tmp/server-session-redis-cluster}"
URLS="redis://$HOST:7001,redis://$HOST:7002,redis://$HOST:7003"

cli() { redis-cli -h "$HOST" -p "$1" "${@:2}"; }

node_up() { cli "$1" ping >/dev/null 2>&1; }

cluster_ok() {
  local port
  for port in "${PORTS[@]}"; do
    node_up "$port" || return 1
    cli "$port" cluster info 2>/dev/null | grep -q '^cluster_state:ok' || return 1
    # All three must be masters of the same cluster, not three one-node clusters.
    [ "$(cli "$port" cluster info 2>/dev/null | tr -d '\r' | sed -n 's/^cluster_known_nodes://p')" = "${#PORTS[@]}" ] || return 1
  done
}

start_nodes() {
  local port dir
  for port in "${PORTS[@]}"; do
    node_up "$port" && continue
    dir="$BASE_DIR/$port"
    rm -rf "$dir"
    mkdir -p "$dir"
    redis-server --cluster-enabled yes --port "$port" --bind "$HOST" \
      --daemonize yes --save "" --appendonly no \
      --cluster-config-file "$dir/nodes.conf" --dir "$dir" \
      --pidfile "$dir/redis.pid" --logfile "$dir/redis.log"
  done
  for port in "${PORTS[@]}"; do
    for _ in $(seq 1 50); do node_up "$port" && break; sleep 0.1; done
    node_up "$port" || { echo "redis node $port did not start; see $BASE_DIR/$port/redis.log" >&2; exit 1; }
  done
}

stop_nodes() {
  local port
  for port in "${PORTS[@]}"; do
    if node_up "$port"; then
      cli "$port" shutdown nosave >/dev/null 2>&1 || true
    fi
  done
  rm -rf "$BASE_DIR"
}

start() {
  if cluster_ok; then
    echo "REDIS_CLUSTER_URLS=$URLS"
    return 0
  fi
  command -v redis-server >/dev/null && command -v redis-cli >/dev/null || {
    echo "redis-server and redis-cli are needed (apt-get install redis-server)" >&2
    exit 1
  }
  # A half-made cluster from an earlier run cannot be repaired by `create`;
  # start over from empty nodes.
  stop_nodes
  start_nodes
  local addrs=()
  for port in "${PORTS[@]}"; do addrs+=("$HOST:$port"); done
  redis-cli --cluster create "${addrs[@]}" --cluster-replicas 0 --cluster-yes >/dev/null
  for _ in $(seq 1 100); do
    if cluster_ok; then
      echo "REDIS_CLUSTER_URLS=$URLS"
      return 0
    fi
    sleep 0.1
  done
  echo "the cluster did not reach cluster_state:ok" >&2
  exit 1
}

case "${1:-start}" in
  start) start ;;
  stop) stop_nodes ;;
  status) cluster_ok ;;
  *) echo "usage: $0 [start|stop|status]" >&2; exit 2 ;;
esac
