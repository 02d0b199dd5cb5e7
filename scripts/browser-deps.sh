#!/usr/bin/env bash
# Sets up what the browser end-to-end test (crates/server-session/tests/
# browser_demo.rs) needs, doing nothing that is already done:
# - Debian's chromium and chromium-driver (/usr/bin/chromium, /usr/bin/chromedriver).
#   Never a browser downloaded by a test tool: that fails on this network.
# - tests/browser/node_modules from package-lock.json (`npm ci`), when missing
#   or installed from another lock file.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
    sudo=""
    if [ "$(id -u)" != 0 ]; then
        sudo="sudo"
    fi
    echo "browser-deps: installing chromium and chromium-driver"
    # The package lists are only refreshed when something is installed, so a
    # set-up machine costs no network round trip.
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium chromium-driver >/dev/null
fi
/usr/bin/chromium --version 2>/dev/null || true

# npm ci is skipped when node_modules came from exactly this lock file: the
# stamp records the hash of package.json + package-lock.json it was built from.
# (mtimes are no use here: a git checkout rewrites them.)
browser_dir=tests/browser
stamp="$browser_dir/node_modules/.browser-deps-stamp"
want="$(cat "$browser_dir/package.json" "$browser_dir/package-lock.json" | sha256sum | cut -d' ' -f1)"
if [ ! -d "$browser_dir/node_modules/playwright-core" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "browser-deps: npm ci in $browser_dir"
    # playwright-core never downloads a browser; the variable makes sure no
    # postinstall step of a future dependency tries either.
    (cd "$browser_dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
    echo "$want" >"$stamp"
fi
echo "browser-deps: ready (node $(node --version), playwright-core $(node -p "require('./$browser_dir/node_modules/playwright-core/package.json').version"))"
