#!/usr/bin/env bash
# The dashboard's tests: starts `quiver serve` on a free loopback port
# with a fresh storage directory, an API key and a read-only key, runs one Node script
# against it, then stops the server with SIGTERM and requires exit 0.
#
# Usage: tests/dashboard/run.sh path/to/quiver assets|browser [SHOTS_DIR]
#   assets   every file of server/dashboard/ served with its type, ETag,
#            caching and security headers, without the key (assets.mjs);
#   browser  each page loaded in headless Chromium over the DevTools
#            protocol, checked for its text and for console errors, and
#            screenshotted into SHOTS_DIR (browser.mjs).
# Exit status: 0 passed, 77 skipped (browser: no Chromium installed),
# else failed.  Environment: NODE (default node), CHROMIUM (default
# /usr/bin/chromium), QUIVER_TEST_TIMEOUT (seconds, a safety net only).
set -euo pipefail

quiver=${1:?usage: run.sh path/to/quiver assets|browser [SHOTS_DIR]}
mode=${2:?usage: run.sh path/to/quiver assets|browser [SHOTS_DIR]}
shots=${3:-}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
node=${NODE:-node}
export CHROMIUM=${CHROMIUM:-/usr/bin/chromium}

die() { echo "run.sh: $*" >&2; exit 1; }
[ -x "$quiver" ] || die "no quiver program at $quiver"
command -v "$node" >/dev/null || die "node not found (scripts/install-deps test)"
case $mode in
assets) script=assets.mjs ;;
browser)
    script=browser.mjs
    if [ ! -x "$CHROMIUM" ]; then
        echo "run.sh: $CHROMIUM not installed (Debian package chromium): skipped" >&2
        exit 77
    fi
    [ -n "$shots" ] || die "browser needs a SHOTS_DIR"
    ;;
*) die "unknown mode $mode" ;;
esac

work=$(mktemp -d "${TMPDIR:-/tmp}/quiver-dashboard.XXXXXX")
pid=
cleanup() {
    local rc=$?
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    if [ $rc -eq 0 ]; then
        rm -rf "$work"
    else
        echo "run.sh: failed; server log and storage kept in $work" >&2
        [ -s "$work/server.log" ] && tail -n 40 "$work/server.log" >&2
    fi
}
trap cleanup EXIT

key="dashboard-test-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
ro_key="dashboard-read-only-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
limit=${QUIVER_TEST_TIMEOUT:-120}

free_port() {
    "$node" -e 'const s = require("net").createServer();
        s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

# Polls /readyz until it answers; fails at once if the server exits.
wait_ready() {
    local deadline=$((SECONDS + limit))
    until curl -fs --max-time 5 "$1/readyz" >/dev/null 2>&1; do
        kill -0 "$pid" 2>/dev/null || return 1
        [ "$SECONDS" -lt "$deadline" ] || die "server not ready after $limit s"
        sleep 0.05 # a polling interval, not a guess at the start-up time
    done
}

# The port is free when chosen but could be taken before the server binds
# it: try a few.
for attempt in 1 2 3 4 5; do
    port=$(free_port)
    url="http://127.0.0.1:$port"
    rm -rf "$work/storage"
    "$quiver" serve --host 127.0.0.1 --port "$port" --storage "$work/storage" \
        --api-key "$key" --read-only-api-key "$ro_key" >"$work/server.log" 2>&1 &
    pid=$!
    if wait_ready "$url"; then
        break
    fi
    wait "$pid" || true
    pid=
    [ "$attempt" -lt 5 ] || die "server did not start"
done

export QUIVER_URL=$url QUIVER_API_KEY=$key QUIVER_READ_ONLY_KEY=$ro_key
export QUIVER_TEST_TIMEOUT=$limit
export DASHBOARD_SRC=$root/server/dashboard DASHBOARD_FIXTURES=$here
export DASHBOARD_SHOTS=$shots DASHBOARD_WORK=$work
rc=0
"$node" --experimental-websocket --no-warnings "$here/$script" || rc=$?

kill -TERM "$pid"
src=0
wait "$pid" || src=$?
pid=
[ "$src" -eq 0 ] || die "server exited with status $src after SIGTERM"
[ "$rc" -eq 0 ] || die "$script failed"
echo "run.sh: $script passed"
