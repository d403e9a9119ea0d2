#!/usr/bin/env bash
# Named-vector management under kill -9 (server/vector_names.c): vectors
# added and deleted with PUT/DELETE /collections/{c}/vectors/{v} are there
# (or gone) after the process is killed without warning and restarted, the
# points keep their other vectors, and the store holds exactly one library
# collection per vector plus the registry (none left behind by a delete,
# none missing after an add), 8 rounds in a row.
set -euo pipefail
quiver=$1
dir=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
. "$(dirname "${BASH_SOURCE[0]}")/server_lib.sh" # port, url, limit, start, req
fail() { echo "$*" >&2; exit 1; }
crash() { kill -9 "$pid"; wait "$pid" 2>/dev/null || true; start; }
libs() { find "$dir/s/collections" -mindepth 1 -maxdepth 1 -type d -name 'c*_*' | wc -l; }
start
req PUT /collections/c '{"vectors":{"base":{"size":2,"distance":"Dot"}}}' >/dev/null
req PUT '/collections/c/points?wait=true' \
    '{"points":[{"id":1,"vector":{"base":[1,0]},"payload":{"p":1}}]}' >/dev/null
for round in $(seq 1 8); do
    v=v$round
    req PUT "/collections/c/vectors/$v?wait=true" '{"dense":{"size":3,"distance":"Euclid"}}' >/dev/null
    req PUT '/collections/c/points/vectors?wait=true' \
        "{\"points\":[{\"id\":1,\"vector\":{\"$v\":[$round,0,0]}}]}" >/dev/null
    crash
    req GET /collections/c '' | grep -q "\"$v\":{\"size\":3" || fail "round $round: $v lost"
    req GET /collections/c/points/1 '' | grep -q "\"$v\":\[$round" ||
        fail "round $round: point 1 lost its $v"
    if [ "$round" -gt 1 ]; then
        old=v$((round - 1))
        req DELETE "/collections/c/vectors/$old?wait=true" '' >/dev/null
        crash
        ! req GET /collections/c '' | grep -q "\"$old\"" || fail "round $round: $old back"
        req GET /collections/c/points/1 '' | grep -q '"base":\[' ||
            fail "round $round: point 1 lost base"
    fi
    # registry + base + the one vN alive
    [ "$(libs)" -eq 3 ] || fail "round $round: $(libs) library collections, expected 3"
done
kill -TERM "$pid"
wait "$pid"
pid=
