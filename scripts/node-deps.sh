#!/usr/bin/env bash
# Installs the Node side of the interop and differential tests
# (interop/node: express-session, connect-redis, connect-pg-simple, pinned by
# package-lock.json) with `npm ci`, when node_modules is missing or older
# than package-lock.json. Safe to run again: it does nothing when the
# install is current.
#
#   scripts/node-deps.sh
#
# Needs Node 20 or later and npm; installs the distribution's `nodejs` and
# `npm` packages with apt-get when node is missing.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dir="$here/../interop/node"
log() { echo "node-deps: $*" >&2; }

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  log "installing nodejs and npm"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >&2
fi
major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$major" -lt 20 ]; then
  log "Node $(node --version) is too old: express-session's interop tests need Node 20 or later"
  exit 1
fi

# npm writes node_modules/.package-lock.json on every install.
stamp="$dir/node_modules/.package-lock.json"
if [ -f "$stamp" ] && [ ! "$dir/package-lock.json" -nt "$stamp" ] \
  && [ -f "$dir/node_modules/express-session/package.json" ]; then
  log "interop/node/node_modules is current"
  exit 0
fi

log "npm ci in interop/node (Node $(node --version), npm $(npm --version))"
(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >&2)
# `npm ci` may keep the old stamp's time when nothing changed; mark it fresh.
touch "$stamp"
log "installed"
